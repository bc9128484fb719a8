"""Issue 14: strict, complete filtering.

One test per rule: an unknown parameter, an unknown ordering and a value of the wrong type are a
400 naming the parameter on every list endpoint (found by walking the URL resolver); every filter
is in the OpenAPI schema; NetBox's IPAM filters with hand-checked answers; ``has_primary_ip``;
``cf_<name>`` for each custom-field type; ``fields``/``exclude``; related-object counts.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.api.filters import COMMON_PARAMS, with_custom_fields
from cmdb.dcim.models import Device
from cmdb.extras.models import CustomField
from tests import factories as f

from .endpoints import list_routes
from .helpers import names, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db):
    return f.world()


def _url(route) -> str:
    return route.path


def test_the_walk_finds_the_list_endpoints():
    paths = {r.path for r in list_routes()}
    for path in ("/api/dcim/devices/", "/api/ipam/prefixes/", "/api/virtualization/virtual-machines/",
                 "/api/software/installations/", "/api/monitoring/incidents/", "/api/reconcile/runs/",
                 "/api/core/object-changes/", "/api/extras/object-changes/", "/api/users/tokens/"):
        assert path in paths, path
    assert len(paths) >= 50


def test_unknown_parameter_is_400_naming_it_on_every_list_endpoint(api):
    for route in list_routes():
        r = api.get(f"{route.path}?limit=1&no_such_filter=1")
        assert r.status_code == 400, (route.path, r.status_code, r.content[:300])
        assert list(r.json()) == ["no_such_filter"], (route.path, r.json())


def test_bogus_ordering_is_400_on_every_list_endpoint(api):
    for route in list_routes():
        r = api.get(f"{route.path}?ordering=-no_such_field")
        assert r.status_code == 400, (route.path, r.status_code, r.content[:300])
        assert "no_such_field" in r.json()["ordering"][0], route.path
        # A real field orders (id exists everywhere).
        assert api.get(f"{route.path}?ordering=-id&limit=1").status_code == 200, route.path


def test_every_declared_filter_and_common_parameter_is_in_the_schema(api):
    CustomField.objects.create(name="rack_units", type="integer", object_types=["dcim.device"])
    schema = ok(api.get("/api/schema/?format=json"))
    for route in list_routes():
        view = route.view_class
        params = {p["name"] for p in schema["paths"][route.path]["get"]["parameters"]}
        declared = set(with_custom_fields(view.filterset_class).base_filters) if view.filterset_class else set()
        missing = (declared | {"limit", "offset", "ordering", "brief", "fields", "exclude"}) - params
        assert not missing, (route.path, sorted(missing))
    devices = {p["name"] for p in schema["paths"]["/api/dcim/devices/"]["get"]["parameters"]}
    assert {"cf_rack_units", "cf_rack_units__gte", "has_primary_ip", "tag_id", "name__nisw"} <= devices
    prefixes = {p["name"] for p in schema["paths"]["/api/ipam/prefixes/"]["get"]["parameters"]}
    assert {"within", "within_include", "contains", "parent", "mask_length", "mask_length__gte",
            "mask_length__lte", "family"} <= prefixes
    ips = {p["name"] for p in schema["paths"]["/api/ipam/ip-addresses/"]["get"]["parameters"]}
    assert {"parent", "mask_length", "assigned_to_interface", "family", "address"} <= ips


def test_common_parameters_are_known_everywhere(api, w):
    assert {"limit", "offset", "brief", "format", "fields", "exclude", "ordering"} == COMMON_PARAMS
    body = ok(api.get("/api/dcim/devices/?limit=2&offset=1&brief=true&ordering=name&format=json"))
    assert [d["name"] for d in body["results"]] == ["sw01", "web01"]
    assert set(body["results"][0]) == {"id", "url", "display", "name", "description"}


@pytest.mark.parametrize(("query", "param"), [
    ("brief=maybe", "brief"),
    ("limit=ten", "limit"),
    ("offset=-1", "offset"),
    ("fields=name,nonsense", "fields"),
    ("exclude=config_contxt", "exclude"),
    ("has_primary_ip=perhaps", "has_primary_ip"),
    ("tag_id=abc", "tag_id"),
    ("tag_id=999999", "tag_id"),
    ("created__lt=yesterday", "created__lt"),
    ("status__n=bogus", "status__n"),
])
def test_wrong_values_of_common_and_new_parameters_are_400(api, w, query, param):
    r = api.get(f"/api/dcim/devices/?{query}")
    assert r.status_code == 400, (query, r.content[:300])
    assert param in r.json(), r.json()


def test_lookups_netbox_has(api, w):
    def devices(qs: str) -> list[str]:
        return names(ok(api.get(f"/api/dcim/devices/?{qs}&limit=0")))

    # Text lookups on choice fields (status), as NetBox's char lookup map adds them there too.
    assert devices("status__ic=PLAN") == ["db01"]
    assert devices("status__nisw=act") == ["db01"]
    assert devices("status__n=active") == ["db01"]
    # Tags by id, with negation; the number lookups on created.
    red = w.tags["red"].pk
    assert devices(f"tag_id={red}") == ["web01", "web02"]
    assert devices(f"tag_id__n={red}") == ["db01", "sw01"]
    assert devices("created__gt=2000-01-01T00:00:00") == ["db01", "sw01", "web01", "web02"]
    assert devices("created__lt=2000-01-01T00:00:00") == []
    assert devices(f"id__lte={min(d.pk for d in w.devices.values())}") == ["web01"]


def test_has_primary_ip(api, w):
    assert names(ok(api.get("/api/dcim/devices/?has_primary_ip=true"))) == ["web01"]
    assert names(ok(api.get("/api/dcim/devices/?has_primary_ip=false"))) == ["db01", "sw01", "web02"]
    vm_a = w.vms["vm-a"]
    vm_a.primary_ip4 = w.ips["vm-a"]
    vm_a.save()
    assert names(ok(api.get("/api/virtualization/virtual-machines/?has_primary_ip=true"))) == ["vm-a"]
    assert names(ok(api.get("/api/virtualization/virtual-machines/?has_primary_ip=0"))) == ["vm-b"]


def test_fields_and_exclude(api, w):
    body = ok(api.get("/api/dcim/devices/?fields=id,name,site&ordering=name&limit=1"))
    row = body["results"][0]
    assert set(row) == {"id", "name", "site"} and row["name"] == "db01" and row["site"]["slug"] == "goerlitz"
    rows = ok(api.get("/api/dcim/devices/?exclude=config_context,comments&limit=0"))["results"]
    assert rows and all("config_context" not in r and "comments" not in r and "name" in r for r in rows)
    # Repeated exclude= and fields= with brief: fields win over brief's set.
    row = ok(api.get("/api/dcim/sites/?fields=slug&fields=prefix_count&brief=1&slug=zittau"))["results"][0]
    assert row == {"slug": "zittau", "prefix_count": 0}
    one = ok(api.get(f"/api/dcim/devices/{w.devices['web01'].pk}/?fields=name,primary_ip4"))
    assert one == {"name": "web01", "primary_ip4": one["primary_ip4"]} and one["primary_ip4"]["address"]


# --- IPAM: hand-checked answers ---------------------------------------------------------------

PREFIXES = ["10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25", "10.2.0.0/16",
            "192.168.0.0/16", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::/64"]
ADDRESSES = ["10.1.0.11/24", "10.1.1.5/24", "10.1.1.130/25", "10.2.3.4/16", "192.168.1.1/24",
             "2001:db8:1::5/64", "2001:db8:2::1/48"]


@pytest.fixture
def ipam(db):
    for p in PREFIXES:
        f.prefix(p)
    return {a: f.ip(a) for a in ADDRESSES}


@pytest.mark.parametrize(("query", "expected"), [
    ("within=10.1.0.0/16", ["10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25"]),
    ("within_include=10.1.0.0/16", ["10.1.0.0/16", "10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25"]),
    ("parent=10.1.0.0/16", ["10.1.0.0/16", "10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25"]),
    ("within=10.0.0.0/8", ["10.1.0.0/16", "10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25", "10.2.0.0/16"]),
    ("within=10.1.1.0/24", ["10.1.1.128/25"]),
    ("within=10.1.1.128/25", []),
    ("within=10.1.0.0/16&within=192.0.0.0/8", ["10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25", "192.168.0.0/16"]),
    # The family counts: 0.0.0.0/0 and ::/0 both start at zero.
    ("within=0.0.0.0/0", ["10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/24", "10.1.1.0/24", "10.1.1.128/25",
                          "10.2.0.0/16", "192.168.0.0/16"]),
    ("within=::/0", ["2001:db8:1::/48", "2001:db8:1::/64", "2001:db8::/32"]),
    ("contains=10.1.1.200", ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.128/25"]),
    ("contains=10.1.1.0/24", ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24"]),
    ("contains=10.1.1.5/24", ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24"]),  # host bits dropped
    ("contains=10.3.0.1", ["10.0.0.0/8"]),
    ("contains=172.16.0.1", []),
    ("contains=2001:db8:1::5", ["2001:db8:1::/48", "2001:db8:1::/64", "2001:db8::/32"]),
    ("contains=2001:db8:1::/56", ["2001:db8:1::/48", "2001:db8::/32"]),
    ("mask_length=24", ["10.1.0.0/24", "10.1.1.0/24"]),
    ("mask_length=8&mask_length=25", ["10.0.0.0/8", "10.1.1.128/25"]),
    ("mask_length__gte=25", ["10.1.1.128/25", "2001:db8:1::/48", "2001:db8:1::/64", "2001:db8::/32"]),
    ("mask_length__lte=16&family=4", ["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16", "192.168.0.0/16"]),
    ("family=6", ["2001:db8:1::/48", "2001:db8:1::/64", "2001:db8::/32"]),
    ("prefix=10.1.1.7/24", ["10.1.1.0/24"]),
    ("within=10.0.0.0/8&mask_length__gte=24&q=10.1.1", ["10.1.1.0/24", "10.1.1.128/25"]),
])
def test_prefix_filters(api, ipam, query, expected):
    assert names(ok(api.get(f"/api/ipam/prefixes/?{query}&limit=0")), "prefix") == sorted(expected)


@pytest.mark.parametrize(("query", "expected"), [
    ("parent=10.1.0.0/16", ["10.1.0.11/24", "10.1.1.130/25", "10.1.1.5/24"]),
    ("parent=10.1.1.0/24", ["10.1.1.130/25", "10.1.1.5/24"]),  # whatever the address's own mask
    ("parent=10.1.1.128/25", ["10.1.1.130/25"]),
    ("parent=10.1.0.0/16&parent=192.168.0.0/16", ["10.1.0.11/24", "10.1.1.130/25", "10.1.1.5/24",
                                                  "192.168.1.1/24"]),
    ("parent=0.0.0.0/0", ["10.1.0.11/24", "10.1.1.130/25", "10.1.1.5/24", "10.2.3.4/16", "192.168.1.1/24"]),
    ("parent=2001:db8::/32", ["2001:db8:1::5/64", "2001:db8:2::1/48"]),
    ("parent=2001:db8:1::/48", ["2001:db8:1::5/64"]),
    ("mask_length=24", ["10.1.0.11/24", "10.1.1.5/24", "192.168.1.1/24"]),
    ("mask_length__gte=48", ["2001:db8:1::5/64", "2001:db8:2::1/48"]),
    ("mask_length__lte=16", ["10.2.3.4/16"]),
    ("family=4&mask_length__gte=25", ["10.1.1.130/25"]),
    ("address=10.1.1.5", ["10.1.1.5/24"]),
    ("address=10.1.1.5/25", []),
    ("address__n=10.1.1.5&family=4&parent=10.1.0.0/16", ["10.1.0.11/24", "10.1.1.130/25"]),
])
def test_ip_address_filters(api, ipam, query, expected):
    assert names(ok(api.get(f"/api/ipam/ip-addresses/?{query}&limit=0")), "address") == sorted(expected)


def test_assigned_to_interface(api, w):
    assigned = names(ok(api.get("/api/ipam/ip-addresses/?assigned_to_interface=true")), "address")
    assert assigned == ["10.1.0.11/24", "10.2.0.5/24", "2001:db8::11/64"]
    assert names(ok(api.get("/api/ipam/ip-addresses/?assigned_to_interface=false")), "address") == ["10.1.0.99/24"]


@pytest.mark.parametrize(("path", "query", "param"), [
    ("prefixes", "within=banana", "within"),
    ("prefixes", "within=10.1.0.0", "within"),  # a prefix needs its length
    ("prefixes", "contains=10.1.1.300", "contains"),
    ("prefixes", "mask_length=200", "mask_length"),
    ("prefixes", "mask_length__gte=x", "mask_length__gte"),
    ("prefixes", "family=5", "family"),
    ("prefixes", "prefix=10.1.1.0", "prefix"),
    ("ip-addresses", "parent=10.1.1.0/33", "parent"),
    ("ip-addresses", "address=not-an-ip", "address"),
    ("ip-addresses", "mask_length=-1", "mask_length"),
])
def test_bad_network_values_are_400_naming_the_parameter(api, ipam, path, query, param):
    r = api.get(f"/api/ipam/{path}/?{query}")
    assert r.status_code == 400, (query, r.content[:300])
    assert param in r.json()


def test_range_columns_follow_every_write_path(api, ipam):
    """Saved through the API (bulk create, PATCH) and by bulk_create: the derived columns are right."""
    from cmdb.ipam.models import IPAddress, Prefix

    created = ok(api.post("/api/ipam/prefixes/", [{"prefix": "172.16.0.0/12"}, {"prefix": "172.16.5.0/24"}],
                          format="json"), 201)
    assert names(ok(api.get("/api/ipam/prefixes/?within=172.16.0.0/12")), "prefix") == ["172.16.5.0/24"]
    ok(api.patch(f"/api/ipam/prefixes/{created[1]['id']}/", {"prefix": "172.31.0.0/16"}, format="json"))
    assert names(ok(api.get("/api/ipam/prefixes/?within=172.16.0.0/12")), "prefix") == ["172.31.0.0/16"]
    assert names(ok(api.get("/api/ipam/prefixes/?contains=172.16.5.1")), "prefix") == ["172.16.0.0/12"]
    from cmdb.core import bulk

    bulk.bulk_create(IPAddress, [IPAddress(address="172.31.9.9/16", family=4)])
    assert names(ok(api.get("/api/ipam/ip-addresses/?parent=172.31.0.0/16")), "address") == ["172.31.9.9/16"]
    row = Prefix.objects.get(prefix="172.31.0.0/16")
    assert (row.mask_length, row.network_start[-10:], row.network_end[-10:]) == (16, "2887712768", "2887778303")


# --- custom fields ----------------------------------------------------------------------------


@pytest.fixture
def cfs(w):
    for name, t, extra in (
        ("owner_team", "text", {}), ("rack_units", "integer", {}), ("power_kw", "decimal", {}),
        ("monitored", "boolean", {}), ("eol_date", "date", {}),
        ("support", "select", {"choices": ["gold", "silver", "bronze"]}),
        ("services", "multiselect", {"choices": ["web", "db", "mail"]}), ("extra", "json", {}),
    ):
        CustomField.objects.create(name=name, type=t, object_types=["dcim.device"], **extra)
    data = {
        "web01": {"owner_team": "Web Ops", "rack_units": 2, "power_kw": 0.5, "monitored": True,
                  "eol_date": "2027-01-31", "support": "gold", "services": ["web"]},
        "web02": {"owner_team": "web ops backup", "rack_units": 4, "power_kw": 1.25, "monitored": False,
                  "eol_date": "2025-06-30", "support": "silver", "services": ["web", "db"]},
        "db01": {"owner_team": "DBA", "rack_units": 1, "monitored": True, "support": "bronze", "services": ["db"],
                 "eol_date": None},
        "sw01": {},
    }
    for name, values in data.items():
        Device.objects.filter(pk=w.devices[name].pk).update(custom_field_data=values)
    return w


@pytest.mark.parametrize(("query", "expected"), [
    ("cf_owner_team=web", ["web01", "web02"]),  # NetBox's default "loose" logic: contains, any case
    ("cf_owner_team__ie=web ops", ["web01"]),
    ("cf_owner_team__isw=DB", ["db01"]),
    ("cf_owner_team__iew=backup", ["web02"]),
    ("cf_owner_team__nic=ops", ["db01", "sw01"]),
    ("cf_owner_team__n=web", ["db01", "sw01"]),
    ("cf_owner_team__empty=true", ["sw01"]),
    ("cf_rack_units=2", ["web01"]),
    ("cf_rack_units=1&cf_rack_units=4", ["db01", "web02"]),
    ("cf_rack_units__gte=2", ["web01", "web02"]),
    ("cf_rack_units__lt=2", ["db01"]),
    ("cf_rack_units__n=2", ["db01", "sw01", "web02"]),
    ("cf_power_kw__gt=0.75", ["web02"]),
    ("cf_power_kw__lte=0.5", ["web01"]),
    ("cf_monitored=true", ["db01", "web01"]),
    ("cf_monitored=false", ["web02"]),
    ("cf_eol_date__lt=2026-01-01", ["web02"]),
    ("cf_eol_date__gte=2026-01-01", ["web01"]),
    ("cf_eol_date__empty=true", ["db01", "sw01"]),
    ("cf_support=gold", ["web01"]),
    ("cf_support=gold&cf_support=bronze", ["db01", "web01"]),
    ("cf_support__n=gold", ["db01", "sw01", "web02"]),
    ("cf_services=db", ["db01", "web02"]),
    ("cf_services=web&cf_services=mail", ["web01", "web02"]),
    ("cf_services__n=web", ["db01", "sw01"]),
    ("cf_services__empty=false", ["db01", "web01", "web02"]),
    ("cf_rack_units__gte=2&site=zittau&cf_support=silver", ["web02"]),
])
def test_custom_field_filters(api, cfs, query, expected):
    assert names(ok(api.get(f"/api/dcim/devices/?{query}&limit=0"))) == expected


@pytest.mark.parametrize(("query", "param"), [
    ("cf_rack_units=abc", "cf_rack_units"),
    ("cf_power_kw__gt=lots", "cf_power_kw__gt"),
    ("cf_monitored=perhaps", "cf_monitored"),
    ("cf_eol_date=tomorrow", "cf_eol_date"),
    ("cf_support=platinum", "cf_support"),
    ("cf_services=ftp", "cf_services"),
    ("cf_extra=1", "cf_extra"),  # JSON fields have no filter, as in NetBox
    ("cf_nosuch=1", "cf_nosuch"),
    ("cf_monitored__gte=1", "cf_monitored__gte"),
])
def test_bad_custom_field_filters_are_400(api, cfs, query, param):
    r = api.get(f"/api/dcim/devices/?{query}")
    assert r.status_code == 400, (query, r.content[:300])
    assert param in r.json()


def test_custom_field_filters_only_on_their_models(api, cfs):
    assert api.get("/api/dcim/devices/?cf_rack_units=2").status_code == 200
    r = api.get("/api/virtualization/virtual-machines/?cf_rack_units=2")
    assert r.status_code == 400 and "cf_rack_units" in r.json()


# --- counts -----------------------------------------------------------------------------------


def test_related_counts_are_computed_with_one_query_each_per_page(api, w):
    f.prefix("10.9.0.0/16", site=w.zittau)
    f.prefix("10.9.1.0/24", site=w.zittau)
    f.prefix("10.8.0.0/16", site=w.goerlitz)
    sites = {s["slug"]: s for s in ok(api.get("/api/dcim/sites/"))["results"]}
    assert {k: (v["prefix_count"], v["device_count"], v["rack_count"], v["virtualmachine_count"])
            for k, v in sites.items()} == {"zittau": (2, 2, 1, 2), "goerlitz": (1, 2, 0, 0)}  # VMs: site from cluster
    roles = {r["slug"]: (r["device_count"], r["virtualmachine_count"])
             for r in ok(api.get("/api/dcim/device-roles/"))["results"]}
    assert roles == {"server": (3, 0), "switch": (1, 0)}
    assert ok(api.get("/api/virtualization/clusters/"))["results"][0]["virtualmachine_count"] == 2
    assert ok(api.get("/api/dcim/manufacturers/"))["results"][0]["devicetype_count"] == 1
    for i in range(20):
        f.site(f"Extra {i:02d}", tenant=w.tenant_a)  # every page then names a tenant
    with CaptureQueriesContext(connection) as few:
        ok(api.get("/api/dcim/sites/?limit=2"))
    with CaptureQueriesContext(connection) as many:
        ok(api.get("/api/dcim/sites/?limit=22"))
    assert len(many) == len(few)


def test_counts_count_only_what_the_reader_may_see(w, make_user, client_for):
    from cmdb.users.models import ObjectPermission

    f.prefix("10.9.0.0/24", site=w.zittau, tenant=w.tenant_a)
    f.prefix("10.9.1.0/24", site=w.zittau, tenant=w.tenant_b)
    user = make_user("alice")
    perm = ObjectPermission.objects.create(name="a", object_types=["dcim.site", "ipam.prefix"], actions=["view"])
    perm.users.add(user)
    perm.tenants.add(w.tenant_a)
    sites = ok(client_for(user).get("/api/dcim/sites/?slug=zittau"))["results"]
    assert sites and sites[0]["prefix_count"] == 1


def test_primary_ip_prefers_ipv6_unless_prefer_ipv4(api, w, settings):
    """NetBox's primary_ip, which the Ansible inventory turns into ansible_host."""
    web01 = w.devices["web01"].pk
    assert ok(api.get(f"/api/dcim/devices/{web01}/"))["primary_ip"]["address"] == "2001:db8::11/64"
    settings.PREFER_IPV4 = True
    assert ok(api.get(f"/api/dcim/devices/{web01}/"))["primary_ip"]["address"] == "10.1.0.11/24"
    rows = ok(api.get("/api/dcim/devices/?fields=name,primary_ip&ordering=name"))["results"]
    assert [(r["name"], r["primary_ip"] and r["primary_ip"]["address"]) for r in rows] == [
        ("db01", None), ("sw01", None), ("web01", "10.1.0.11/24"), ("web02", None)]
