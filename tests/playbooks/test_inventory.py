"""The Ansible inventory: script interface, REST endpoint, the real inventory plugin, permissions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from cmdb.extras.configcontexts import ConfigContext
from tests import factories as f

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def _contexts(w: Any) -> None:
    base = ConfigContext(name="base", weight=100, data={"cmdb_ntp_servers": ["ntp1.example.org"], "dns": "a"})
    base.validated_save()
    zittau = ConfigContext(name="zittau", weight=200, data={"dns": "zittau", "ansible_host": "ignored"})
    zittau.validated_save()
    zittau.sites.set([w.zittau])


def _inventory(*args: str) -> Any:
    out = StringIO()
    call_command("inventory", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_inventory_list_groups_and_hostvars() -> None:
    w = f.world()
    _contexts(w)
    inv = _inventory("--list")
    hv = inv["_meta"]["hostvars"]
    assert set(hv) == {"web01", "web02", "db01", "sw01", "vm-a", "vm-b"}
    assert inv["site_zittau"]["hosts"] == ["vm-a", "vm-b", "web01", "web02"]
    assert inv["role_server"]["hosts"] == ["db01", "web01", "web02"]
    assert inv["platform_debian"]["hosts"] == ["web01"]
    assert inv["tenant_informatik"]["hosts"] == ["vm-a", "web01", "web02"]
    assert inv["tag_red"]["hosts"] == ["web01", "web02"]
    assert inv["status_planned"]["hosts"] == ["db01", "vm-b"]
    assert inv["kind_vm"]["hosts"] == ["vm-a", "vm-b"]
    assert "site_zittau" in inv["all"]["children"]
    web01 = hv["web01"]
    assert web01["ansible_host"] == "10.1.0.11"  # the primary IP, not the context's value
    assert web01["dns"] == "zittau" and web01["cmdb_ntp_servers"] == ["ntp1.example.org"]
    assert web01["cmdb"]["ci_id"] == w.devices["web01"].ci_id
    assert web01["cmdb"]["site"] == "zittau" and web01["cmdb"]["tags"] == ["blue", "red"]
    assert hv["db01"]["ntp"] == ["10.0.0.1"] and hv["db01"]["dns"] == "a"  # local data and the base context
    assert hv["vm-a"]["cmdb"]["cluster"] == "pve-zittau"
    assert _inventory("--host", "web01") == web01
    assert _inventory("--host", "nope") == {}


@pytest.mark.django_db
def test_inventory_costs_a_fixed_number_of_queries(django_assert_max_num_queries: Any) -> None:
    w = f.world()
    _contexts(w)
    for i in range(50):
        f.device(f"n{i:03}", at=w.goerlitz, dtype=w.r650, as_role=w.server).tags.set([w.tags["red"]])
    from playbooks.inventory import build_inventory

    # 22: two of them read services and relationships for the service_<slug> groups.
    with django_assert_max_num_queries(22):
        inv = build_inventory()
    assert len(inv["_meta"]["hostvars"]) == 56


@pytest.mark.django_db
def test_inventory_api_is_tenant_scoped(api: Any, make_user: Any, client_for: Any) -> None:
    from cmdb.users.models import ObjectPermission

    w = f.world()
    assert set(api.get("/api/ansible/inventory/").json()["_meta"]["hostvars"]) >= {"web01", "db01"}
    user = make_user("faculty-admin")
    perm = ObjectPermission.objects.create(name="informatik", object_types=["dcim.device",
                                           "virtualization.virtualmachine"], actions=["view"])
    perm.tenants.set([w.tenant_a])
    perm.users.add(user)
    hosts = set(client_for(user).get("/api/ansible/inventory/").json()["_meta"]["hostvars"])
    assert hosts == {"web01", "web02", "vm-a"}
    assert client_for(user).get("/api/ansible/inventory/?host=db01").json() == {}
    from rest_framework.test import APIClient

    assert APIClient().get("/api/ansible/inventory/").status_code in (401, 403)


@pytest.mark.live
@pytest.mark.skipif(shutil.which("ansible-inventory", path=str(Path(sys.executable).parent)) is None,
                    reason="ansible-inventory (ansible-core) is not installed in this environment")
def test_inventory_plugin_reads_the_rest_api(live_server: Any, transactional_db: Any, superuser: Any,
                                             make_token: Any, tmp_path: Path) -> None:
    w = f.world()
    _contexts(w)
    config = tmp_path / "cmdb.yml"
    config.write_text(f"plugin: cmdb\napi_endpoint: {live_server.url}\n")
    env = {**os.environ, "CMDB_TOKEN": make_token(superuser), "ANSIBLE_INVENTORY_PLUGINS":
           str(PLAYBOOKS / "inventory_plugins"), "ANSIBLE_INVENTORY_ENABLED": "cmdb",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(config), "--list"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    inv = json.loads(out.stdout)
    assert sorted(inv["site_zittau"]["hosts"]) == ["vm-a", "vm-b", "web01", "web02"]
    web01 = inv["_meta"]["hostvars"]["web01"]
    # ansible-core >= 2.19 prints data from inventory sources as untrusted (never templated) strings.
    assert _plain(web01["dns"]) == "zittau"
    assert _plain(web01["ansible_host"]) == "10.1.0.11"
    assert _plain(web01["cmdb"]["name"]) == "web01"


def _plain(value: Any) -> Any:
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value
