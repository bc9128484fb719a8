"""pynetbox, unmodified, against a live server: transport, pagination, lazy records and every dcim endpoint."""

from __future__ import annotations

import json

import pytest
from pynetbox.core.query import ParameterValidationError, RequestError
from pynetbox.core.response import Record

import cmdb
from cmdb.dcim.models import Device, Interface
from tests import factories as f

from .pynb import crud_cycle, record_traffic

pytestmark = pytest.mark.live


def test_transport_version_status_openapi_and_strict_filters(nb, make_nb, superuser, make_token):
    assert nb.version == cmdb.API_VERSION
    status = nb.status()
    assert status["netbox-version"] == cmdb.NETBOX_COMPAT_VERSION
    assert {"django-version", "python-version", "installed_apps", "plugins", "rq-workers-running"} <= set(status)
    spec = nb.openapi()
    assert spec["info"]["version"]
    assert "/api/dcim/devices/" in spec["paths"]

    # strict_filters makes pynetbox check filter names against our OpenAPI schema before sending.
    f.site("Zittau")
    f.tag("Blue")
    server = f.role("Server")
    strict = make_nb(make_token(superuser), strict_filters=True)
    assert [s.slug for s in strict.dcim.sites.filter(name__ic="zitt", status="active", tag__n="blue")] == [
        "zittau"]
    assert list(strict.dcim.devices.filter(site="zittau", role_id=[server.pk], q="x", name__isw="w")) == []
    with pytest.raises(ParameterValidationError):
        list(strict.dcim.devices.filter(no_such_filter="x"))

    # A read-only token reads but cannot write; a bad token is refused.
    reader = make_nb(make_token(superuser, write=False))
    assert reader.dcim.sites.count() == 1
    with pytest.raises(RequestError) as err:
        reader.dcim.sites.create(name="Nope", slug="nope")
    assert err.value.req.status_code == 403
    with pytest.raises(RequestError) as err:
        make_nb("wrong").dcim.sites.count()
    assert err.value.req.status_code in (401, 403)


def test_an_unknown_filter_raises_instead_of_returning_everything(nb):
    """Issue 14: ``filter(bogus=1)`` returned every device, so "delete what the filter returns" deleted all."""
    zittau, dell = f.site("Zittau"), f.manufacturer("Dell")
    dtype, server = f.device_type("R650", maker=dell), f.role("Server")
    for name in ("web01", "web02", "db01"):
        f.device(name, at=zittau, dtype=dtype, as_role=server)
    with pytest.raises(RequestError) as err:
        for device in nb.dcim.devices.filter(bogus=1):
            device.delete()
    assert err.value.req.status_code == 400
    assert "bogus" in err.value.req.json()
    with pytest.raises(RequestError) as err:
        list(nb.dcim.devices.filter(name="web01", ordering="nonsense"))
    assert "ordering" in err.value.req.json()
    assert Device.objects.count() == 3
    # Spelt right, it filters; NetBox's IPAM and primary-IP filters are known to pynetbox's calls too.
    assert [d.name for d in nb.dcim.devices.filter(name__isw="web", has_primary_ip=False)] == ["web01", "web02"]
    assert list(nb.ipam.prefixes.filter(within="10.0.0.0/8")) == []


def test_all_and_filter_follow_pagination(nb, make_nb, settings, superuser, make_token):
    settings.MAX_PAGE_SIZE = 25  # limit=0 then yields 25 per page: pynetbox must follow next
    zittau, goerlitz = f.site("Zittau"), f.site("Goerlitz")
    dtype = f.device_type("R650", maker=f.manufacturer("Dell"))
    server = f.role("Server")
    created = nb.dcim.devices.create([
        {"name": f"node{i:03d}", "site": (zittau if i % 3 else goerlitz).pk, "device_type": dtype.pk,
         "role": server.pk, "status": "active" if i % 2 else "planned"}
        for i in range(60)
    ])
    assert len(created) == 60
    traffic = record_traffic(nb)

    everything = list(nb.dcim.devices.all())
    assert sorted(d.name for d in everything) == [f"node{i:03d}" for i in range(60)]
    assert len({d.id for d in everything}) == 60
    gets = traffic.of("GET")
    assert gets[0].params["limit"] == ["0"]
    assert len(gets) == 3 and all(e.status == 200 for e in gets)
    assert gets[1].params["offset"] == ["25"] and gets[2].params["offset"] == ["50"]

    traffic.clear()
    zittau_active = list(nb.dcim.devices.filter(site="zittau", status="active"))
    expected = sorted(f"node{i:03d}" for i in range(60) if i % 3 and i % 2)
    assert sorted(d.name for d in zittau_active) == expected
    assert all(e.params.get("site") == ["zittau"] and e.params.get("status") == ["active"]
               for e in traffic.of("GET")), "every page keeps the filters"
    assert nb.dcim.devices.count(site="zittau", status="active") == len(expected)
    count_call = traffic.of("GET")[-1]
    assert count_call.params["limit"] == ["1"] and count_call.params["brief"] == ["1"]

    # An explicit page size, a single page by offset, several values for one filter (OR).
    assert len(list(nb.dcim.devices.all(limit=7))) == 60
    page = list(nb.dcim.devices.filter(limit=10, offset=20))
    assert [d.name for d in page] == [f"node{i:03d}" for i in range(20, 30)]
    assert len(list(nb.dcim.devices.filter(name=["node001", "node002", "nope"]))) == 2
    assert len(list(nb.dcim.devices.filter("node05"))) == 10  # free-text q

    # Threaded fetching computes page offsets from count and fetches them in parallel.
    threaded = make_nb(make_token(superuser), threading=True)
    assert len({d.id for d in threaded.dcim.devices.all()}) == 60
    assert len(list(threaded.dcim.devices.filter(site="goerlitz"))) == 20
    # Cursor pagination is requested but we announce 4.4, so pynetbox falls back to offsets.
    cursor = make_nb(make_token(superuser), pagination="cursor")
    assert len(list(cursor.dcim.devices.all())) == 60

    nb.dcim.devices.delete(created)
    assert nb.dcim.devices.count() == 0


def test_nested_records_are_lazy_and_resolvable(nb):
    w = f.world()
    traffic = record_traffic(nb)
    dev = nb.dcim.devices.get(name="web01")
    assert dev.site.slug == "zittau" and dev.role.slug == "server"
    assert dev.primary_ip4.address == "10.1.0.11/24" and dev.primary_ip6.address == "2001:db8::11/64"
    assert dev.status.value == "active" and dev.face.value == "front"
    assert sorted(t.slug for t in dev.tags) == ["blue", "red"]
    assert dev.config_context == {} and dev.local_context_data is None
    assert dev.custom_fields == {}
    assert dev.site.url.endswith(f"/api/dcim/sites/{w.zittau.pk}/")
    assert dev.site.endpoint.name == "sites" and dev.rack.endpoint.name == "racks"
    traffic.clear()
    # Attributes missing from the brief form are fetched from the nested URL.
    assert dev.site.time_zone == "Europe/Berlin"
    assert dev.site.tenant.slug == "informatik"
    assert [e.path for e in traffic.of("GET")] == [f"/api/dcim/sites/{w.zittau.pk}/"]
    assert dev.device_type.manufacturer.name == "Dell"
    assert dev.rack.u_height == 42
    assert dev.site.full_details() is True
    ip = dev.primary_ip4
    ip.full_details()
    assert ip.assigned_object_type == "dcim.interface" and ip.assigned_object.name == "eth0"
    assert ip.assigned_object.device.name == "web01"
    # A record turns back into a writable dict with integer references.
    serialized = dev.serialize()
    assert serialized["site"] == w.zittau.pk and serialized["primary_ip4"] == w.ips["web01"].pk
    assert serialized["status"] == "active"

    iface = nb.dcim.interfaces.get(device_id=w.devices["web01"].pk, name="eth0")
    assert iface.count_ipaddresses == 2 and iface.device.name == "web01"
    assert iface.device.full_details() and iface.device.serial == "SN-WEB01"
    assert {i.address for i in nb.ipam.ip_addresses.filter(interface_id=iface.id)} == {
        "10.1.0.11/24", "2001:db8::11/64"}
    vm = nb.virtualization.virtual_machines.get(name="vm-a")
    assert vm.cluster.type.slug == "proxmox-ve"  # two levels of lazy loading
    assert vm.cluster.group.name == "Production"


def test_save_patches_only_changed_fields(nb):
    w = f.world()
    traffic = record_traffic(nb)
    dev = nb.dcim.devices.get(name="web02")
    # Someone else changes another field meanwhile: a PATCH of only our field must not undo it.
    Device.objects.filter(pk=dev.id).update(description="changed elsewhere")
    dev.serial = "NEW-123"
    dev.status = "maintenance"
    assert dev.save() is True
    patch = traffic.of("PATCH")[-1]
    assert patch.path == f"/api/dcim/devices/{dev.id}/" and patch.status == 200
    assert patch.body == {"serial": "NEW-123", "status": "maintenance"}
    stored = Device.objects.get(pk=dev.id)
    assert (stored.serial, stored.status, stored.description) == ("NEW-123", "maintenance", "changed elsewhere")
    assert dev.status.value == "maintenance"  # the record took the server's answer

    # Related objects by id, tags by id, custom fields; update() is setattr + save.
    assert dev.update({"site": w.goerlitz.pk, "tags": [w.tags["blue"].pk], "tenant": None}) is True
    assert traffic.of("PATCH")[-1].body == {"site": w.goerlitz.pk, "tags": [w.tags["blue"].pk], "tenant": None}
    again = nb.dcim.devices.get(dev.id)
    assert again.site.slug == "goerlitz" and [t.slug for t in again.tags] == ["blue"] and again.tenant is None
    # Assigning a fetched record to a foreign key works too.
    again.site = nb.dcim.sites.get(slug="zittau")
    assert again.save()
    assert Device.objects.get(pk=dev.id).site_id == w.zittau.pk

    # A refused change raises with the server's field errors.
    again.name = "web01"
    again.tenant = w.tenant_a.pk
    with pytest.raises(RequestError) as err:
        again.save()
    assert err.value.req.status_code == 400 and "name" in err.value.error


def test_choices_and_errors_through_pynetbox(nb):
    f.world()
    choices = nb.dcim.devices.choices()
    assert {"value": "active", "display_name": "Active"} in choices["status"]
    assert {c["value"] for c in choices["face"]} == {"front", "rear"}
    assert {"value": "1000base-t", "display_name": "1000BASE-T (1GE)"} in nb.dcim.interfaces.choices()["type"]
    assert "role" in nb.ipam.ip_addresses.choices()
    with pytest.raises(RequestError) as err:
        list(nb.dcim.devices.filter(site="atlantis"))
    assert err.value.req.status_code == 400 and "site" in err.value.error
    with pytest.raises(ValueError, match="more than one"):
        nb.dcim.devices.get(site="zittau")
    with pytest.raises(RequestError) as err:
        nb.dcim.devices.create(name="x", site=1)
    assert err.value.req.status_code == 400
    assert {"device_type", "role"} <= set(json.loads(err.value.error))
    with pytest.raises(RequestError) as err:
        nb.dcim.sites.get(slug="goerlitz").delete()
    assert err.value.req.status_code == 409


def test_every_dcim_endpoint_through_pynetbox(nb):
    w = f.world()
    dell, hpe = w.dell.pk, f.manufacturer("HPE").pk
    crud_cycle(nb.dcim.manufacturers, create={"name": "Lenovo", "slug": "lenovo"},
               create_nested={"name": "Cisco", "slug": "cisco", "description": "net"},
               bulk=[{"name": f"M{i}", "slug": f"m{i}"} for i in range(3)],
               change=("description", "servers"), bulk_change=("description", "bulk"),
               filters={"slug": ["lenovo", "cisco"]}, expect_filtered=2)
    crud_cycle(nb.dcim.device_roles, create={"name": "Storage", "slug": "storage", "color": "ff0000"},
               create_nested=None, bulk=[{"name": f"R{i}", "slug": f"r{i}"} for i in range(3)],
               change=("vm_role", False), bulk_change=("color", "00ff00"),
               filters={"vm_role": True, "name__isw": "r"}, expect_filtered=3)
    crud_cycle(nb.dcim.platforms, create={"name": "Ubuntu", "slug": "ubuntu", "manufacturer": dell},
               create_nested={"name": "IOS", "slug": "ios", "manufacturer": {"slug": "hpe"}},
               bulk=[{"name": f"P{i}", "slug": f"p{i}"} for i in range(2)],
               change=("manufacturer", hpe), bulk_change=("description", "os"),
               filters={"manufacturer": "hpe"}, expect_filtered=1)
    crud_cycle(nb.dcim.sites, create={"name": "Bautzen", "slug": "bautzen", "status": "planned",
                                      "tenant": w.tenant_a.pk, "time_zone": "Europe/Berlin"},
               create_nested={"name": "Loebau", "slug": "loebau", "tenant": {"slug": "mathematik"}},
               bulk=[{"name": f"Campus {i}", "slug": f"campus-{i}", "facility": f"F{i}"} for i in range(3)],
               change=("status", "active"), bulk_change=("status", "retired"),
               filters={"tenant": ["informatik", "mathematik"]}, expect_filtered=3)
    crud_cycle(nb.dcim.locations, create={"name": "Haus A", "slug": "haus-a", "site": w.zittau.pk},
               create_nested={"name": "Haus B", "slug": "haus-b", "site": {"slug": "goerlitz"}},
               bulk=[{"name": f"Raum {i}", "slug": f"raum-{i}", "site": w.zittau.pk} for i in range(3)],
               change=("facility", "A-1"), bulk_change=("status", "planned"),
               filters={"site_id": w.zittau.pk}, expect_filtered=4)
    crud_cycle(nb.dcim.racks, create={"name": "R9", "site": w.zittau.pk, "u_height": 47},
               create_nested={"name": "R10", "site": {"slug": "goerlitz"}},
               bulk=[{"name": f"B{i}", "site": w.goerlitz.pk} for i in range(3)],
               change=("u_height", 48), bulk_change=("serial", "RACK"),
               filters={"site": "goerlitz", "u_height__gte": 42}, expect_filtered=4)
    crud_cycle(nb.dcim.device_types, create={"model": "R750", "slug": "r750", "manufacturer": dell, "u_height": 2},
               create_nested={"model": "DL380", "slug": "dl380", "manufacturer": {"name": "HPE"}},
               bulk=[{"model": f"T{i}", "slug": f"t{i}", "manufacturer": hpe} for i in range(3)],
               change=("part_number", "PN-1"), bulk_change=("is_full_depth", False),
               lookup="model", filters={"manufacturer": "hpe"}, expect_filtered=4)
    crud_cycle(nb.dcim.interface_templates, create={"name": "mgmt", "device_type": w.r650.pk, "mgmt_only": True},
               create_nested={"name": "idrac", "device_type": {"slug": "poweredge-r650"}},
               bulk=[{"name": f"eth{i}", "device_type": w.r650.pk} for i in range(2, 5)],
               change=("type", "10gbase-t"), bulk_change=("mgmt_only", True),
               filters={"device_type_id": w.r650.pk, "mgmt_only": True}, expect_filtered=1)
    crud_cycle(nb.dcim.devices,
               create={"name": "app01", "device_type": w.r650.pk, "role": w.server.pk, "site": w.zittau.pk,
                       "serial": "APP-1", "rack": w.rack1.pk, "position": 20, "face": "rear",
                       "local_context_data": {"x": 1}},
               create_nested={"name": "app02", "device_type": {"slug": "poweredge-r650"}, "role": {"slug": "switch"},
                              "site": {"slug": "goerlitz"}, "platform": {"slug": "debian"}},
               bulk=[{"name": f"app1{i}", "device_type": w.r650.pk, "role": w.server.pk, "site": w.goerlitz.pk}
                     for i in range(3)],
               change=("asset_tag", "INV-9"), bulk_change=("status", "maintenance"),
               filters={"site": "goerlitz", "name__isw": "app", "role": "server"}, expect_filtered=3)
    web02 = w.devices["web02"].pk
    crud_cycle(nb.dcim.interfaces, create={"name": "bond0", "device": web02, "type": "lag", "mtu": 9000},
               create_nested={"name": "eth9", "device": {"name": "web02"}, "mac_address": "00:1a:2b:3c:4d:5e"},
               bulk=[{"name": f"ens{i}", "device": web02, "enabled": False} for i in range(3)],
               change=("description", "uplink"), bulk_change=("mtu", 1500),
               filters={"device_id": web02, "enabled": False}, expect_filtered=3)
    # Interfaces came with the devices created from the R650 type (eth0, eth1 and whatever we added).
    assert Interface.objects.filter(device__name="web01").count() == 2
    assert isinstance(nb.dcim.devices.get(name="web01").site, Record)
