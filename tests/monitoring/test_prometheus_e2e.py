"""End to end: a real Prometheus discovers our targets over HTTP SD, scrapes /metrics, answers PromQL.

The live server is the CMDB; Prometheus gets two jobs:

* ``cmdb`` scrapes ``/metrics`` with an API token (``authorization: type Token``);
* ``nodes`` discovers targets from ``/api/monitoring/sd/devices/?site=zittau``.  One discovered
  device has the address 127.0.0.1 and an exporter type that points at the live server's /metrics,
  so that target is really scraped and its series carry the labels the CMDB gave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from cmdb.core.models import ConfigurationItem
from tests import factories as f

from . import factories
from .prom import Prometheus, binary

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def prometheus_for(live_server: Any) -> Iterator[Any]:
    started: list[Prometheus] = []

    def start(config: dict[str, Any]) -> Prometheus:
        server = Prometheus(config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_prometheus_discovers_scrapes_and_counts(live_server: Any, superuser: Any, make_token: Any,
                                                 prometheus_for: Any) -> None:
    binary("prometheus")
    token = make_token(superuser, write=False)
    host = f"127.0.0.1:{urlsplit(live_server.url).port}"
    land = factories.landscape(servers=4, switches=2, vms=2)
    self_exporter = factories.exporter("cmdb", urlsplit(live_server.url).port)
    loop = f.device("cmdb-web", at=land.sites["zittau"], dtype=land.devices[0].device_type,
                    as_role=land.devices[0].role, tenant=land.tenants["rz"])
    factories.with_ip(loop, "127.0.0.1/8")
    factories.monitor(loop, self_exporter)
    expected_cis = ConfigurationItem.objects.count()
    auth = {"type": "Token", "credentials": token}
    prom = prometheus_for({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "cmdb", "metrics_path": "/metrics", "authorization": auth,
             "static_configs": [{"targets": [host]}]},
            {"job_name": "nodes", "authorization": auth, "http_sd_configs": [{
                "url": f"http://{host}/api/monitoring/sd/devices/?site=zittau", "refresh_interval": "1s",
                "authorization": auth}]},
        ],
    })

    # 1. Discovery: the devices of Zittau with monitoring enabled, with the CMDB's labels.
    def nodes() -> list[dict[str, Any]]:
        active = prom.api("targets", state="active")["data"]["activeTargets"]
        return [t for t in active if t["labels"]["job"] == "nodes"]

    discovered = prom.wait_for(lambda: len(nodes()) == 5 and nodes(), "five discovered targets")
    by_name = {t["labels"]["name"]: t for t in discovered}
    assert set(by_name) == {"srv00", "srv02", "sw00", "sw01", "cmdb-web"}
    srv = by_name["srv00"]
    assert srv["labels"]["instance"] == "10.10.0.10:9100"
    assert {k: srv["labels"][k] for k in ("ci_id", "kind", "site", "tenant", "role", "exporter")} == {
        "ci_id": str(land.devices[0].ci_id), "kind": "dcim.device", "site": "zittau", "tenant": "rechenzentrum",
        "role": "server", "exporter": "node"}
    assert by_name["sw00"]["scrapeUrl"] == "http://10.10.1.10:9116/snmp"
    assert by_name["cmdb-web"]["scrapeUrl"] == f"http://{host}/metrics"

    # 2. Scrapes: /metrics directly, and through the discovered target carrying its CMDB labels.
    prom.wait_for(lambda: prom.query('up{job="cmdb"} == 1')["data"]["result"], "the cmdb job up")
    looped = prom.wait_for(lambda: prom.query(f'up{{job="nodes",ci_id="{loop.ci_id}"}} == 1')["data"]["result"],
                           "the discovered cmdb-web target up")
    assert looped[0]["metric"]["exporter"] == "cmdb" and looped[0]["metric"]["name"] == "cmdb-web"

    # 3. PromQL through Prometheus' HTTP API returns the number of CIs we created.
    def ci_count() -> Any:
        result = prom.query('count(cmdb_ci_info{job="cmdb"})')["data"]["result"]
        return result and int(result[0]["value"][1])

    assert prom.wait_for(ci_count, "cmdb_ci_info series") == expected_cis
    per_kind = prom.query('sum by (kind) (cmdb_ci_count{job="cmdb"})')["data"]["result"]
    assert {r["metric"]["kind"]: int(r["value"][1]) for r in per_kind} == {
        "dcim.device": 7, "virtualization.virtualmachine": 2, "virtualization.cluster": 1}
    joined = prom.query('up{job="nodes"} * on (ci_id) group_left (criticality) cmdb_ci_info{job="cmdb"}')
    assert any(r["metric"].get("ci_id") == str(loop.ci_id) for r in joined["data"]["result"])
