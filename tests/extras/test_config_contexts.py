"""Config contexts: assignment matching, weight-ordered deep merge, the API, and query counts."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.core.models import ObjectChange
from cmdb.extras.configcontexts import ConfigContext, deep_merge
from tests import factories as f

pytestmark = pytest.mark.django_db


def _ctx(name: str, weight: int, data: dict, **assign: Any) -> ConfigContext:
    c = ConfigContext(name=name, weight=weight, data=data)
    c.validated_save()
    for field, objs in assign.items():
        getattr(c, field).set(objs)
    return c


def test_deep_merge_replaces_scalars_and_lists_merges_dicts() -> None:
    assert deep_merge({"a": {"x": 1, "y": [1]}, "b": 1}, {"a": {"y": [2]}, "c": 3}) == {
        "a": {"x": 1, "y": [2]}, "b": 1, "c": 3}


def test_contexts_merge_by_weight_and_match_assignments(api: Any) -> None:
    w = f.world()
    _ctx("global", 100, {"ntp": ["pool.ntp.org"], "motd": {"org": "HSZG", "site": "?"}})
    _ctx("zittau", 200, {"motd": {"site": "Zittau"}}, sites=[w.zittau])
    _ctx("debian-red", 300, {"pkg": "apt"}, platforms=[w.debian], tags=[w.tags["red"]])
    _ctx("goerlitz-servers", 300, {"ntp": ["10.9.9.9"]}, sites=[w.goerlitz], roles=[w.server])
    inactive = _ctx("off", 999, {"ntp": []})
    ConfigContext.objects.filter(pk=inactive.pk).update(is_active=False)

    devices = {d["name"]: d for d in api.get("/api/dcim/devices/?limit=0").json()["results"]}
    assert devices["web01"]["config_context"] == {"ntp": ["pool.ntp.org"], "motd": {"org": "HSZG", "site": "Zittau"},
                                                  "pkg": "apt"}
    assert devices["web02"]["config_context"] == {"ntp": ["pool.ntp.org"], "motd": {"org": "HSZG", "site": "Zittau"}}
    # db01: the Görlitz server context, then its local data on top.
    assert devices["db01"]["config_context"] == {"ntp": ["10.0.0.1"], "motd": {"org": "HSZG", "site": "?"}}
    assert devices["sw01"]["config_context"]["ntp"] == ["pool.ntp.org"]  # a switch: not "servers"
    assert w.devices["web01"].config_context == devices["web01"]["config_context"]  # model property agrees
    vm = api.get(f"/api/virtualization/virtual-machines/{w.vms['vm-a'].pk}/").json()
    assert vm["config_context"]["motd"]["site"] == "Zittau"  # site from its cluster


def test_device_list_renders_contexts_without_per_row_queries(api: Any, django_assert_max_num_queries: Any) -> None:
    w = f.world()
    _ctx("global", 100, {"a": 1})
    _ctx("zittau", 200, {"b": 2}, sites=[w.zittau], tags=[w.tags["red"]])
    for i in range(30):
        f.device(f"extra{i:02}", at=w.zittau, dtype=w.r650, as_role=w.server)
    with django_assert_max_num_queries(25):
        body = api.get("/api/dcim/devices/?limit=0").json()
    assert body["count"] == 34


def test_config_context_api_crud_is_change_logged(api: Any) -> None:
    w = f.world()
    r = api.post("/api/extras/config-contexts/", {"name": "ntp", "weight": 50, "data": {"ntp": ["10.0.0.5"]},
                                                  "sites": [w.zittau.pk], "tags": [w.tags["red"].pk]},
                 format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert [s["id"] for s in body["sites"]] == [w.zittau.pk]
    assert ObjectChange.objects.filter(changed_object_type__model="configcontext").count() >= 1
    dev = api.get(f"/api/dcim/devices/{w.devices['web02'].pk}/").json()
    assert dev["config_context"] == {"ntp": ["10.0.0.5"]}
    r = api.patch(f"/api/extras/config-contexts/{body['id']}/", {"data": {"ntp": ["10.0.0.6"]}}, format="json")
    assert r.status_code == 200 and r.json()["data"] == {"ntp": ["10.0.0.6"]}
    bad = api.post("/api/extras/config-contexts/", {"name": "bad", "data": [1, 2]}, format="json")
    assert bad.status_code == 400 and "data" in bad.json()
    bad = api.post("/api/extras/config-contexts/", {"name": "bad2", "data": {}, "sites": [999999]}, format="json")
    assert bad.status_code == 400 and "sites" in bad.json()
    assert api.delete(f"/api/extras/config-contexts/{body['id']}/").status_code == 204


def test_demo_contexts_are_idempotent_and_apply() -> None:
    from cmdb.demo.jobs import load
    from cmdb.jobs.models import Schedule

    w = f.world()
    # The demo's Ansible schedule is scoped to tag:ansible-managed; a scope that matches no CI is refused.
    w.devices["web01"].tags.add(f.tag("ansible-managed"))
    load()
    load()
    assert ConfigContext.objects.filter(name="baseline").count() == 1
    assert Schedule.objects.get(name="Nightly Ansible baseline check").enabled is False
    context = w.devices["web01"].config_context
    assert context["cmdb_ntp_servers"] == ["ntp1.hszg.example", "ntp2.hszg.example"]
    assert context["syslog_server"] == "syslog.zittau.hszg.example"
    assert "hwmon" in context["cmdb_node_exporter_collectors"]  # the Server role's context wins by weight
