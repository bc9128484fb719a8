"""The NetBox REST conventions of API-CONTRACT.md, checked with DRF's test client."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

import cmdb
from tests import factories as f

from .helpers import EMPTY_ENDPOINTS, MODEL_ENDPOINTS, assert_list_shape, assert_nested, names, ok, query

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db):
    return f.world()


# --- transport -------------------------------------------------------------------------------


def test_every_endpoint_lists_with_api_version_header(api, w):
    for path in ("", "dcim/", *(f"{e}/" for e in MODEL_ENDPOINTS + EMPTY_ENDPOINTS)):
        r = api.get(f"/api/{path}")
        body = ok(r)
        assert r["API-Version"] == cmdb.API_VERSION, path
        assert r["Content-Type"].startswith("application/json"), path
        if path in ("", "dcim/"):
            assert all(v.startswith("http://testserver/api/") for v in body.values())
            continue
        assert_list_shape(body)
        # The change log is served under extras (NetBox 3) and core (NetBox 4); its URLs name core.
        canonical = "core/object-changes/" if path == "extras/object-changes/" else path
        for row in body["results"]:
            assert isinstance(row["id"], int), path
            assert row["url"] == f"http://testserver/api/{canonical}{row['id']}/", path
            assert isinstance(row["display"], str), path


def test_api_root_and_app_roots_list_apps_and_endpoints(api):
    root = ok(api.get("/api/"))
    for app in ("dcim", "ipam", "virtualization", "tenancy", "extras", "users", "core"):
        assert root[app] == f"http://testserver/api/{app}/"
    dcim = ok(api.get("/api/dcim/"))
    for endpoint in ("sites", "devices", "interfaces", "regions", "site-groups", "rack-roles"):
        assert dcim[endpoint] == f"http://testserver/api/dcim/{endpoint}/"
    assert ok(api.get("/api/ipam/"))["services"] == "http://testserver/api/ipam/services/"


def test_error_responses_carry_api_version_too(api):
    r = api.get("/api/dcim/devices/999999/")
    assert r.status_code == 404
    assert r["API-Version"] == cmdb.API_VERSION
    r = APIClient().get("/api/dcim/devices/")
    assert r.status_code in (401, 403)
    assert r["API-Version"] == cmdb.API_VERSION


def test_accept_header_variants_and_bearer_token(api, superuser, make_token, w):
    # No Accept header (the Ansible inventory) and NetBox's versioned media type both give JSON.
    body = ok(api.get("/api/dcim/sites/", HTTP_ACCEPT="application/json; version=4.4"))
    assert body["count"] == 2
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(superuser)}")
    assert ok(bearer.get("/api/dcim/sites/"))["count"] == 2
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad.get("/api/dcim/sites/").status_code in (401, 403)


def test_status_endpoint(api):
    body = ok(api.get("/api/status/"))
    for key in ("netbox-version", "django-version", "python-version", "installed_apps", "plugins",
                "rq-workers-running", "cmdb-version"):
        assert key in body, key
    major, minor, *_ = body["netbox-version"].split(".")
    assert (int(major), int(minor)) >= (4, 0)
    assert body["cmdb-version"] == cmdb.__version__
    assert isinstance(body["installed_apps"], dict) and "cmdb.dcim" in body["installed_apps"]
    assert isinstance(body["rq-workers-running"], int)


def test_openapi_schema_lists_filters_for_the_inventory(api):
    r = api.get("/api/schema/?format=json")
    schema = ok(r)
    assert schema["info"]["version"]
    assert schema["openapi"].startswith("3.")
    for path, wanted in {
        "/api/dcim/devices/": {"site", "site_id", "role", "role_id", "status", "name", "name__ic", "name__n",
                               "tag", "q", "id", "id__n", "tenant", "platform", "serial", "limit", "offset"},
        "/api/virtualization/virtual-machines/": {"cluster", "cluster_id", "site", "status", "name__ic", "tag",
                                                  "q", "role"},
        "/api/ipam/ip-addresses/": {"address", "assigned_to_interface", "device_id", "virtual_machine_id"},
    }.items():
        params = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert wanted <= params, (path, wanted - params)
    # Served from the cache the second time: identical bytes.
    assert api.get("/api/schema/?format=json").content == r.content
    assert api.get("/api/docs/").status_code == 200


# --- lists -----------------------------------------------------------------------------------


def test_pagination_limit_offset_and_next_links(api):
    for i in range(7):
        f.site(f"Site {i:02d}", status="active" if i % 2 == 0 else "planned")
    body = ok(api.get("/api/dcim/sites/?limit=3"))
    assert body["count"] == 7
    assert names(body) == ["Site 00", "Site 01", "Site 02"]
    assert body["previous"] is None
    assert body["next"].startswith("http://testserver/api/dcim/sites/?")
    assert query(body["next"]) == {"limit": ["3"], "offset": ["3"]}
    page2 = ok(api.get(body["next"]))
    assert names(page2) == ["Site 03", "Site 04", "Site 05"]
    assert page2["previous"] is not None
    page3 = ok(api.get(page2["next"]))
    assert names(page3) == ["Site 06"] and page3["next"] is None

    # Filters survive in next (pynetbox follows next verbatim).
    body = ok(api.get("/api/dcim/sites/?status=active&limit=2&name__isw=site&ordering=-name"))
    assert body["count"] == 4
    assert names(body) == ["Site 04", "Site 06"]
    q = query(body["next"])
    assert q["status"] == ["active"] and q["name__isw"] == ["site"] and q["ordering"] == ["-name"]
    assert q["offset"] == ["2"]
    assert names(ok(api.get(body["next"]))) == ["Site 00", "Site 02"]

    # Default page, offset alone, limit=0 = everything up to the maximum page.
    assert len(ok(api.get("/api/dcim/sites/"))["results"]) == 7
    assert names(ok(api.get("/api/dcim/sites/?offset=5"))) == ["Site 05", "Site 06"]
    body = ok(api.get("/api/dcim/sites/?limit=0"))
    assert len(body["results"]) == 7 and body["next"] is None

    for bad in ("limit=-1", "limit=abc", "offset=x", "offset=-5"):
        r = api.get(f"/api/dcim/sites/?{bad}")
        assert r.status_code == 400, bad
        assert bad.split("=")[0] in r.json()


def test_limit_zero_is_capped_by_max_page_size_and_default_page_size(api, settings):
    for i in range(12):
        f.tag(f"tag-{i:02d}")
    settings.MAX_PAGE_SIZE = 5
    body = ok(api.get("/api/extras/tags/?limit=0"))
    assert body["count"] == 12 and len(body["results"]) == 5
    assert query(body["next"]) == {"limit": ["5"], "offset": ["5"]}
    assert len(ok(api.get("/api/extras/tags/?limit=500"))["results"]) == 5
    settings.MAX_PAGE_SIZE = 1000
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 4}
    body = ok(api.get("/api/extras/tags/"))
    assert len(body["results"]) == 4 and query(body["next"])["offset"] == ["4"]
    # Walk every page by following next.
    seen, url = [], "/api/extras/tags/?limit=5"
    while url:
        body = ok(api.get(url))
        seen += [r["slug"] for r in body["results"]]
        url = body["next"]
    assert seen == [f"tag-{i:02d}" for i in range(12)]


@pytest.mark.parametrize("flag", ["1", "true", "True"])
def test_brief_mode(api, w, flag):
    body = ok(api.get(f"/api/dcim/devices/?brief={flag}&name=web01"))
    assert body["results"] == [{"id": w.devices["web01"].pk,
                                "url": f"http://testserver/api/dcim/devices/{w.devices['web01'].pk}/",
                                "display": "web01", "name": "web01", "description": "Web frontend"}]
    site = ok(api.get(f"/api/dcim/sites/?brief={flag}&slug=zittau"))["results"][0]
    assert set(site) == {"id", "url", "display", "name", "slug", "description"}
    ipaddr = ok(api.get(f"/api/ipam/ip-addresses/?brief={flag}&address=10.1.0.11"))["results"][0]
    assert ipaddr["address"] == "10.1.0.11/24" and "assigned_object" not in ipaddr
    # brief on a detail view too, and brief=0 means the full form.
    one = ok(api.get(f"/api/dcim/sites/{w.zittau.pk}/?brief={flag}"))
    assert set(one) == {"id", "url", "display", "name", "slug", "description"}
    full = ok(api.get("/api/dcim/devices/?brief=0&name=web01"))["results"][0]
    assert "site" in full and "serial" in full


def _more_kinds(w):
    """One object of each kind the world lacks, so every endpoint has something to list."""
    from django.contrib.contenttypes.models import ContentType

    from cmdb.extras.models import CustomField, JournalEntry
    from cmdb.users.models import ObjectPermission

    f.contact_assignment(w)
    f.location("Haus A", at=w.zittau)
    f.prefix("10.1.0.0/24", site=w.zittau)
    f.tenant_group("Faculties")
    CustomField.objects.create(name="site_code", type="text", object_types=["dcim.site"])
    JournalEntry.objects.create(assigned_object_type=ContentType.objects.get_for_model(w.zittau),
                                assigned_object_id=w.zittau.pk, comments="opened")
    ObjectPermission.objects.create(name="view all", object_types=["*"], actions=["view"])


def test_brief_on_every_endpoint(api, w):
    _more_kinds(w)
    for path in MODEL_ENDPOINTS:
        full = ok(api.get(f"/api/{path}/?limit=3"))["results"]
        brief = ok(api.get(f"/api/{path}/?limit=3&brief=true"))["results"]
        assert full, path
        assert [r["id"] for r in brief] == [r["id"] for r in full], path
        for short, long in zip(brief, full, strict=True):
            assert {"id", "url", "display"} <= set(short), path
            assert set(short) < set(long), (path, set(short))
            assert all(short[k] == long[k] for k in short), path


def test_object_representation(api, w):
    dev = ok(api.get(f"/api/dcim/devices/{w.devices['web01'].pk}/"))
    for key in ("id", "url", "display", "name", "device_type", "role", "site", "rack", "position", "face",
                "serial", "asset_tag", "primary_ip4", "primary_ip6", "tenant", "platform", "status", "comments",
                "config_context", "local_context_data", "created", "last_updated", "tags", "custom_fields"):
        assert key in dev, key
    assert_nested(dev["site"], "dcim/sites", w.zittau.pk, name="Zittau", slug="zittau")
    assert_nested(dev["role"], "dcim/device-roles", w.server.pk, slug="server")
    assert_nested(dev["device_type"], "dcim/device-types", w.r650.pk, slug="poweredge-r650")
    assert_nested(dev["tenant"], "tenancy/tenants", w.tenant_a.pk, slug="informatik")
    assert_nested(dev["rack"], "dcim/racks", w.rack1.pk, name="R1")
    assert_nested(dev["primary_ip4"], "ipam/ip-addresses", w.ips["web01"].pk, address="10.1.0.11/24")
    assert dev["status"] == {"value": "active", "label": "Active"}
    assert dev["face"] == {"value": "front", "label": "Front"}
    assert dev["position"] == 10
    assert sorted(t["slug"] for t in dev["tags"]) == ["blue", "red"]
    for t in dev["tags"]:
        assert_nested(t, "extras/tags", w.tags[t["slug"]].pk)
    assert dev["custom_fields"] == {}
    # The list and the detail view agree.
    listed = ok(api.get(f"/api/dcim/devices/?id={w.devices['web01'].pk}"))["results"][0]
    assert listed == dev

    vm = ok(api.get(f"/api/virtualization/virtual-machines/{w.vms['vm-a'].pk}/"))
    assert_nested(vm["cluster"], "virtualization/clusters", w.cluster.pk, name="pve-zittau")
    assert_nested(vm["site"], "dcim/sites", w.zittau.pk)  # inherited from the cluster
    assert vm["vcpus"] == 2 and vm["memory"] == 4096 and vm["disk"] == 40


def test_nb_inventory_calls(api, w):
    """What the netbox.netbox inventory plugin requests and reads."""
    client = APIClient()  # no Accept header at all
    client.credentials(HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"])
    status = ok(client.get("/api/status/"))
    assert status["netbox-version"]
    schema = ok(client.get("/api/schema/?format=json"))
    assert schema["info"]["version"]

    devices = ok(client.get("/api/dcim/devices/?limit=0&exclude=config_context"))
    assert devices["count"] == 4 and devices["next"] is None
    assert all("config_context" not in d for d in devices["results"])
    web01 = next(d for d in devices["results"] if d["name"] == "web01")
    assert web01["primary_ip4"]["address"] == "10.1.0.11/24"
    assert web01["primary_ip6"]["address"] == "2001:db8::11/64"
    for key in ("status", "serial", "asset_tag", "oob_ip", "tags", "custom_fields", "local_context_data", "cluster",
                "platform", "role", "device_type", "site", "location", "rack", "tenant"):
        assert key in web01, key
    db01 = ok(client.get(f"/api/dcim/devices/{w.devices['db01'].pk}/"))
    assert db01["config_context"] == {"ntp": ["10.0.0.1"]}
    assert db01["local_context_data"] == {"ntp": ["10.0.0.1"]}

    vms = ok(client.get("/api/virtualization/virtual-machines/?limit=0&exclude=config_context"))
    assert all("config_context" not in v and "local_context_data" in v for v in vms["results"])
    vm_a = next(v for v in vms["results"] if v["name"] == "vm-a")
    assert "config_context" in ok(client.get(f"/api/virtualization/virtual-machines/{vm_a['id']}/"))
    assert (vm_a["vcpus"], vm_a["memory"], vm_a["disk"]) == (2, 4096, 40)
    assert vm_a["cluster"]["name"] == "pve-zittau"

    sites = ok(client.get("/api/dcim/sites/?limit=0"))["results"]
    zittau = next(s for s in sites if s["slug"] == "zittau")
    assert zittau["time_zone"] == "Europe/Berlin" and zittau["facility"] == "ZI-1"
    assert "region" in zittau and zittau["region"] is None and "group" in zittau

    for path in ("dcim/regions", "dcim/site-groups", "dcim/locations", "dcim/racks", "dcim/rack-roles",
                 "tenancy/tenants", "dcim/platforms", "dcim/device-roles", "dcim/device-types",
                 "dcim/manufacturers", "virtualization/clusters", "virtualization/cluster-groups",
                 "virtualization/cluster-types", "ipam/services"):
        assert_list_shape(ok(client.get(f"/api/{path}/?limit=0")))

    ifaces = ok(client.get("/api/dcim/interfaces/?limit=0"))["results"]
    eth0 = next(i for i in ifaces if i["device"]["name"] == "web01" and i["name"] == "eth0")
    eth1 = next(i for i in ifaces if i["device"]["name"] == "web01" and i["name"] == "eth1")
    assert eth0["count_ipaddresses"] == 2 and eth1["count_ipaddresses"] == 0
    vifs = ok(client.get("/api/virtualization/interfaces/?limit=0"))["results"]
    assert [(v["name"], v["count_ipaddresses"]) for v in vifs] == [("ens18", 1)]

    assigned = ok(client.get("/api/ipam/ip-addresses/?limit=0&assigned_to_interface=true"))
    by_addr = {i["address"]: i for i in assigned["results"]}
    assert set(by_addr) == {"10.1.0.11/24", "2001:db8::11/64", "10.2.0.5/24"}
    assert by_addr["10.1.0.11/24"]["assigned_object_type"] == "dcim.interface"
    assert by_addr["10.1.0.11/24"]["assigned_object_id"] == eth0["id"]
    assert by_addr["10.1.0.11/24"]["assigned_object"]["device"]["name"] == "web01"
    assert by_addr["10.2.0.5/24"]["assigned_object_type"] == "virtualization.vminterface"
    unassigned = ok(client.get("/api/ipam/ip-addresses/?assigned_to_interface=false"))
    assert [i["address"] for i in unassigned["results"]] == ["10.1.0.99/24"]
    assert unassigned["results"][0]["assigned_object_type"] is None


def test_unmodelled_endpoints_answer_an_empty_list(api):
    for path in EMPTY_ENDPOINTS:
        body = ok(api.get(f"/api/{path}/?limit=0"))
        assert body == {"count": 0, "next": None, "previous": None, "results": []}, path


def test_ordering(api, w):
    assert [d["name"] for d in ok(api.get("/api/dcim/devices/?ordering=-name"))["results"]] == [
        "web02", "web01", "sw01", "db01"]
    assert [d["name"] for d in ok(api.get("/api/dcim/devices/?ordering=name"))["results"]] == [
        "db01", "sw01", "web01", "web02"]
    assert [v["name"] for v in ok(api.get("/api/virtualization/virtual-machines/?ordering=-memory"))["results"]] == [
        "vm-b", "vm-a"]
    # Ordering and pagination together: the second page continues the order.
    page = ok(api.get("/api/dcim/devices/?ordering=-name&limit=2"))
    assert [d["name"] for d in ok(api.get(page["next"]))["results"]] == ["sw01", "db01"]


def test_options_returns_choices(api):
    body = ok(api.options("/api/dcim/devices/"))
    post = body["actions"]["POST"]
    status = post["status"]["choices"]
    assert {"value": "active", "display_name": "Active"} in status
    assert {c["value"] for c in status} >= {"planned", "active", "retired"}
    assert {c["value"] for c in post["face"]["choices"]} == {"front", "rear"}
    iface = ok(api.options("/api/dcim/interfaces/"))["actions"]["POST"]
    assert {"value": "1000base-t", "display_name": "1000BASE-T (1GE)"} in iface["type"]["choices"]
    ip = ok(api.options("/api/ipam/ip-addresses/"))["actions"]["POST"]
    assert {c["value"] for c in ip["role"]["choices"]} >= {"loopback", "vip"}
    # A detail URL answers OPTIONS too.
    assert api.options("/api/dcim/sites/").status_code == 200
