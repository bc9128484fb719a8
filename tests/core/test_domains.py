"""The domain contract (cmdb/core/domains.py) and the hooks between domains (cmdb/core/hooks.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.dispatch import Signal
from django.test import override_settings
from django.urls import resolve

from cmdb.core import domains, hooks

LOCAL_TOPS = {"cmdb", "discovery", "playbooks", "monitoring", "k8s", "vdi", "backup"}


def test_every_app_of_the_project_uses_its_own_domain_config() -> None:
    """Django silently falls back to a plain AppConfig when an apps module has two candidates; the base
    class must never be one, or an app would lose its label, its ready() and its declarations."""
    local = [c for c in apps.get_app_configs() if c.name.split(".")[0] in LOCAL_TOPS]
    assert len(local) == len([a for a in settings.INSTALLED_APPS if a.split(".")[0] in LOCAL_TOPS])
    for config in local:
        assert isinstance(config, domains.DomainConfig), config.name
        assert type(config) is not domains.DomainConfig and type(config).__module__ == f"{config.name}.apps"
    assert apps.get_app_config("cmdb_ansible").name == "playbooks"  # labels stayed as they were


@pytest.mark.parametrize("attribute", domains.MODULE_ATTRIBUTES)
def test_every_declared_module_imports(attribute: str) -> None:
    modules = domains.import_declared(attribute)
    assert all(m.__name__.split(".")[0] in LOCAL_TOPS for m in modules)


def test_declarations_name_what_the_apps_add() -> None:
    declared = {c.label: c for c in domains.domain_configs()}
    assert declared["discovery"].declared("jobs_module") == "discovery.jobs"
    assert declared["cmdb_ansible"].declared("reconcilers_module") == "playbooks.reconcilers"
    assert "monitoring.metrics" in {c.declared("metrics_module") for c in declared.values()}
    with pytest.raises(ValueError, match="not a module declaration"):
        declared["discovery"].declared("api_urls")
    with pytest.raises(ValueError, match="stage"):
        domains.DemoStep(".demo.step", stage="later")


def test_routes_come_from_the_declarations() -> None:
    prefixes = [prefix for prefix, _module in domains.api_routes()]
    assert len(prefixes) == len(set(prefixes))
    assert {"core", "dcim", "discovery", "monitoring", "ansible", "jobs", "reconcile"} <= set(prefixes)
    assert resolve("/api/discovery/hosts/").url_name == "discovery-hosts-list"
    assert resolve("/api/ansible/inventory/").url_name == "ansible-inventory"
    assert resolve("/metrics").url_name == "metrics"
    assert resolve("/monitoring/incidents/").view_name == "monitoring:incident-list"
    assert resolve("/discovery/reconciliation/1/").url_name == "discovery-reconciliation"


def test_api_root_lists_every_declared_app_with_a_root(api: Any) -> None:
    root = api.get("/api/").json()
    for app in ("core", "dcim", "extras", "ipam", "tenancy", "users", "virtualization", "software", "services",
                "discovery", "monitoring", "jobs", "reconcile", "ansible"):
        assert root[app] == f"http://testserver/api/{app}/"
        assert api.get(f"/api/{app}/").status_code == 200


def test_the_demo_runs_the_domains_steps_by_stage() -> None:
    assert [f.__module__ for f in domains.demo_steps("plan")] == ["monitoring.demo"]
    assert [f.__module__ for f in domains.demo_steps("extend")] == [
        "discovery.demo", "k8s.demo", "vdi.demo", "cmdb.changes.demo"]  # order 100, 120, 200, 300
    with pytest.raises(ValueError):
        domains.demo_steps("later")


def test_a_new_domain_is_a_folder_and_a_line_in_installed_apps() -> None:
    """Installing the sample domain is all it takes for its routes, metrics, receivers and demo step to count."""
    from tests.core.sample_domain import receivers

    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.core.sample_domain"]):
        assert ("sample", "tests.core.sample_domain.api_urls") in domains.api_routes()
        assert ("sample/", "tests.core.sample_domain.urls") in domains.web_routes()
        assert receivers.CONNECTED  # its ready() connected its receivers
        collectors = domains.metrics_collectors()
        assert collectors[-1].__module__ == "tests.core.sample_domain.metrics"
        assert [f.__module__ for f in domains.demo_steps("extend")] == [
            "tests.core.sample_domain.demo", "discovery.demo", "k8s.demo", "vdi.demo",
            "cmdb.changes.demo"]  # order 50, 100, 120, 200, 300
    assert "sample" not in dict(domains.api_routes())


# --- hooks ----------------------------------------------------------------------------------------

def test_first_answer_takes_the_first_non_none_answer_and_passes_errors_on() -> None:
    signal = Signal()
    assert hooks.first_answer(signal, x=1) is None

    def silent(sender: Any, **kwargs: Any) -> None:
        return None

    def answering(sender: Any, *, x: int, **kwargs: Any) -> int:
        return x * 2

    signal.connect(silent, weak=False)
    signal.connect(answering, weak=False)
    assert hooks.first_answer(signal, x=21) == 42

    def failing(sender: Any, **kwargs: Any) -> None:
        raise ValueError("bad scope")

    signal.disconnect(silent)
    signal.disconnect(answering)
    signal.connect(failing, weak=False)
    with pytest.raises(ValueError, match="bad scope"):
        hooks.first_answer(signal)


@pytest.mark.django_db
def test_the_ansible_inventory_reaches_discovery_through_the_hook() -> None:
    from discovery.runs import cmdb_inventory
    from tests import factories as f

    f.device("web01", at=f.site("Zittau"), dtype=f.device_type(maker=f.manufacturer("Dell")), as_role=f.role("Server"))
    inventory = cmdb_inventory("all")
    assert "web01" in inventory["all"]["hosts"]
    with pytest.raises(ValueError, match="Unknown scope term"):
        cmdb_inventory("bogus:x")
    from playbooks.receivers import connect

    hooks.ansible_inventory_requested.disconnect(dispatch_uid="playbooks.ansible_inventory")
    try:
        with pytest.raises(ValueError, match="needs the Ansible app"):
            cmdb_inventory("all")
    finally:
        connect()


def test_facts_are_gathered_only_when_someone_takes_them(settings: Any) -> None:
    from discovery.receivers import connect
    from playbooks.reconcilers import discovery_facts_enabled

    assert discovery_facts_enabled()
    hooks.ansible_facts_gathered.disconnect(dispatch_uid="discovery.ingest_ansible_facts")
    try:
        assert not discovery_facts_enabled()
    finally:
        connect()
    assert discovery_facts_enabled()
    settings.ANSIBLE_DISCOVERY_FACTS = False
    assert not discovery_facts_enabled()
