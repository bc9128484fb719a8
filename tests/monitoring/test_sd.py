"""HTTP service discovery: targets, labels, the REST filters, scope, streaming pages, constant queries."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cmdb.users.models import ObjectPermission
from tests import factories as f

from . import factories

pytestmark = pytest.mark.django_db


def sd(client: APIClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    if status != 200:
        return response.json()
    assert response["Content-Type"] == "application/json"
    return orjson.loads(b"".join(response.streaming_content))


def test_device_targets_with_cmdb_labels(api: APIClient) -> None:
    land = factories.landscape()
    groups = sd(api, "/api/monitoring/sd/devices/")
    assert len(groups) == 5
    srv = land.devices[0]
    first = next(g for g in groups if g["labels"]["ci_id"] == str(srv.ci_id))
    assert first == {"targets": ["10.10.0.10:9100"], "labels": {
        "ci_id": str(srv.ci_id), "kind": "dcim.device", "name": "srv00", "status": "active", "criticality": "high",
        "exporter": "node", "__scheme__": "http", "__metrics_path__": "/metrics", "site": "zittau",
        "tenant": "rechenzentrum", "role": "server", "platform": "debian"}}
    switch = next(g for g in groups if g["labels"]["name"] == "sw00")
    assert switch["targets"] == ["10.10.1.10:9116"] and switch["labels"]["__metrics_path__"] == "/snmp"


def test_rest_filters_and_exporter_filter(api: APIClient) -> None:
    factories.landscape()
    names = lambda url: sorted(g["labels"]["name"] for g in sd(api, url))  # noqa: E731
    assert names("/api/monitoring/sd/devices/?site=goerlitz") == ["srv01"]
    assert names("/api/monitoring/sd/devices/?role=server&tenant=rechenzentrum") == ["srv00", "srv02"]
    assert names("/api/monitoring/sd/devices/?exporter=snmp") == ["sw00", "sw01"]
    assert names("/api/monitoring/sd/devices/?name__isw=srv&exporter=snmp") == []
    assert names("/api/monitoring/sd/virtual-machines/?cluster=zittau-prod") == ["vm00", "vm01"]


def test_bad_filters_are_400_by_field(api: APIClient) -> None:
    factories.landscape(servers=1, switches=0, vms=0)
    assert "site" in sd(api, "/api/monitoring/sd/devices/?site=nowhere", 400)
    assert "bogus" in sd(api, "/api/monitoring/sd/devices/?bogus=1", 400)
    assert "exporter" in sd(api, "/api/monitoring/sd/devices/?exporter=nope", 400)
    assert "limit" in sd(api, "/api/monitoring/sd/devices/?limit=-3", 400)
    assert sd(api, "/api/monitoring/sd/racks/", 404)
    # The REST lists' strict check: their common parameters that SD does not take are unknown here too.
    assert "ordering" in sd(api, "/api/monitoring/sd/devices/?ordering=name", 400)
    assert "brief" in sd(api, "/api/monitoring/sd/devices/?brief=1", 400)


def test_one_target_per_exporter_disabled_and_addressless_left_out(api: APIClient) -> None:
    land = factories.landscape(servers=2, switches=0, vms=0)
    srv0, srv1 = land.devices
    factories.monitor(srv0, land.snmp, port=10161)
    from monitoring.models import Monitor

    Monitor.objects.filter(ci_id=srv1.ci_id).update(enabled=False)
    bare = f.device("bare", at=land.sites["zittau"], dtype=srv0.device_type, as_role=srv0.role)
    factories.monitor(bare, land.node)
    targets = sorted(t for g in sd(api, "/api/monitoring/sd/devices/") for t in g["targets"])
    assert targets == ["10.10.0.10:10161", "10.10.0.10:9100"]


def test_address_prefers_ipv4_then_ipv6_and_dns_on_request(api: APIClient) -> None:
    land = factories.landscape(servers=1, switches=0, vms=0)
    v6 = f.device("v6only", at=land.sites["zittau"], dtype=land.devices[0].device_type, as_role=land.devices[0].role)
    factories.with_ip(v6, "2001:db8::5/64", v6=True)
    factories.monitor(v6, land.node)
    by_name = {g["labels"]["name"]: g["targets"][0] for g in sd(api, "/api/monitoring/sd/devices/")}
    assert by_name == {"srv00": "10.10.0.10:9100", "v6only": "[2001:db8::5]:9100"}
    by_name = {g["labels"]["name"]: g["targets"][0] for g in sd(api, "/api/monitoring/sd/devices/?address=dns")}
    assert by_name == {"srv00": "srv00.example.edu:9100", "v6only": "[2001:db8::5]:9100"}


def test_limit_and_offset_split_the_list(api: APIClient) -> None:
    factories.landscape(servers=5, switches=0, vms=0)
    whole = [g["labels"]["ci_id"] for g in sd(api, "/api/monitoring/sd/devices/")]
    parts = [g["labels"]["ci_id"] for url in ("?limit=2", "?limit=2&offset=2", "?offset=4")
             for g in sd(api, f"/api/monitoring/sd/devices/{url}")]
    assert parts == whole and len(whole) == 5


def test_tenant_scope_and_authentication(make_user: Any, client_for: Any, client: Any) -> None:
    land = factories.landscape()
    user = make_user("faculty")
    perm = ObjectPermission.objects.create(name="inf", object_types=["*"], actions=["view"])
    perm.users.add(user)
    perm.tenants.add(land.tenants["inf"])
    names = sorted(g["labels"]["name"] for g in sd(client_for(user), "/api/monitoring/sd/devices/"))
    assert names == ["srv01"]
    assert client.get("/api/monitoring/sd/devices/").status_code in (401, 403)
    assert client_for(make_user("nobody")).get("/api/monitoring/sd/devices/").status_code == 403


def test_query_count_is_constant(api: APIClient) -> None:
    def queries(url: str) -> int:
        response = api.get(url)
        with CaptureQueriesContext(connection) as ctx:
            b"".join(response.streaming_content)
        return len(ctx.captured_queries)

    land = factories.landscape(servers=2, switches=1, vms=1)
    url = "/api/monitoring/sd/devices/?site=zittau&exporter=node"
    small = queries(url)
    dtype, role = land.devices[0].device_type, land.devices[0].role
    for i in range(25):
        dev = f.device(f"more{i}", at=land.sites["zittau"], dtype=dtype, as_role=role)
        factories.with_ip(dev, f"10.10.5.{i + 10}/24")
        factories.monitor(dev, land.node)
    assert queries(url) == small
    assert len(sd(api, url)) == 26
