"""A small VDI world: a cluster of two hosts (one with NVIDIA A16 GPUs), a golden image VM with CAD software."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from cmdb.virtualization.models import Cluster, ClusterType, VirtualMachine
from tests import factories


@pytest.fixture
def vdi_world(db: Any) -> SimpleNamespace:
    from vdi.models import ClusterPolicy, GpuProfile, HostCapacity

    w = SimpleNamespace()
    w.tenant = factories.tenant("Faculty M")
    ctype = ClusterType(name="libvirt", slug="libvirt")
    ctype.save()
    w.cluster = Cluster(name="vdi-zittau", type=ctype, tenant=w.tenant)
    w.cluster.save()
    w.hosts = []
    for i in (1, 2):
        host = factories.device(f"hv{i}", cluster=w.cluster, tenant=w.tenant)
        w.hosts.append(host)
    # 2 hosts x 16 cores x 4 = 128 vCPUs, 2 x 64 GiB; hv1 has 2 A16 GPUs of 16 GiB each.
    w.cap1 = HostCapacity(host=w.hosts[0], cpu_cores=16, memory_mb=65536, gpu_model="A16", gpu_count=2,
                          gpu_frame_buffer_mb=16384, uri="test:///default")
    w.cap1.validated_save()
    w.cap2 = HostCapacity(host=w.hosts[1], cpu_cores=16, memory_mb=65536, uri="")
    w.cap2.validated_save()
    w.policy = ClusterPolicy(cluster=w.cluster, cpu_overcommit=4, memory_overcommit=1)
    w.policy.validated_save()
    w.profile_2q = GpuProfile(name="nvidia-a16-2q", slug="nvidia-a16-2q", gpu_model="A16", frame_buffer_mb=2048)
    w.profile_2q.save()
    w.profile_v100 = GpuProfile(name="grid-v100-4q", slug="grid-v100-4q", gpu_model="V100", frame_buffer_mb=4096)
    w.profile_v100.save()
    w.golden = VirtualMachine(name="golden-cad", cluster=w.cluster, tenant=w.tenant, vcpus=2, memory=4096)
    w.golden.save()
    return w


def make_pool(w: SimpleNamespace, name: str = "cad", **extra: Any) -> Any:
    from vdi.models import Pool

    fields = {"name": name, "golden_image_id": w.golden.ci_id, "cluster": w.cluster, "tenant": w.tenant,
              "vcpus": 2, "memory_mb": 4096, "min_size": 0, "max_size": 10, "spare": 0, **extra}
    pool = Pool(**fields)
    pool.validated_save()
    return pool


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in the week of Monday 2026-01-12 (day 0 = Monday), in the CMDB's time zone."""
    from django.utils import timezone

    return timezone.make_aware(dt.datetime(2026, 1, 12, hour, minute) + dt.timedelta(days=day))
