"""Grafana dashboards: valid JSON models whose every PromQL expression a real Prometheus accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from .prom import DASHBOARDS, Prometheus

EXPECTED = {"cmdb-overview", "cmdb-ci", "cmdb-licenses", "cmdb-reconcilers"}
#: Values Grafana would substitute, so Prometheus sees what it would see from Grafana.
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$ci_id": "1", "$tenant": ".*", "$license": ".*",
             "$reconciler": ".*"}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def expressions(dash: dict[str, Any]) -> Iterator[str]:
    for panel in dash["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            yield var["query"]["query"]


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    assert "$" not in expr, f"unknown variable in {expr}"
    return expr


def test_dashboard_models_have_grafana_shape() -> None:
    found = dashboards()
    assert set(found) == EXPECTED
    uids = set()
    for name, dash in found.items():
        assert dash["uid"] == name and dash["title"] and isinstance(dash["schemaVersion"], int)
        uids.add(dash["uid"])
        names = {v["name"] for v in dash["templating"]["list"]}
        assert "datasource" in names
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)) and ids
        for panel in dash["panels"]:
            assert panel["type"] in {"stat", "timeseries", "table", "bargauge", "piechart", "gauge"}
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"], panel["title"]
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs))
            for target in panel["targets"]:
                for var in re.findall(r"\$\w+", target["expr"]):
                    assert var in VARIABLES and (var.startswith("$__") or var[1:] in names), (name, var)
    assert len(uids) == len(found)
    assert any(v["name"] == "ci_id" for v in found["cmdb-ci"]["templating"]["list"])


@pytest.fixture(scope="module")
def prometheus() -> Iterator[Prometheus]:
    server = Prometheus({"global": {"scrape_interval": "1m"}, "scrape_configs": []})
    yield server
    server.stop()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_expression_parses_in_prometheus(prometheus: Prometheus, name: str) -> None:
    dash = dashboards()[name]
    for expr in expressions(dash):
        if expr.startswith("label_values("):
            # Grafana's own function: check the metric selector inside it.
            expr = re.match(r"label_values\((.+),\s*\w+\)$", expr).group(1)  # type: ignore[union-attr]
        answer = prometheus.query(substitute(expr))
        assert answer["status"] == "success", (name, expr, answer)
