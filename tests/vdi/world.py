"""One object of every VDI model on top of the API test world (tests/factories.py), for page tests."""

from __future__ import annotations

from typing import Any


def add_vdi(world: Any) -> None:
    from cmdb.software.models import License, SoftwareProduct
    from vdi.models import (
        ClusterPolicy,
        Desktop,
        GpuProfile,
        HostCapacity,
        LicencePolicy,
        Pool,
        PoolScheduleRule,
        TimetableSource,
    )

    host = world.devices["web01"]
    host.cluster = world.cluster
    host.save()
    HostCapacity(host=host, cpu_cores=32, memory_mb=262144, gpu_model="A16", gpu_count=2,
                 gpu_frame_buffer_mb=16384, uri="test:///default").validated_save()
    ClusterPolicy(cluster=world.cluster, cpu_overcommit=4).validated_save()
    profile = GpuProfile(name="nvidia-a16-2q", slug="nvidia-a16-2q", gpu_model="A16", frame_buffer_mb=2048)
    profile.validated_save()
    pool = Pool(name="cad-lab", golden_image_id=world.vms["vm-a"].ci_id, cluster=world.cluster, gpu_profile=profile,
                min_size=1, max_size=8, spare=1, entitled_groups=["cad"])
    pool.validated_save()
    PoolScheduleRule(pool=pool, weekday=0, start="08:00", end="12:00", size=8).validated_save()
    TimetableSource(pool=pool, name="Z7", size=8, content=(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nLOCATION:Z-7.01\nDTSTART:20260112T090000Z\n"
        "DTEND:20260112T103000Z\nRRULE:FREQ=WEEKLY;COUNT=12\nEND:VEVENT\nEND:VCALENDAR\n")).validated_save()
    Desktop(name="cad-lab-001", pool=pool, state="ready", host=host).validated_save()
    product = SoftwareProduct.objects.filter(name="VDI CAD").first() or SoftwareProduct.objects.create(
        vendor="ACME", name="VDI CAD", slug="vdi-cad")
    licence = License(name="VDI CAD campus", product=product, quantity=50)
    licence.save()
    LicencePolicy(license=licence, on_exceed="warn").validated_save()
