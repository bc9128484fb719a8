"""The VDI demo step: a CAD lab, a PC pool and thesis desktops on the demo university's VDI clusters.

The hosts of the core demo's VDI clusters get their VDI capacity (those of ``vdi-cad`` two NVIDIA A16
GPUs each), the clusters an overcommit policy; then three pools of the core demo's golden image VM
``vdi-golden01``: ``cad-lab`` on ``vdi-cad`` (pooled, a vGPU profile, sized by a course timetable of
room Z-7.01), ``pc-pool`` (pooled, weekday rules) and ``thesis`` (persistent) on ``vdi-zittau``.
Their desktops are provisioned through the real libvirt driver against libvirt's test driver
(``test:///default``, in-process: no hypervisor needed), so the desktops, their hosts and the pools'
pages look as in production.  Without libvirt-python the records are written and the desktops left
to the first reconciler run.

Declared on the app (``VdiConfig.demo_step``, stage ``extend``): it runs after the core demo and
attributes its writes to source ``demo-vdi`` (the core demo stays one ``demo`` request).
Idempotent: nothing is done when the pools exist.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

log = logging.getLogger(__name__)

TIMETABLE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//CMDB demo//Stundenplan//DE
BEGIN:VEVENT
UID:cad-1@demo
SUMMARY:Konstruktion mit CAD I
LOCATION:Z-7.01 (CAD-Labor)
DTSTART;TZID=Europe/Berlin:{monday}T100000
DTEND;TZID=Europe/Berlin:{monday}T113000
RRULE:FREQ=WEEKLY;COUNT=14
EXDATE;TZID=Europe/Berlin:{holiday}T100000
END:VEVENT
BEGIN:VEVENT
UID:cad-2@demo
SUMMARY:FEM-Simulation
LOCATION:Z-7.01 (CAD-Labor)
DTSTART;TZID=Europe/Berlin:{thursday}T140000
DTEND;TZID=Europe/Berlin:{thursday}T153000
RRULE:FREQ=WEEKLY;COUNT=14
END:VEVENT
END:VCALENDAR
"""


#: The core demo's VDI clusters (cmdb/demo/catalog.py): GPU hosts for the CAD lab, the others for the pools,
#: and its golden image VM.
CAD_CLUSTER, POOL_CLUSTER, GOLDEN_IMAGE = "vdi-cad", "vdi-zittau", "vdi-golden01"


def demo_step(seed: int) -> int:
    """Write the VDI demo and provision its desktops; returns the number of desktops provisioned."""
    from cmdb.core.context import change_logging

    from .models import Pool

    if Pool.objects.filter(name__in=["cad-lab", "pc-pool", "thesis"]).exists():
        return 0
    with change_logging(source="demo-vdi"):
        pools = _records()
        if not pools:
            return 0
        return _provision(pools)


def _records() -> list:
    from cmdb.dcim.models import Device
    from cmdb.virtualization.models import Cluster, VirtualMachine

    from .models import ClusterPolicy, GpuProfile, HostCapacity, Pool, PoolScheduleRule, TimetableSource

    clusters = {c.name: c for c in Cluster.objects.filter(name__in=[CAD_CLUSTER, POOL_CLUSTER])}
    golden = VirtualMachine.objects.filter(name=GOLDEN_IMAGE).first()
    if len(clusters) < 2 or golden is None:
        log.warning("VDI demo: the core demo's VDI clusters or golden image are missing; nothing written")
        return []
    for name, gpu in ((CAD_CLUSTER, {"gpu_model": "A16", "gpu_count": 2, "gpu_frame_buffer_mb": 16384}),
                      (POOL_CLUSTER, {})):
        # Every host gets its capacity; the first is reached through libvirt's in-process test driver, so the
        # demo provisions real (test) domains without a hypervisor.
        for index, host in enumerate(Device.objects.filter(cluster=clusters[name]).order_by("name")):
            HostCapacity(host=host, cpu_cores=32, memory_mb=262144, uri="test:///default" if index == 0 else "",
                         **gpu).validated_save()
        ClusterPolicy(cluster=clusters[name], cpu_overcommit=4, memory_overcommit=1).validated_save()
    profile = GpuProfile.objects.filter(slug="nvidia-a16-2q").first()
    if profile is None:
        profile = GpuProfile(name="nvidia-a16-2q", slug="nvidia-a16-2q", gpu_model="A16", frame_buffer_mb=2048)
        profile.validated_save()
    cad_cluster, pool_cluster = clusters[CAD_CLUSTER], clusters[POOL_CLUSTER]
    cad = Pool(name="cad-lab", pool_type="pooled", vcpus=4, memory_mb=8192, disk_gb=80, gpu_profile=profile,
               min_size=2, max_size=16, spare=1, entitled_groups=["cad-students"],
               description="CAD lab Z-7.01: grows before each lecture", golden_image_id=golden.ci_id,
               cluster=cad_cluster, tenant=cad_cluster.tenant)
    common = {"golden_image_id": golden.ci_id, "cluster": pool_cluster, "tenant": pool_cluster.tenant}
    pc = Pool(name="pc-pool", pool_type="pooled", vcpus=2, memory_mb=4096, min_size=4, max_size=40, spare=2,
              entitled_groups=["students"], description="Library and PC pool workstations", **common)
    thesis = Pool(name="thesis", pool_type="persistent", vcpus=4, memory_mb=8192, min_size=0, max_size=10, spare=2,
                  entitled_groups=["thesis-students"], description="Dedicated desktops until the end of the semester",
                  **common)
    for pool in (cad, pc, thesis):
        pool.validated_save()
    for weekday in range(5):
        PoolScheduleRule(pool=pc, weekday=weekday, start=dt.time(8), end=dt.time(18), size=20).validated_save()
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    TimetableSource(pool=cad, name="Stundenplan Z-7.01", room_filter="Z-7.01", lead_minutes=20, size=14,
                    content=TIMETABLE.format(monday=monday.strftime("%Y%m%d"),
                                             holiday=(monday + dt.timedelta(weeks=3)).strftime("%Y%m%d"),
                                             thursday=(monday + dt.timedelta(days=3)).strftime("%Y%m%d"))
                    ).validated_save()
    return [cad, pc, thesis]


def _provision(pools: list) -> int:
    from .drivers.libvirt import DriverError
    from .runs import run_pool

    done = 0
    for pool in pools:
        try:
            result = run_pool(pool)
        except (ImportError, DriverError) as exc:  # no libvirt-python here: the records are the demo
            log.warning("VDI demo: desktops of %s not provisioned: %s", pool.name, exc)
            continue
        done += sum(1 for outcome in result.outcomes if outcome.status == "ok")
    return done
