"""The real ``netbox.netbox.nb_inventory`` plugin (the collection the ``ansible`` package bundles) against a
live server loaded with the demo university: ``ansible-inventory --list``, then every claim checked
against the database.

This is the proof behind the API contract: the plugin reads the OpenAPI schema for the filter names
it may send, ``/api/status/``, every list it groups by (``prefix_count`` of sites, ``count_ipaddresses``
of interfaces, ``assigned_to_interface`` on IP addresses, ``exclude=config_context``), and fails on
anything it does not find (issue 14 found ``KeyError: 'prefix_count'``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.live]

ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"


def _collection_version() -> str:
    import ansible_collections.netbox.netbox as collection

    manifest = Path(collection.__path__[0]) / "MANIFEST.json"
    return json.loads(manifest.read_text())["collection_info"]["version"]


def run_inventory(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """``ansible-inventory -i <config> --list`` with only the NetBox plugin enabled; its JSON."""
    if not ANSIBLE_INVENTORY.exists():
        pytest.skip("ansible-inventory is not installed (the 'ansible' package of the test extras)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "netbox.yml"
    source.write_text(json.dumps({"plugin": "netbox.netbox.nb_inventory", "validate_certs": False, **config}))
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        # The plugin caches the schema beside Ansible's local temp directory: one per test.
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_INVENTORY_ENABLED": "netbox.netbox.nb_inventory",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_NOCOLOR": "1",
    }
    proc = subprocess.run([str(ANSIBLE_INVENTORY), "-i", str(source), "--list"], env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "starting with cf" not in proc.stderr, proc.stderr[-3000:]  # a filter the schema does not list
    return plain(json.loads(proc.stdout))


def plain(value: Any) -> Any:
    """Without ansible-core's ``{"__ansible_unsafe": ...}`` markers around strings from the source."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def members(inventory: dict[str, Any], group: str) -> set[str]:
    """Hosts of a group and of its child groups."""
    entry = inventory.get(group, {})
    out = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        out |= members(inventory, child)
    return out


def unwrap(value: Any) -> Any:
    """The plugin's ``plurals`` option (on by default) wraps single values in a list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


@pytest.fixture
def demo(transactional_db: Any) -> Any:
    from cmdb.demo import generator

    assert generator.generate().created
    return generator


def test_nb_inventory_against_the_demo(demo, live_server, superuser, make_token, tmp_path, api):
    """One test for both runs: loading the demo takes most of the time."""
    check_full_inventory(live_server, superuser, make_token, tmp_path / "full", api)
    check_query_filters(live_server, superuser, make_token, tmp_path / "filtered")


def check_full_inventory(live_server: Any, superuser: Any, make_token: Any, tmp_path: Path, api: Any) -> None:
    from cmdb.dcim.models import Device, Interface, Site
    from cmdb.ipam.models import Prefix
    from cmdb.virtualization.models import VirtualMachine

    assert _collection_version().startswith("3.")
    token = make_token(superuser, write=False)
    inventory = run_inventory(tmp_path, {
        "api_endpoint": live_server.url, "token": token, "config_context": True, "interfaces": True,
        "dns_name": True,
        "group_by": ["sites", "device_roles", "platforms", "tenants", "tags", "status", "manufacturers",
                     "device_types", "cluster"],
    })
    hostvars = inventory["_meta"]["hostvars"]

    # Every device and VM is a host (the plugin's default filters: none), under its own name.
    devices = list(Device.objects.values("id", "name", "site__slug", "role__slug", "platform__slug",
                                         "tenant__slug", "status", "device_type__slug",
                                         "device_type__manufacturer__slug", "cluster__name"))
    vms = list(VirtualMachine.objects.values("id", "name", "site__slug", "role__slug", "platform__slug",
                                             "tenant__slug", "status", "cluster__name"))
    assert len(devices) > 1000 and len(vms) > 500
    assert set(hostvars) == {d["name"] for d in devices} | {v["name"] for v in vms}
    assert len(hostvars) == len(devices) + len(vms)
    assert sum(1 for h in hostvars.values() if h["is_virtual"]) == len(vms)

    # Groups by site, role, platform, tenant, status, manufacturer, device type, cluster: as in the database.
    expected: dict[str, set[str]] = defaultdict(set)
    for row in devices + vms:
        for group, key in (("sites", "site__slug"), ("device_roles", "role__slug"), ("platforms", "platform__slug"),
                           ("tenants", "tenant__slug"), ("status", "status"), ("cluster", "cluster__name"),
                           ("device_types", "device_type__slug"),
                           ("manufacturers", "device_type__manufacturer__slug")):
            if row.get(key):
                expected[f"{group}_{row[key]}"].add(row["name"])
    for model, rows in ((Device, devices), (VirtualMachine, vms)):
        names = {r["id"]: r["name"] for r in rows}
        for pk, slug in model.tags.through.objects.values_list(f"{model._meta.model_name}_id", "tag__slug"):
            expected[f"tags_{slug}"].add(names[pk])
    assert {g for g in expected if g.startswith("sites_")} == {f"sites_{s}" for s in Site.objects.values_list(
        "slug", flat=True)}
    for group, hosts in expected.items():
        assert members(inventory, group) == hosts, group
    assert any(g.startswith("tags_") for g in expected) and any(g.startswith("tenants_") for g in expected)

    # ansible_host from the primary IP (NetBox's primary_ip: IPv6 first unless PREFER_IPV4), mask removed.
    with_ip = 0
    for model in (Device, VirtualMachine):
        for name, v4, v6 in model.objects.values_list("name", "primary_ip4__address", "primary_ip6__address"):
            address = v6 or v4
            if address:
                with_ip += 1
                assert hostvars[name]["ansible_host"] == address.split("/")[0], name
                if v4:
                    assert hostvars[name]["primary_ip4"] == v4.split("/")[0], name
            else:
                assert "ansible_host" not in hostvars[name], name
    assert with_ip > 1000

    # The config context of every host, as the REST API renders it (merged contexts and local data).
    rendered = {}
    for path in ("dcim/devices", "virtualization/virtual-machines"):
        url = f"/api/{path}/?limit=0&fields=name,config_context"
        while url:
            body = api.get(url).json()
            rendered.update({r["name"]: r["config_context"] for r in body["results"]})
            url = body["next"]
    assert len(rendered) == len(hostvars)
    assert sum(1 for c in rendered.values() if c) > 1000
    for name, context in rendered.items():
        assert unwrap(hostvars[name]["config_context"]) == context, name

    # Interfaces with their addresses (count_ipaddresses, assigned_to_interface=true) and the DNS name.
    sample = Device.objects.filter(primary_ip4__isnull=False, primary_ip4__interface__isnull=False).first()
    host = hostvars[sample.name]
    assert {i["name"] for i in host["interfaces"]} == set(
        Interface.objects.filter(device=sample).values_list("name", flat=True))
    addresses = {ip["address"] for i in host["interfaces"] for ip in i.get("ip_addresses", [])}
    assert sample.primary_ip4.address in addresses
    assert host.get("dns_name") == (sample.primary_ip4.dns_name or None)

    # The sites' computed prefix_count that the plugin reads (it failed on it before), checked against the DB.
    for site in api.get("/api/dcim/sites/?limit=0").json()["results"]:
        assert site["prefix_count"] == Prefix.objects.filter(site_id=site["id"]).count()
    assert any(s["prefix_count"] for s in api.get("/api/dcim/sites/?limit=0").json()["results"])


def check_query_filters(live_server: Any, superuser: Any, make_token: Any, tmp_path: Path) -> None:
    """The plugin sends only filters the schema lists (it drops others with a warning and fetches all):
    the host count proves each one arrived and was applied."""
    from cmdb.dcim.models import Device
    from cmdb.virtualization.models import VirtualMachine

    servers = Device.objects.filter(role__slug="server").exclude(primary_ip4=None, primary_ip6=None)
    active_vms = VirtualMachine.objects.filter(status="active", tags__slug="backup")
    assert 0 < servers.count() < Device.objects.count() and 0 < active_vms.count() < VirtualMachine.objects.count()
    inventory = run_inventory(tmp_path, {
        "api_endpoint": live_server.url, "token": make_token(superuser, write=False),
        "device_query_filters": [{"role": "server"}, {"has_primary_ip": "true"}],
        "vm_query_filters": [{"status": "active"}, {"tag": "backup"}],
    })
    hostvars = inventory["_meta"]["hostvars"]
    assert set(hostvars) == set(servers.values_list("name", flat=True)) | set(
        active_vms.values_list("name", flat=True))
