"""Issue 14, finding 9: VMs on a failed hypervisor, CIs by name in the impact API, the headline, ``| head``.

The world: a cluster of two hosts (an N+1 redundancy group the cluster depends on), a VM
placed on each host (``hosted_on`` the cluster), a service that depends on the first VM.
Without HA restart the VM on the failed host is down and so is the service; with HA
(custom field ``ha_restart``) it is degraded, and the answer says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from cmdb.services.graph import clear_cache
from cmdb.services.impact import HA_FIELD, failure_heading, impact_of
from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship, Service
from cmdb.services.relationships import ensure_builtin_types
from tests import factories as f

pytestmark = pytest.mark.django_db


def placed_world(*, ha: bool | None) -> dict[str, Any]:
    types = ensure_builtin_types()
    site = f.site("Zittau")
    dtype = f.device_type("R650", maker=f.manufacturer("Dell"))
    role = f.role("Hypervisor")
    cluster = f.cluster("prod", of_type=f.cluster_type(), site=site)
    if ha is not None:
        cluster.custom_field_data = {HA_FIELD: ha}
        cluster.save()
    hv1 = f.device("hv1", at=site, dtype=dtype, as_role=role, serial="SN-HV1")
    hv2 = f.device("hv2", at=site, dtype=dtype, as_role=role, serial="SN-HV2")
    for host in (hv1, hv2):
        host.cluster = cluster
        host.save()
    vm1 = f.vm("app1", cluster=cluster)
    vm2 = f.vm("app2", cluster=cluster)
    vm1.device, vm2.device = hv1, hv2
    vm1.save()
    vm2.save()
    group = RedundancyGroup.objects.create(name="hosts of prod", min_up=1)
    for host in (hv1, hv2):
        RedundancyMember.objects.create(group=group, ci=host.ci)
    service = Service.objects.create(name="Portal", slug="portal", sla_availability="99.5")
    Relationship.objects.create(source=cluster.ci, target=group.ci, type=types["depends_on"])
    for vm in (vm1, vm2):
        Relationship.objects.create(source=vm.ci, target=cluster.ci, type=types["hosted_on"])
    Relationship.objects.create(source=service.ci, target=vm1.ci, type=types["depends_on"])
    clear_cache()
    return {"hv1": hv1, "hv2": hv2, "vm1": vm1, "vm2": vm2, "service": service, "cluster": cluster}


def states(result: Any) -> dict[str, tuple[str, str | None]]:
    return {a["name"]: (a["state"], a["reason"]) for a in result.affected}


@pytest.mark.parametrize("ha", [False, None])
def test_without_ha_the_vm_on_the_failed_host_is_down_and_so_is_what_needs_it(ha: bool | None) -> None:
    w = placed_world(ha=ha)
    result = impact_of([w["hv1"].ci_id])
    got = states(result)
    assert got["app1"] == ("down", "runs on hv1, which is down; cluster prod has no HA restart")
    assert got["app2"] == ("degraded", None)  # on the surviving host: only its cluster is degraded
    assert got["Portal"][0] == "down"
    by_name = {a["name"]: a for a in result.affected}
    assert by_name["app1"]["path_names"] == ["hv1", "app1"] and by_name["app1"]["via"] == ["runs_on"]
    assert by_name["Portal"]["path_names"] == ["hv1", "app1", "Portal"]
    assert result.summary()["down"] == 2 and [s["state"] for s in result.services] == ["down"]
    assert result.order[:1].tolist() == result.graph.locate([w["vm1"].ci_id])  # down rows first


def test_with_ha_the_vm_is_restarted_elsewhere_degraded_and_the_reason_says_so() -> None:
    w = placed_world(ha=True)
    got = states(impact_of([w["hv1"].ci_id]))
    assert got["app1"] == ("degraded", "restarted elsewhere by HA in cluster prod")
    assert got["app2"] == ("degraded", None)
    assert got["Portal"] == ("degraded", None)


def test_ha_does_not_help_when_the_whole_cluster_is_down() -> None:
    w = placed_world(ha=True)
    got = states(impact_of([w["hv1"].ci_id, w["hv2"].ci_id]))
    assert got["app1"][0] == got["app2"][0] == got["Portal"][0] == "down"
    assert got["app1"][1] is None  # down through its cluster, which its path explains


def test_degraded_mode_is_left_to_the_graph() -> None:
    w = placed_world(ha=False)
    got = states(impact_of([w["hv1"].ci_id], mode="degraded"))
    assert got["app1"] == ("degraded", None)


def test_the_api_takes_names_and_lists_the_candidates_of_an_ambiguous_one(api: Any) -> None:
    w = placed_world(ha=False)
    by_name = api.get("/api/services/impact/?ci=hv1")
    assert by_name.status_code == 200, by_name.content
    assert by_name.json()["failed"] == [{"ci_id": w["hv1"].ci_id, "kind": "dcim.device", "name": "hv1"}]
    mixed = api.get(f"/api/services/impact/?ci={w['hv2'].ci_id}&ci=hv1")
    assert mixed.status_code == 200 and mixed.json()["summary"]["down"] == 5  # both hosts: group, cluster, VMs, service
    Service.objects.create(name="hv1", slug="hv1-service")  # a second CI named hv1
    ambiguous = api.get("/api/services/impact/?ci=hv1")
    assert ambiguous.status_code == 400
    message = ambiguous.json()["ci"][0]
    assert "ambiguous" in message and f"{w['hv1'].ci_id} (dcim.device)" in message and "services.service" in message
    unknown = api.get("/api/services/impact/?ci=nosuch")
    assert unknown.status_code == 400 and "No CI named 'nosuch'" in unknown.json()["ci"][0]
    stack = api.get("/api/services/stack/?ci=Portal")
    assert stack.status_code == 200 and {d["name"] for d in stack.json()["dependencies"]} >= {"app1", "prod"}


def test_the_page_shows_the_reason_and_the_grammar(client: Any, superuser: Any) -> None:
    placed_world(ha=False)
    client.force_login(superuser)
    page = client.get("/services/impact/?ci=hv1").content.decode()
    assert "If hv1 fails" in page and "cluster prod has no HA restart" in page


def test_headline_grammar() -> None:
    assert failure_heading(["core-zi-01"], "down") == "If core-zi-01 fails"
    assert failure_heading(["a", "b"], "down") == "If a and b fail"
    assert failure_heading(["a", "b", "c"], "degraded") == "If a, b and c degrade"
    assert failure_heading(["a"], "degraded") == "If a degrades"


def test_cli_headline_and_reason() -> None:
    placed_world(ha=False)
    out = StringIO()
    call_command("impact", "hv1", stdout=out)
    text = out.getvalue()
    assert text.startswith("If hv1 (dcim.device) fails: ")
    assert "(runs on hv1, which is down; cluster prod has no HA restart)" in text


@pytest.mark.django_db(transaction=True)
def test_cli_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``cmdb impact … | head -n 1``: no BrokenPipe traceback (SIGPIPE's exit status, 141)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the subprocess needs the test database on PostgreSQL")
    placed_world(ha=False)
    s = connection.settings_dict
    env = {**os.environ, "CMDB_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}
    cmdb = Path(sys.executable).parent / "cmdb"
    # ``true`` exits at once, long before Django has started: the first write meets a closed pipe.
    script = f"'{cmdb}' impact hv1 | true; echo \"status ${{PIPESTATUS[0]}}\"; '{cmdb}' impact hv1 | head -n 1"
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "status 141" in proc.stdout and "If hv1 (dcim.device) fails" in proc.stdout

