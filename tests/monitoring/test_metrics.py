"""/metrics: authentication, the CI families, contributed families, request metrics, constant queries."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.core import GaugeMetricFamily
from rest_framework.test import APIClient

from cmdb.core import metrics as registry
from cmdb.core.models import ConfigurationItem
from cmdb.users.models import ObjectPermission

from . import factories
from .helpers import body, samples

pytestmark = pytest.mark.django_db


def scrape(client: APIClient, **extra: Any) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return body(response)


def test_anonymous_is_refused_and_told_how(client: Any) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    bad = client.get("/metrics", HTTP_AUTHORIZATION="Token not-a-key")
    assert bad.status_code == 401


def test_allowed_network_needs_no_token(client: Any, settings: Any) -> None:
    factories.landscape(servers=1, switches=0, vms=0)
    settings.METRICS_ALLOWED_NETWORKS = ["10.99.0.0/16", "127.0.0.0/8"]
    text = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert len(samples(text, "cmdb_ci_info")) == ConfigurationItem.objects.count()
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 401


def test_allowed_network_matches_like_token_networks(client: Any, settings: Any) -> None:
    """The same address rules as tokens' allowed_ips (cmdb.users.networks): an IPv4 rule written in IPv4-mapped
    IPv6 form matches IPv4 clients (reported plain or mapped), a garbage rule matches nothing."""
    settings.METRICS_ALLOWED_NETWORKS = ["garbage", "::ffff:10.99.0.0/112"]
    assert client.get("/metrics", REMOTE_ADDR="10.99.1.2").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.99.1.2").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.98.1.2").status_code == 401


def test_ci_info_one_series_per_ci_with_its_labels(api: APIClient) -> None:
    land = factories.landscape()
    srv = land.devices[0]
    srv.name = 'odd "name" \\ here'
    srv.last_seen = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    srv.save()
    text = scrape(api)
    info = samples(text, "cmdb_ci_info")
    assert len(info) == ConfigurationItem.objects.count() == 3 + 2 + 2 + 1  # + the cluster
    mine = next(s for s in info if s.labels["ci_id"] == str(srv.ci_id))
    assert mine.value == 1
    assert mine.labels == {"ci_id": str(srv.ci_id), "kind": "dcim.device", "name": 'odd "name" \\ here',
                           "site": "zittau", "tenant": "rechenzentrum", "service": "", "criticality": "high",
                           "status": "active"}
    vm = land.vms[0]
    vm_info = next(s for s in info if s.labels["ci_id"] == str(vm.ci_id))
    assert vm_info.labels["site"] == "zittau" and vm_info.labels["kind"] == "virtualization.virtualmachine"
    seen = samples(text, "cmdb_ci_last_seen_timestamp_seconds")
    assert [(s.labels["ci_id"], s.value) for s in seen] == [(str(srv.ci_id), srv.last_seen.timestamp())]
    counts = {(s.labels["kind"], s.labels["status"], s.labels["tenant"]): s.value
              for s in samples(text, "cmdb_ci_count")}
    assert counts[("dcim.device", "active", "rechenzentrum")] == 4
    assert counts[("dcim.device", "active", "informatik")] == 1
    assert counts[("virtualization.virtualmachine", "active", "informatik")] == 2
    assert sum(counts.values()) == len(info)


def test_own_contribution_and_request_metrics(api: APIClient) -> None:
    factories.landscape()

    def device_list_gets(text: str) -> float:
        # The counters live for the whole test process, so compare before and after.
        return sum(s.value for s in samples(text, "cmdb_http_requests")
                   if s.name == "cmdb_http_requests_total" and s.labels == {
                       "method": "GET", "view": "dcim-devices-list", "status": "200"})

    before = device_list_gets(scrape(api))
    api.get("/api/dcim/devices/")
    api.get("/api/dcim/devices/?limit=1")
    text = scrape(api)
    targets = {s.labels["exporter"]: s.value for s in samples(text, "cmdb_monitoring_targets")}
    assert targets == {"node": 5, "snmp": 2}
    assert device_list_gets(text) == before + 2
    durations = [s for s in samples(text, "cmdb_http_request_duration_seconds")
                 if s.name.endswith("_count") and s.labels["view"] == "dcim-devices-list"]
    assert durations and sum(s.value for s in durations) >= 2


def test_tenant_scoped_token_sees_only_its_tenant(make_user: Any, client_for: Any) -> None:
    land = factories.landscape()
    user = make_user("faculty")
    perm = ObjectPermission.objects.create(name="inf", object_types=["*"], actions=["view"])
    perm.users.add(user)
    perm.tenants.add(land.tenants["inf"])
    marker = GaugeMetricFamily("cmdb_test_unscoped", "A collector that cannot scope by tenant.")
    marker.add_metric([], 1)
    unscoped = registry.register(lambda: [marker])
    try:
        text = scrape(client_for(user))
    finally:
        registry._manual.remove(unscoped)
    tenants = {s.labels["tenant"] for s in samples(text, "cmdb_ci_info")}
    assert tenants == {"informatik"}
    assert len(samples(text, "cmdb_ci_info")) == ConfigurationItem.objects.filter(tenant=land.tenants["inf"]).count()
    assert not samples(text, "cmdb_test_unscoped")


def test_user_without_view_grant_is_forbidden(make_user: Any, client_for: Any) -> None:
    assert client_for(make_user("nobody")).get("/metrics").status_code == 403


def test_contributed_collector_appears_and_a_broken_one_does_not_break_metrics(
        api: APIClient, caplog: Any) -> None:
    family = GaugeMetricFamily("cmdb_test_contributed", "From a domain app.", labels=["license"])
    family.add_metric(["cad"], 7)

    def broken() -> list[Any]:
        raise RuntimeError("boom")

    registry.register(lambda: [family])
    registry.register(broken)
    try:
        with caplog.at_level(logging.ERROR):
            text = scrape(api)
    finally:
        registry._manual[-2:] = []
    assert [(s.labels, s.value) for s in samples(text, "cmdb_test_contributed")] == [({"license": "cad"}, 7)]
    assert "boom" in caplog.text


def test_query_count_does_not_grow_with_the_number_of_cis(api: APIClient) -> None:
    def queries() -> int:
        response = api.get("/metrics")
        with CaptureQueriesContext(connection) as ctx:
            body(response)
        return len(ctx.captured_queries)

    factories.landscape(servers=2, switches=1, vms=1)
    small = queries()
    from tests import factories as f

    dtype, role, site = (f.device_type("R750", maker=f.manufacturer("HPE")), f.role("Compute"), f.site("Bautzen"))
    for i in range(30):
        f.device(f"extra{i}", at=site, dtype=dtype, as_role=role, last_seen=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert queries() == small
