"""Per-host placement: new desktops spread over the cluster's hosts by the room they have left.

Each host is its own libvirt test driver, described by a node XML file (its CPUs and memory, the golden
image's domain), so the run talks to two real, separate hypervisor connections."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from vdi.models import Desktop, GpuProfile, HostCapacity
from vdi.placement import Placement
from vdi.runs import run_pool

from .conftest import at, make_pool

pytestmark = pytest.mark.django_db

NODE = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>{cores}</cores><threads>1</threads><active>{cores}</active>
       <mhz>2400</mhz><model>x86_64</model></cpu>
  <memory>{memory_kib}</memory>
  <domain type='test'><name>golden-cad</name><memory unit='MiB'>2048</memory><vcpu>1</vcpu>
    <os><type>hvm</type></os></domain>
</node>"""


@pytest.fixture
def two_hosts(vdi_world, tmp_path):
    """hv1: 16 cores, hv2: 32 cores, both 64 GiB; CPU not overcommitted."""
    for cap, cores in ((vdi_world.cap1, 16), (vdi_world.cap2, 32)):
        path = tmp_path / f"{cap.host.name}.xml"
        path.write_text(NODE.format(cores=cores, memory_kib=64 * 1024 * 1024))
        HostCapacity.objects.filter(pk=cap.pk).update(uri=f"test://{path}", cpu_cores=cores)
    vdi_world.policy.cpu_overcommit = Decimal("1")
    vdi_world.policy.save()
    return vdi_world


def test_desktops_spread_over_the_hosts_by_the_room_they_have(two_hosts):
    pool = make_pool(two_hosts, "lab", vcpus=4, memory_mb=2048, min_size=6, max_size=8)
    result = run_pool(pool, at=at(0, 3))
    assert [o.status for o in result.outcomes] == ["ok"] * 6, result.as_dict()
    # Most room first (the smaller of free CPU and memory shares), ties by name: the host twice as large
    # takes twice the desktops.
    assert [o.host for o in result.outcomes] == ["hv1", "hv2", "hv2", "hv1", "hv2", "hv2"]
    assert Counter(Desktop.objects.filter(pool=pool).values_list("host__name", flat=True)) == {"hv1": 2, "hv2": 4}


def test_a_full_host_is_skipped_and_no_room_anywhere_fails_naming_every_host(two_hosts):
    other = make_pool(two_hosts, "other", vcpus=8, memory_mb=1024, max_size=2)
    for i, host in enumerate(two_hosts.hosts[:1] * 2, start=1):  # 16 of hv1's 16 vCPUs are taken
        Desktop(name=f"other-{i:03d}", pool=other, state="ready", host=host).validated_save()
    pool = make_pool(two_hosts, "lab", vcpus=16, memory_mb=2048, min_size=3, max_size=3)
    result = run_pool(pool, at=at(0, 3))
    assert [(o.status, o.host) for o in result.outcomes[:2]] == [("ok", "hv2"), ("ok", "hv2")]
    failed = result.outcomes[2]
    assert failed.status == "failed" and failed.message == (
        "no host can take it: hv1: 0 of 16 vCPUs left, 16 needed; hv2: 0 of 32 vCPUs left, 16 needed")
    assert Desktop.objects.get(name="lab-003").state == "broken"


def test_gpu_slots_per_host_count_the_gpus_other_profiles_hold(vdi_world):
    """hv1 has two A16 GPUs of 16 GiB: 8 slots of 2 GiB each; a GPU holds one profile size only."""
    cad = make_pool(vdi_world, "cad", gpu_profile=vdi_world.profile_2q, max_size=4)
    room = Placement.of(cad)
    assert (room.hosts["hv1"].gpu_slots, room.hosts["hv2"].gpu_slots) == (16, 0)
    assert room.order(["hv1", "hv2"]) == ["hv1"] and "no GPU slot" in room.why_not("hv2")
    profile_4q = GpuProfile(name="nvidia-a16-4q", slug="nvidia-a16-4q", gpu_model="A16", frame_buffer_mb=4096)
    profile_4q.save()
    big = make_pool(vdi_world, "big", gpu_profile=profile_4q, max_size=5)
    for i in range(1, 6):  # five 4 GiB desktops: 4 fit on one GPU, the fifth takes the second
        Desktop(name=f"big-{i:03d}", pool=big, state="ready", host=vdi_world.hosts[0]).validated_save()
    room = Placement.of(cad)
    assert room.hosts["hv1"].gpu_slots == 0 and room.order(["hv1", "hv2"]) == []
    assert room.hosts["hv1"].cpu_used == 10  # five desktops of 2 vCPUs
