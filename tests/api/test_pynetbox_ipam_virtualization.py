"""pynetbox against a live server: ipam and virtualization endpoints, and what nb_inventory reads from them."""

from __future__ import annotations

import pytest
from pynetbox.core.query import RequestError

from cmdb.dcim.models import Interface
from cmdb.ipam.models import IPAddress
from tests import factories as f

from .pynb import crud_cycle, record_traffic

pytestmark = pytest.mark.live


def test_every_ipam_endpoint_through_pynetbox(nb):
    w = f.world()
    crud_cycle(nb.ipam.prefixes, create={"prefix": "10.10.0.0/16", "site": w.zittau.pk, "status": "container"},
               create_nested={"prefix": "10.20.0.0/24", "site": {"slug": "goerlitz"}, "tenant": {"slug": "informatik"}},
               bulk=[{"prefix": f"192.168.{i}.0/24", "vlan_vid": 100 + i} for i in range(3)],
               change=("is_pool", True), bulk_change=("status", "reserved"), lookup="prefix",
               filters={"family": 4, "site": ["zittau", "goerlitz"]}, expect_filtered=2)
    eth1 = Interface.objects.get(device=w.devices["web01"], name="eth1").pk
    vif = w.vms["vm-a"].interfaces.get().pk
    crud_cycle(nb.ipam.ip_addresses,
               create={"address": "172.16.0.1/24", "assigned_object_type": "dcim.interface",
                       "assigned_object_id": eth1, "dns_name": "a.example.org"},
               create_nested={"address": "172.16.0.2/24", "tenant": {"slug": "mathematik"}, "role": "vip"},
               bulk=[{"address": f"172.16.1.{i}/24", "assigned_object_type": "virtualization.vminterface",
                      "assigned_object_id": vif} for i in range(1, 4)],
               change=("dns_name", "b.example.org"), bulk_change=("status", "deprecated"), lookup="address",
               filters={"virtual_machine_id": w.vms["vm-a"].pk, "family": 4, "role__empty": True}, expect_filtered=4)
    # Unmodelled endpoints read as empty lists through pynetbox too.
    for ep in (nb.ipam.services, nb.ipam.vrfs, nb.dcim.regions, nb.dcim.site_groups, nb.dcim.rack_roles):
        assert list(ep.all()) == [] and ep.count() == 0


def test_ip_assignment_and_primary_ip_as_the_inventory_reads_them(nb):
    w = f.world()
    web02 = nb.dcim.devices.get(name="web02")
    eth0 = nb.dcim.interfaces.get(device_id=web02.id, name="eth0")
    ip = nb.ipam.ip_addresses.create(address="10.1.0.12/24", assigned_object_type="dcim.interface",
                                     assigned_object_id=eth0.id)
    assert ip.assigned_object.name == "eth0" and ip.assigned_object.device.name == "web02"
    assert ip.family.value == 4
    web02.primary_ip4 = ip.id
    assert web02.save()
    fresh = nb.dcim.devices.get(web02.id)
    assert fresh.primary_ip4.address == "10.1.0.12/24" and fresh.primary_ip4.id == ip.id
    assert nb.dcim.interfaces.get(eth0.id).count_ipaddresses == 1

    # Move the address to a VM interface, then unassign it.
    vm_b = nb.virtualization.virtual_machines.get(name="vm-b")
    vif = nb.virtualization.interfaces.create(virtual_machine=vm_b.id, name="ens18")
    ip.assigned_object_type = "virtualization.vminterface"
    ip.assigned_object_id = vif.id
    assert ip.save()
    stored = IPAddress.objects.get(pk=ip.id)
    assert stored.vminterface_id == vif.id and stored.interface_id is None
    assert ip.update({"assigned_object_type": None, "assigned_object_id": None})
    assert IPAddress.objects.get(pk=ip.id).vminterface_id is None

    # What the inventory lists: assigned addresses only, with their interfaces.
    traffic = record_traffic(nb)
    assigned = list(nb.ipam.ip_addresses.filter(assigned_to_interface=True))
    assert traffic.of("GET")[0].params["assigned_to_interface"] == ["True"]
    assert {a.address for a in assigned} == {"10.1.0.11/24", "2001:db8::11/64", "10.2.0.5/24"}
    by_type = {a.address: (a.assigned_object_type, a.assigned_object_id) for a in assigned}
    assert by_type["10.2.0.5/24"] == ("virtualization.vminterface", w.vms["vm-a"].interfaces.get().pk)
    hosts = list(nb.dcim.devices.filter(exclude="config_context"))
    web01 = next(h for h in hosts if h.name == "web01")
    assert web01.primary_ip4.address == "10.1.0.11/24" and web01.primary_ip6.address == "2001:db8::11/64"
    with pytest.raises(RequestError) as err:
        nb.ipam.ip_addresses.create(address="300.1.1.1/24")
    assert err.value.req.status_code == 400 and "address" in err.value.error


def test_every_virtualization_endpoint_through_pynetbox(nb):
    w = f.world()
    crud_cycle(nb.virtualization.cluster_types, create={"name": "VMware", "slug": "vmware"},
               create_nested={"name": "KubeVirt", "slug": "kubevirt", "description": "k8s"},
               bulk=[{"name": f"CT{i}", "slug": f"ct{i}"} for i in range(3)],
               change=("description", "vSphere"), bulk_change=("description", "bulk"),
               filters={"slug__n": "proxmox-ve", "name__ic": "ct"}, expect_filtered=3)
    crud_cycle(nb.virtualization.cluster_groups, create={"name": "VDI", "slug": "vdi"}, create_nested=None,
               bulk=[{"name": f"CG{i}", "slug": f"cg{i}"} for i in range(3)],
               change=("description", "desktops"), bulk_change=("description", "bulk"),
               filters={"q": "cg"}, expect_filtered=3)
    ptype = w.cluster.type_id
    crud_cycle(nb.virtualization.clusters, create={"name": "pve-goerlitz", "type": ptype, "site": w.goerlitz.pk},
               create_nested={"name": "k8s-1", "type": {"slug": "proxmox-ve"}, "group": {"slug": "production"}},
               bulk=[{"name": f"c{i}", "type": ptype, "status": "planned"} for i in range(3)],
               change=("status", "maintenance"), bulk_change=("status", "active"),
               filters={"type": "proxmox-ve", "status": "planned"}, expect_filtered=3)
    crud_cycle(nb.virtualization.virtual_machines,
               create={"name": "vm-new", "cluster": w.cluster.pk, "vcpus": 2, "memory": 2048, "disk": 20,
                       "role": w.server.pk, "local_context_data": {"a": [1, 2]}},
               create_nested={"name": "vm-nested", "cluster": {"name": "pve-zittau"}, "platform": {"slug": "debian"}},
               bulk=[{"name": f"vm-bulk-{i}", "site": w.goerlitz.pk, "memory": 1024 * i} for i in range(1, 4)],
               change=("memory", 4096), bulk_change=("status", "retired"),
               filters={"site": "goerlitz", "memory__gte": 2048}, expect_filtered=2)
    vm_a = w.vms["vm-a"].pk
    crud_cycle(nb.virtualization.interfaces, create={"name": "ens19", "virtual_machine": vm_a, "mtu": 1450},
               create_nested={"name": "ens20", "virtual_machine": {"name": "vm-b"}},
               bulk=[{"name": f"net{i}", "virtual_machine": vm_a, "enabled": False} for i in range(3)],
               change=("mac_address", "52:54:00:12:34:56"), bulk_change=("description", "bulk"),
               filters={"virtual_machine_id": vm_a, "enabled": False}, expect_filtered=3)
    vm = nb.virtualization.virtual_machines.get(name="vm-a")
    assert vm.site.slug == "zittau" and vm.cluster.site.slug == "zittau"
    assert float(vm.vcpus) == 2 and vm.memory == 4096 and vm.disk == 40
    assert vm.config_context == {} and vm.primary_ip4 is None
    with pytest.raises(RequestError) as err:
        nb.virtualization.virtual_machines.create(name="homeless")
    assert err.value.req.status_code == 400
