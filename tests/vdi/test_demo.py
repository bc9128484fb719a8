"""The VDI demo step on a small world: the demo's two VDI clusters and golden image VM, the pools written,
desktops provisioned through the real libvirt driver against the test driver (no hypervisor), and
idempotent."""

from __future__ import annotations

import libvirt
import pytest

from cmdb.core.models import ObjectChange
from cmdb.virtualization.models import Cluster, ClusterType
from tests import factories
from vdi.demo import demo_step
from vdi.models import Desktop, HostCapacity, Lecture, Pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_driver():
    conn = libvirt.open("test:///default")
    yield conn
    for dom in conn.listAllDomains():
        if dom.name().startswith(("cad-lab-", "pc-pool-", "thesis-")):
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    conn.close()


def test_the_demo_step_writes_three_pools_and_provisions_their_desktops(test_driver):
    ctype = ClusterType(name="KVM", slug="kvm")
    ctype.save()
    cad, pools = Cluster(name="vdi-cad", type=ctype), Cluster(name="vdi-zittau", type=ctype)
    cad.save()
    pools.save()
    for i in (1, 2):
        factories.device(f"gpu{i}", cluster=cad)
    for i in (1, 2, 3):
        factories.device(f"kvm{i}", cluster=pools)
    factories.vm("vdi-golden01", cluster=pools)
    provisioned = demo_step(1)
    assert dict(Pool.objects.values_list("name", "cluster__name")) == {
        "cad-lab": "vdi-cad", "pc-pool": "vdi-zittau", "thesis": "vdi-zittau"}
    assert HostCapacity.objects.count() == 5 and HostCapacity.objects.filter(gpu_count=2).count() == 2
    assert sorted(HostCapacity.objects.filter(uri="test:///default").values_list("host__name", flat=True)) == [
        "gpu1", "kvm1"]
    assert Lecture.objects.filter(source__pool__name="cad-lab").count() == 3  # the EXDATE splits one series
    desktops = Desktop.objects.filter(state="ready")
    assert provisioned == desktops.count() >= 3 + 2  # cad-lab min 2 + spare 1 at least; thesis 2 spare
    assert set(desktops.filter(pool__name="cad-lab").values_list("host__name", flat=True)) == {"gpu1"}
    assert set(desktops.exclude(pool__name="cad-lab").values_list("host__name", flat=True)) == {"kvm1"}
    assert {d.name() for d in test_driver.listAllDomains()} >= set(desktops.values_list("name", flat=True))
    assert ObjectChange.objects.filter(source="demo-vdi").exists()
    assert not ObjectChange.objects.filter(source="demo").exists()  # the core demo's one request stays one
    assert demo_step(1) == 0  # idempotent


def test_without_the_demo_vdi_clusters_the_step_writes_nothing():
    assert demo_step(1) == 0 and not Pool.objects.exists()
