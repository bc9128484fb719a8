"""Writes: single and bulk, all-or-nothing, status codes, validation errors, conflicts, permissions."""

from __future__ import annotations

import pytest

from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device, Interface, Site
from cmdb.extras.models import CustomField
from cmdb.ipam.models import IPAddress
from cmdb.tenancy.models import Tenant
from tests import factories as f

from .helpers import assert_nested, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db):
    return f.world()


def device_payload(w, name: str, **extra):
    return {"name": name, "device_type": w.r650.pk, "role": w.server.pk, "site": w.zittau.pk, **extra}


# --- create ----------------------------------------------------------------------------------


def test_create_returns_201_and_the_full_representation(api, w):
    body = ok(api.post("/api/dcim/devices/", device_payload(w, "app01", serial="X1", status="planned",
                                                            tags=[w.tags["red"].pk]), format="json"), 201)
    assert body["name"] == "app01" and body["serial"] == "X1"
    assert body["status"] == {"value": "planned", "label": "Planned"}
    assert_nested(body["site"], "dcim/sites", w.zittau.pk, slug="zittau")
    assert [t["slug"] for t in body["tags"]] == ["red"]
    assert body["url"] == f"http://testserver/api/dcim/devices/{body['id']}/"
    assert ok(api.get(body["url"])) == body
    # The interface templates of the device type became interfaces.
    assert sorted(Interface.objects.filter(device_id=body["id"]).values_list("name", flat=True)) == ["eth0", "eth1"]
    assert ok(api.get(f"/api/dcim/interfaces/?device_id={body['id']}"))["count"] == 2


def test_create_with_related_objects_as_attribute_dicts(api, w):
    body = ok(api.post("/api/dcim/devices/", {
        "name": "app02", "device_type": {"slug": "poweredge-r650"}, "role": {"slug": "switch"},
        "site": {"name": "Goerlitz"}, "tenant": {"id": w.tenant_b.pk}, "platform": {"slug": "debian"},
    }, format="json"), 201)
    assert body["role"]["id"] == w.switch.pk and body["site"]["id"] == w.goerlitz.pk
    assert body["tenant"]["id"] == w.tenant_b.pk and body["platform"]["id"] == w.debian.pk
    # Choice fields also accept the {value, label} dict a client read back.
    body = ok(api.post("/api/dcim/sites/", {"name": "Bautzen", "slug": "bautzen",
                                           "status": {"value": "planned", "label": "Planned"}}, format="json"), 201)
    assert body["status"]["value"] == "planned"
    for bad, field in (({"slug": "nope"}, "site"), ({"slug": "poweredge-r650", "bogus_attr": 1}, "device_type"),
                       ({"name__startswith": ""}, "role"), (999999, "site"), ("abc", "site"), (True, "role")):
        payload = device_payload(w, "app03", **{field: bad})
        r = api.post("/api/dcim/devices/", payload, format="json")
        assert r.status_code == 400, (bad, r.content)
        assert field in r.json(), (bad, r.json())
    assert not Device.objects.filter(name="app03").exists()


def test_bulk_create_is_all_or_nothing(api, w):
    before = Device.objects.count()
    changes_before = ObjectChange.objects.count()
    items = [device_payload(w, "bulk-a"), device_payload(w, "bulk-b", site=999999), device_payload(w, "bulk-c"),
             {"name": "bulk-d"}]
    r = api.post("/api/dcim/devices/", items, format="json")
    assert r.status_code == 400
    errors = r.json()
    assert isinstance(errors, list) and len(errors) == 4
    assert errors[0] == {} and errors[2] == {}
    assert "site" in errors[1]
    assert {"device_type", "role", "site"} <= set(errors[3])
    assert Device.objects.count() == before
    assert ObjectChange.objects.count() == changes_before

    # Collisions inside the batch and with stored rows are reported by position too.
    r = api.post("/api/dcim/devices/", [device_payload(w, "dup"), device_payload(w, "dup"),
                                        device_payload(w, "web01", tenant=w.tenant_a.pk)], format="json")
    assert r.status_code == 400
    errors = r.json()
    assert errors[0] == {} and errors[1] and errors[2]
    assert not Device.objects.filter(name="dup").exists()

    created = ok(api.post("/api/dcim/devices/", [device_payload(w, f"bulk-{i}") for i in range(5)], format="json"),
                 201)
    assert [d["name"] for d in created] == [f"bulk-{i}" for i in range(5)]
    assert all(d["site"]["slug"] == "zittau" and d["id"] for d in created)
    assert Device.objects.count() == before + 5
    assert Interface.objects.filter(device__name__startswith="bulk-").count() == 10
    # Every created object is in the change log.
    assert ObjectChange.objects.filter(changed_object_id__in=[d["id"] for d in created],
                                       action="create", changed_object_type__model="device").count() == 5


def test_bulk_create_of_other_kinds(api, w):
    tenants = ok(api.post("/api/tenancy/tenants/", [{"name": f"T{i}", "slug": f"t{i}"} for i in range(3)],
                          format="json"), 201)
    assert [t["slug"] for t in tenants] == ["t0", "t1", "t2"]
    ips = ok(api.post("/api/ipam/ip-addresses/", [
        {"address": "192.0.2.1/24"},
        {"address": "192.0.2.2/24", "assigned_object_type": "dcim.interface",
         "assigned_object_id": Interface.objects.filter(device=w.devices["web02"]).first().pk},
    ], format="json"), 201)
    assert ips[1]["assigned_object_type"] == "dcim.interface" and ips[0]["assigned_object_type"] is None
    vms = ok(api.post("/api/virtualization/virtual-machines/", [
        {"name": "new-vm-1", "cluster": w.cluster.pk, "vcpus": 1.5, "memory": 512},
        {"name": "new-vm-2", "cluster": {"name": "pve-zittau"}},
    ], format="json"), 201)
    assert all(v["site"]["slug"] == "zittau" for v in vms)
    assert vms[0]["vcpus"] == 1.5


def test_bulk_create_on_user_endpoints(api, superuser):
    tokens = ok(api.post("/api/users/tokens/", [{"user": superuser.pk, "description": f"t{i}"} for i in range(2)],
                         format="json"), 201)
    assert [t["description"] for t in tokens] == ["t0", "t1"] and all(t["key"] for t in tokens)
    r = api.post("/api/users/tokens/", [{"user": superuser.pk, "description": "t2"}, {"user": 999999}], format="json")
    assert r.status_code == 400 and r.json()[0] == {} and "user" in r.json()[1]
    assert ok(api.get("/api/users/tokens/?description=t2"))["count"] == 0
    perms = [{"name": "a", "object_types": ["dcim.device"], "actions": ["view"]},
             {"name": "b", "object_types": ["dcim.site"], "actions": ["view", "change"]}]
    assert [p["name"] for p in ok(api.post("/api/users/permissions/", perms, format="json"), 201)] == ["a", "b"]
    r = api.post("/api/users/permissions/", [{"name": "c", "object_types": ["dcim.device"], "actions": ["view"]},
                                             {"name": "d", "object_types": ["dcim.device"], "actions": ["fly"]}],
                 format="json")
    assert r.status_code == 400 and r.json()[0] == {} and "actions" in r.json()[1]
    assert ok(api.get("/api/users/permissions/"))["count"] == 2


@pytest.mark.parametrize("body", [[], "text", 42, None, [1, 2], [{"name": "x"}, "y"]])
def test_create_rejects_bodies_that_are_not_objects(api, w, body):
    r = api.post("/api/dcim/sites/", body, format="json")
    assert r.status_code == 400
    assert Site.objects.count() == 2


# --- update ----------------------------------------------------------------------------------


def test_patch_and_put_single_object(api, w):
    pk = w.devices["web02"].pk
    body = ok(api.patch(f"/api/dcim/devices/{pk}/", {"serial": "NEW-SERIAL"}, format="json"))
    assert body["serial"] == "NEW-SERIAL" and body["name"] == "web02"
    assert body["description"] == "web backend"  # untouched fields survive a PATCH
    assert [t["slug"] for t in body["tags"]] == ["red"]
    body = ok(api.patch(f"/api/dcim/devices/{pk}/", {"tags": [{"slug": "blue"}], "tenant": None}, format="json"))
    assert [t["slug"] for t in body["tags"]] == ["blue"] and body["tenant"] is None
    body = ok(api.put(f"/api/dcim/devices/{pk}/", device_payload(w, "web02-renamed", site=w.goerlitz.pk),
                      format="json"))
    assert body["name"] == "web02-renamed" and body["site"]["slug"] == "goerlitz"
    r = api.put(f"/api/dcim/devices/{pk}/", {"name": "only-a-name"}, format="json")
    assert r.status_code == 400 and "site" in r.json()
    assert Device.objects.get(pk=pk).name == "web02-renamed"
    r = api.patch(f"/api/dcim/devices/{pk}/", [{"name": "x"}], format="json")
    assert r.status_code == 400


def test_bulk_patch_on_the_list_url_is_atomic(api, w):
    web01, web02, db01 = (w.devices[n].pk for n in ("web01", "web02", "db01"))
    body = ok(api.patch("/api/dcim/devices/", [{"id": web01, "description": "one"},
                                               {"id": web02, "description": "two", "status": "maintenance"}],
                        format="json"))
    assert [(d["id"], d["description"]) for d in body] == [(web01, "one"), (web02, "two")]
    assert body[1]["status"]["value"] == "maintenance"
    assert body[0]["serial"] == "SN-WEB01"  # full representation

    # One bad item: 400 with errors by position, nothing changed.
    r = api.patch("/api/dcim/devices/", [{"id": web01, "description": "changed"},
                                         {"id": web02, "status": "bogus"},
                                         {"id": db01, "description": "changed"}], format="json")
    assert r.status_code == 400
    errors = r.json()
    assert isinstance(errors, list) and len(errors) == 3
    assert errors[0] == {} and "status" in errors[1] and errors[2] == {}
    assert Device.objects.get(pk=web01).description == "one"
    # The same when the bad item only collides with a stored row.
    r = api.patch("/api/dcim/devices/", [{"id": web01, "description": "changed"},
                                         {"id": db01, "name": "web01", "site": w.zittau.pk, "tenant": w.tenant_a.pk}],
                  format="json")
    assert r.status_code == 400
    errors = r.json()
    assert errors[0] == {} and "name" in errors[1]
    assert Device.objects.get(pk=web01).description == "one"
    assert Device.objects.get(pk=db01).name == "db01"

    # An unknown id in the batch: 404 and nothing changed; an item without id: 400.
    r = api.patch("/api/dcim/devices/", [{"id": web01, "description": "x"}, {"id": 999999, "description": "y"}],
                  format="json")
    assert r.status_code == 404
    r = api.patch("/api/dcim/devices/", [{"id": web01, "description": "x"}, {"description": "y"}], format="json")
    assert r.status_code == 400
    r = api.patch("/api/dcim/devices/", [{"id": web01, "description": "x"}, {"id": web01, "description": "y"}],
                  format="json")
    assert r.status_code == 400
    assert Device.objects.get(pk=web01).description == "one"


def test_bulk_put_requires_full_objects_and_is_atomic(api, w):
    a, b = f.tenant("Physik"), f.tenant("Chemie")
    body = ok(api.put("/api/tenancy/tenants/", [{"id": a.pk, "name": "Physics", "slug": "physics"},
                                               {"id": b.pk, "name": "Chemistry", "slug": "chemistry"}],
                      format="json"))
    assert [t["name"] for t in body] == ["Physics", "Chemistry"]
    r = api.put("/api/tenancy/tenants/", [{"id": a.pk, "name": "Physik 2", "slug": "physik-2"},
                                          {"id": b.pk, "name": "Chemie 2"}], format="json")
    assert r.status_code == 400 and "slug" in r.json()[1]
    assert Tenant.objects.get(pk=a.pk).name == "Physics"
    # Renaming onto an existing unique name is a 400 on that item.
    r = api.put("/api/tenancy/tenants/", [{"id": a.pk, "name": "Informatik", "slug": "physics"}], format="json")
    assert r.status_code == 400 and "name" in r.json()[0]


# --- delete ----------------------------------------------------------------------------------


def test_delete_single_and_bulk(api, w):
    a, b, c = (f.tag(n) for n in ("Tmp A", "Tmp B", "Tmp C"))
    r = api.delete(f"/api/extras/tags/{a.pk}/")
    assert r.status_code == 204 and not r.content
    assert api.get(f"/api/extras/tags/{a.pk}/").status_code == 404
    assert api.delete(f"/api/extras/tags/{a.pk}/").status_code == 404
    r = api.delete("/api/extras/tags/", [{"id": b.pk}, {"id": c.pk}], format="json")
    assert r.status_code == 204
    assert ok(api.get("/api/extras/tags/?slug=tmp-b&slug=tmp-c"))["count"] == 0


def test_bulk_delete_is_atomic(api, w):
    keep = f.site("Loebau")
    # The second site has devices (PROTECT): the whole batch fails with 409 and nothing is deleted.
    r = api.delete("/api/dcim/sites/", [{"id": keep.pk}, {"id": w.goerlitz.pk}], format="json")
    assert r.status_code == 409
    assert Site.objects.filter(pk__in=[keep.pk, w.goerlitz.pk]).count() == 2
    r = api.delete("/api/dcim/sites/", [{"id": keep.pk}, {"id": 999999}], format="json")
    assert r.status_code == 404
    assert Site.objects.filter(pk=keep.pk).exists()
    for bad in ([], [{"name": "x"}], [keep.pk], {"id": keep.pk}, [{"id": "1"}]):
        assert api.delete("/api/dcim/sites/", bad, format="json").status_code == 400, bad
    assert Site.objects.filter(pk=keep.pk).exists()


def test_deleting_a_site_with_devices_is_a_conflict(api, w):
    r = api.delete(f"/api/dcim/sites/{w.goerlitz.pk}/")
    assert r.status_code == 409
    assert "detail" in r.json()
    assert Site.objects.filter(pk=w.goerlitz.pk).exists()
    assert Device.objects.filter(site=w.goerlitz).count() == 2
    # Cascades work: deleting a device deletes its interfaces and their IP assignments.
    web01 = w.devices["web01"]
    assert api.delete(f"/api/dcim/devices/{web01.pk}/").status_code == 204
    assert not Interface.objects.filter(device_id=web01.pk).exists()
    assert not IPAddress.objects.filter(address="10.1.0.11/24").exists()


# --- validation ------------------------------------------------------------------------------


def _error(api, method, url, data, field):
    r = getattr(api, method)(url, data, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:500])
    body = r.json()
    assert isinstance(body, dict) and field in body, body
    assert isinstance(body[field], list) and all(isinstance(m, str) for m in body[field]), body
    return body


def test_device_name_unique_per_site_and_tenant(api, w):
    # web01 is at Zittau for tenant Informatik.
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "web01", tenant=w.tenant_a.pk), "name")
    ok(api.post("/api/dcim/devices/", device_payload(w, "web01", tenant=w.tenant_b.pk), format="json"), 201)
    ok(api.post("/api/dcim/devices/", device_payload(w, "web01", site=w.goerlitz.pk), format="json"), 201)
    ok(api.post("/api/dcim/devices/", device_payload(w, "lonely"), format="json"), 201)
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "lonely"), "name")
    _error(api, "patch", f"/api/dcim/devices/{w.devices['web02'].pk}/", {"name": "web01"}, "name")


def test_serial_unique_per_manufacturer(api, w):
    other_type = f.device_type("PowerEdge R750", maker=w.dell)
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "x1", serial="SN-WEB01", device_type=other_type.pk),
           "serial")
    hpe = f.device_type("DL380", maker=f.manufacturer("HPE"))
    ok(api.post("/api/dcim/devices/", device_payload(w, "x2", serial="SN-WEB01", device_type=hpe.pk), format="json"),
       201)
    _error(api, "patch", f"/api/dcim/devices/{w.devices['web02'].pk}/", {"serial": "SN-SW01"}, "serial")


def test_rack_placement_rules(api, w):
    big = f.device_type("Storage 4U", maker=w.dell, u_height=4)
    rack = w.rack1.pk  # 42U, web01 (1U) at U10 front
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r1", rack=rack, position=42, face="front",
                                                            device_type=big.pk), "position")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r2", rack=rack, position=8, face="front",
                                                            device_type=big.pk), "position")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r3", rack=rack, position=10, face="rear"),
           "position")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r4", rack=rack, position=0, face="front"),
           "position")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r5", rack=rack, position=5), "face")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r6", position=5, face="front"), "position")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "r7", site=w.goerlitz.pk, rack=rack), "rack")
    body = ok(api.post("/api/dcim/devices/", device_payload(w, "r8", rack=rack, position=11, face="front",
                                                           device_type=big.pk), format="json"), 201)
    assert body["position"] == 11
    _error(api, "patch", f"/api/dcim/devices/{w.devices['web01'].pk}/", {"position": 12}, "position")
    body = ok(api.patch(f"/api/dcim/devices/{w.devices['web01'].pk}/", {"position": 20}, format="json"))
    assert body["position"] == 20


def test_rack_overlap_within_one_batch_is_rejected(api, w):
    r = api.post("/api/dcim/devices/", [device_payload(w, "r9", rack=w.rack1.pk, position=30, face="front"),
                                        device_payload(w, "r10", rack=w.rack1.pk, position=30, face="front")],
                 format="json")
    assert r.status_code == 400, r.content
    assert not Device.objects.filter(name__in=["r9", "r10"]).exists()
    # The same for a bulk PATCH that moves two unracked devices into the same units.
    spare = f.device("spare", at=w.zittau, dtype=w.r650, as_role=w.server)
    move = {"rack": w.rack1.pk, "position": 30, "face": "front"}
    r = api.patch("/api/dcim/devices/", [{"id": w.devices["web02"].pk, **move}, {"id": spare.pk, **move}],
                  format="json")
    assert r.status_code == 400, r.content
    assert "position" in r.json()[1]
    assert Device.objects.filter(rack=w.rack1).count() == 1
    # Front and rear halves of a rack may hold two half-depth devices at the same units.
    half = f.device_type("Half", maker=w.dell, is_full_depth=False)
    body = ok(api.post("/api/dcim/devices/", [
        device_payload(w, "h1", device_type=half.pk, rack=w.rack1.pk, position=35, face="front"),
        device_payload(w, "h2", device_type=half.pk, rack=w.rack1.pk, position=35, face="rear"),
    ], format="json"), 201)
    assert [d["face"]["value"] for d in body] == ["front", "rear"]


def test_ip_address_validation(api, w):
    for bad in ("10.0.0.300/24", "not-an-ip", "10.0.0.1", "", "10.0.0.1/33", "2001:db8::zz/64"):
        _error(api, "post", "/api/ipam/ip-addresses/", {"address": bad}, "address")
    body = ok(api.post("/api/ipam/ip-addresses/", {"address": " 2001:DB8::1/64 "}, format="json"), 201)
    assert body["address"] == "2001:db8::1/64" and body["family"]["value"] == 6
    _error(api, "post", "/api/ipam/ip-addresses/", {"address": "10.9.9.9/24", "assigned_object_type": "dcim.site",
                                                    "assigned_object_id": w.zittau.pk}, "assigned_object_type")
    _error(api, "post", "/api/ipam/ip-addresses/", {"address": "10.9.9.9/24", "assigned_object_type": "dcim.interface",
                                                    "assigned_object_id": 999999}, "assigned_object_id")
    _error(api, "post", "/api/ipam/ip-addresses/", {"address": "10.9.9.9/24", "assigned_object_type": "nonsense",
                                                    "assigned_object_id": 1}, "assigned_object_type")
    _error(api, "post", "/api/ipam/prefixes/", {"prefix": "10.0.0.0/99"}, "prefix")
    assert ok(api.post("/api/ipam/prefixes/", {"prefix": "10.0.0.5/8"}, format="json"), 201)["prefix"] == "10.0.0.0/8"


def test_custom_fields(api, w):
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "cf0", custom_fields={"undefined_field": 1}),
           "custom_fields")
    ok(api.post("/api/extras/custom-fields/", {"name": "rack_units", "type": "integer",
                                               "object_types": ["dcim.device"], "validation_maximum": 100},
                format="json"), 201)
    _error(api, "post", "/api/extras/custom-fields/", {"name": "Bad Name", "type": "text",
                                                       "object_types": ["dcim.device"]}, "name")
    _error(api, "post", "/api/extras/custom-fields/", {"name": "x", "type": "text", "object_types": ["nope.model"]},
           "object_types")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "cf1", custom_fields={"rack_units": "four"}),
           "custom_fields")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "cf1", custom_fields={"rack_units": 500}),
           "custom_fields")
    _error(api, "post", "/api/dcim/devices/", device_payload(w, "cf1", custom_fields="rack_units=4"), "custom_fields")
    body = ok(api.post("/api/dcim/devices/", device_payload(w, "cf2", custom_fields={"rack_units": 4}),
                       format="json"), 201)
    assert body["custom_fields"] == {"rack_units": 4}
    # Devices without a value read as null for the defined field after any write.
    body = ok(api.patch(f"/api/dcim/devices/{body['id']}/", {"custom_fields": {"rack_units": 6}}, format="json"))
    assert body["custom_fields"] == {"rack_units": 6}
    _error(api, "patch", f"/api/dcim/devices/{body['id']}/", {"custom_fields": {"rack_units": True}},
           "custom_fields")
    # The field is defined for devices only: a site rejects it.
    _error(api, "patch", f"/api/dcim/sites/{w.zittau.pk}/", {"custom_fields": {"rack_units": 4}}, "custom_fields")


def test_other_validation_errors(api, w):
    _error(api, "post", "/api/dcim/sites/", {"name": "Zittau", "slug": "zittau-2"}, "name")
    _error(api, "post", "/api/dcim/sites/", {"name": "Neu", "slug": "not a slug"}, "slug")
    _error(api, "post", "/api/dcim/sites/", {"slug": "neu"}, "name")
    _error(api, "post", "/api/dcim/interfaces/", {"device": w.devices["web01"].pk, "name": "eth0"}, "name")
    _error(api, "post", "/api/dcim/interfaces/", {"device": w.devices["web01"].pk, "name": "eth9",
                                                  "mac_address": "zz:zz"}, "mac_address")
    _error(api, "post", "/api/dcim/interfaces/", {"device": w.devices["web01"].pk, "name": "eth9", "mtu": 0}, "mtu")
    _error(api, "post", "/api/virtualization/virtual-machines/", {"name": "nowhere"}, "cluster")
    _error(api, "post", "/api/virtualization/virtual-machines/", {"name": "vm-a", "cluster": w.cluster.pk,
                                                                  "tenant": w.tenant_a.pk}, "name")
    _error(api, "post", "/api/extras/tags/", {"name": "Green", "slug": "green", "color": "GREEN!"}, "color")
    _error(api, "post", "/api/dcim/locations/", {"name": "Haus Z", "slug": "haus-z", "site": w.zittau.pk,
                                                 "parent": f.location("Haus A", at=w.goerlitz).pk}, "parent")
    _error(api, "patch", f"/api/tenancy/tenant-groups/{f.tenant_group('G').pk}/", {"parent": {"slug": "g"}},
           "parent")


# --- 404, authentication, permissions --------------------------------------------------------


def test_unknown_ids_are_404(api, w):
    for path in ("dcim/devices", "dcim/sites", "ipam/ip-addresses", "virtualization/virtual-machines",
                 "tenancy/tenants", "extras/tags", "core/object-changes"):
        assert api.get(f"/api/{path}/999999/").status_code == 404
        assert api.get(f"/api/{path}/abc/").status_code == 404
    assert api.patch("/api/dcim/devices/999999/", {"name": "x"}, format="json").status_code == 404
    assert api.put("/api/dcim/sites/999999/", {"name": "x", "slug": "x"}, format="json").status_code == 404
    assert api.delete("/api/dcim/devices/999999/").status_code == 404
    for url in ("/api/dcim/no-such-endpoint/", "/api/dcim/devices/1.5/", "/api/nothing/"):
        r = api.get(url)
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}, url
        assert r["API-Version"]


def test_unauthenticated_requests_are_refused(client, w):
    for method in ("get", "post", "patch", "delete"):
        r = getattr(client, method)("/api/dcim/devices/", content_type="application/json")
        assert r.status_code in (401, 403), (method, r.status_code)
    assert client.get(f"/api/dcim/devices/{w.devices['web01'].pk}/").status_code in (401, 403)
    assert Device.objects.count() == 4


def test_read_only_token(make_user, client_for, w):
    reader = client_for(make_user("reader", superuser=True), write=False)
    assert ok(reader.get("/api/dcim/devices/"))["count"] == 4
    assert reader.options("/api/dcim/devices/").status_code == 200
    pk = w.devices["web02"].pk
    assert reader.post("/api/dcim/devices/", device_payload(w, "ro"), format="json").status_code == 403
    assert reader.patch(f"/api/dcim/devices/{pk}/", {"serial": "ro"}, format="json").status_code == 403
    assert reader.put(f"/api/dcim/devices/{pk}/", device_payload(w, "ro"), format="json").status_code == 403
    assert reader.delete(f"/api/dcim/devices/{pk}/").status_code == 403
    assert reader.patch("/api/dcim/devices/", [{"id": pk, "serial": "ro"}], format="json").status_code == 403
    assert reader.delete("/api/dcim/devices/", [{"id": pk}], format="json").status_code == 403
    dev = Device.objects.get(pk=pk)
    assert (dev.name, dev.serial) == ("web02", "SN-WEB02")


def test_user_without_permissions_sees_nothing_and_cannot_write(make_user, client_for, w):
    nobody = client_for(make_user("nobody"))
    r = nobody.get("/api/dcim/devices/")
    assert r.status_code == 403 or (r.status_code == 200 and r.json()["count"] == 0)
    assert nobody.post("/api/dcim/sites/", {"name": "X", "slug": "x"}, format="json").status_code == 403
    assert nobody.delete(f"/api/dcim/sites/{w.zittau.pk}/").status_code in (403, 404)
    assert Site.objects.count() == 2


def test_writes_are_change_logged_with_the_api_user(api, w):
    body = ok(api.post("/api/tenancy/tenants/", {"name": "Logged", "slug": "logged"}, format="json"), 201)
    ok(api.patch(f"/api/tenancy/tenants/{body['id']}/", {"description": "now described"}, format="json"))
    changes = ok(api.get(f"/api/core/object-changes/?changed_object_id={body['id']}"
                         "&changed_object_type=tenancy.tenant&ordering=time"))
    actions = [c["action"]["value"] for c in changes["results"]]
    assert actions == ["create", "update"]
    assert all(c["user_name"] == "admin" for c in changes["results"])
    assert changes["results"][1]["postchange_data"]["description"] == "now described"
    # The change log is read-only.
    assert api.post("/api/core/object-changes/", {}, format="json").status_code == 405
    assert api.delete(f"/api/core/object-changes/{changes['results'][0]['id']}/").status_code == 405


def test_custom_field_definition_is_required_to_be_non_empty(api):
    r = api.post("/api/extras/custom-fields/", {"name": "x", "type": "text", "object_types": []}, format="json")
    assert r.status_code == 400
    assert CustomField.objects.count() == 0
