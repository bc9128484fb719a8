"""Discovery within the reporter's scope: the ingest findings replayed with tenant A's token.

Each test sends a discovery report as alice (tenant A's administrator) that used to write
outside tenant A (or crash the server), and asserts the refusal and that nothing of the report
was written.  Tenant B's discovered host is made by bob's own report through the API, so it
carries tenant B the way any tenant-limited agent's host now does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext

from cmdb.core.models.registry import ConfigurationItem
from cmdb.services.models import Relationship
from cmdb.software.models import SoftwareVersion
from discovery.models import Host, Identifier, IngestRecord
from discovery.services import ingest_report
from tests.discovery.helpers import URL, counts, post, report

from .conftest import fresh, grant, token_client

MAC_B, MAC_A = "02:00:00:00:0b:01", "02:00:00:00:0a:01"


@pytest.fixture
def host_b(world: Any) -> Host:
    """Tenant B's discovered server, reported by bob's agent."""
    response = post(world.b_api, report(name="agent-b", serial="DISC-B", macs=[MAC_B], hostname="web-b",
                                        fqdn="web-b.b.example", os_name="Debian", software=[("nginx", "1.24")]))
    assert response.status_code == 201, response.content
    host = Host.objects.get(pk=response.json()["host"])
    assert host.tenant_id == world.b.pk
    return host


def assert_refused(response: Any, status: int, path: str, before: dict[str, int]) -> None:
    assert response.status_code == status, response.content
    assert path in response.json(), response.json()
    assert counts() == before


# --- 1. a new host belongs to the reporter's tenant --------------------------------------------------------


def test_new_host_gets_the_reporters_tenant_and_the_reporter_can_see_and_re_report_it(world: Any) -> None:
    body = report(name="agent-a", macs=[MAC_A], hostname="app-a", os_name="Debian")
    first = post(world.a_api, body)
    assert first.status_code == 201, first.content
    host = Host.objects.get(pk=first.json()["host"])
    assert host.tenant_id == world.a.pk
    assert ConfigurationItem.objects.get(pk=host.ci_id).tenant_id == world.a.pk
    assert world.a_api.get(f"/api/discovery/hosts/{host.pk}/").status_code == 200
    again = post(world.a_api, {**body, "attributes": {**body["attributes"], "os_name": "Ubuntu"}})
    assert again.status_code == 200, again.content
    assert again.json()["ci"] == host.ci_id and Host.objects.get(pk=host.pk).os_name == "Ubuntu"
    # Bob neither sees it nor may report it.
    assert world.b_api.get(f"/api/discovery/hosts/{host.pk}/").status_code == 404
    before = counts()
    assert_refused(post(world.b_api, body), 403, "$.identifiers.mac_addresses[0]", before)


def test_a_report_naming_another_tenant_is_refused(world: Any) -> None:
    before = counts()
    body = report(name="agent-a", macs=[MAC_A], hostname="app-a")
    assert_refused(post(world.a_api, {**body, "tenant": world.b.slug}), 403, "$.tenant", before)
    # An unknown slug gets the same answer: no list of tenants by trial.
    unknown = post(world.a_api, {**body, "tenant": "no-such-faculty"})
    assert unknown.json() == post(world.a_api, {**body, "tenant": world.b.slug}).json()
    assert unknown.status_code == 403 and counts() == before
    # Its own tenant, named, is fine; a later report naming another tenant for that host is a 400.
    ok = post(world.a_api, {**body, "tenant": world.a.slug})
    assert ok.status_code == 201 and Host.objects.get(pk=ok.json()["host"]).tenant_id == world.a.pk
    before = counts()
    assert_refused(post(world.a_api, {**body, "tenant": world.b.slug}), 400, "$.tenant", before)


def test_a_reporter_of_several_tenants_names_one(world: Any) -> None:
    from tests import factories

    c = factories.tenant("Faculty C")
    carol = get_user("carol")
    grant(name="a-and-c", types=["*"], actions=["view", "add", "change"], users=[carol], tenants=[world.a, c])
    api = token_client(carol)
    body = report(name="agent-c", macs=[MAC_A], hostname="app-c")
    before = counts()
    assert_refused(post(api, body), 400, "$.tenant", before)
    response = post(api, {**body, "tenant": c.slug})
    assert response.status_code == 201, response.content
    assert Host.objects.get(pk=response.json()["host"]).tenant_id == c.pk


def test_an_unlimited_reporter_keeps_hosts_without_a_tenant_unless_it_names_one(world: Any, api: Any) -> None:
    plain = post(api, report(name="campus", macs=[MAC_A], hostname="lab-1"))
    assert plain.status_code == 201 and Host.objects.get(pk=plain.json()["host"]).tenant_id is None
    named = post(api, {**report(name="campus", macs=["02:00:00:00:0c:01"], hostname="lab-2"), "tenant": "faculty-b"})
    assert named.status_code == 201 and Host.objects.get(pk=named.json()["host"]).tenant_id == world.b.pk
    before = counts()
    assert_refused(post(api, {**report(name="campus", macs=["02:00:00:00:0c:02"]), "tenant": "nope"}), 400,
                   "$.tenant", before)


# --- 2. identifiers are never taken from another tenant's host --------------------------------------------


@pytest.mark.parametrize(("identifiers", "path"), [
    ({"macs": [MAC_A, MAC_B]}, "$.identifiers.mac_addresses[1]"),
    ({"fqdn": "web-b.b.example", "macs": [MAC_A]}, "$.identifiers.fqdn"),
    ({"hostname": "web-b.b.example", "macs": [MAC_A]}, "$.identifiers.hostname"),
    ({"serial": "DISC-B"}, "$.identifiers.serial"),
])
def test_an_identifier_of_another_tenants_host_refuses_the_report(world: Any, host_b: Host, identifiers: dict,
                                                                  path: str) -> None:
    before = counts()
    response = post(world.a_api, report(name="agent-a", os_name="Fake", **identifiers))
    assert_refused(response, 403, path, before)
    assert str(host_b.ci_id) not in response.content.decode()  # no "moved_from_ci": <bob's CI>
    held = set(Identifier.objects.filter(ci_id=host_b.ci_id).values_list("scheme", "value"))
    assert {("mac", MAC_B), ("fqdn", "web-b.b.example"), ("serial", "dell inc.|disc-b")} <= held
    assert Host.objects.get(pk=host_b.pk).os_name == "Debian"


def test_a_shared_system_uuid_of_another_tenant_neither_matches_nor_refuses(world: Any) -> None:
    uuid = "4c4c4544-0042-3510-8052-b3c04f4e3232"
    b_host = post(world.b_api, report(name="agent-b", uuid=uuid, macs=[MAC_B], hostname="tmpl"))
    assert b_host.status_code == 201
    mine = post(world.a_api, report(name="agent-a", uuid=uuid, macs=[MAC_A], hostname="clone"))
    assert mine.status_code == 201, mine.content
    assert mine.json()["ci"] != b_host.json()["ci"]
    assert str(b_host.json()["ci"]) not in json.dumps(mine.json()["conflicts"])
    assert Host.objects.get(pk=b_host.json()["host"]).name == "tmpl"


def test_within_the_tenant_identifiers_still_move(world: Any) -> None:
    """The scope changes nothing for the reporter's own hosts: a MAC moved to a new board leaves the old host."""
    old = post(world.a_api, report(name="agent-a", serial="OLD-A", macs=[MAC_A], hostname="old-a"))
    new = post(world.a_api, report(name="agent-a", serial="NEW-A", macs=[MAC_A], hostname="new-a"))
    assert new.status_code == 201, new.content
    assert {"identifier": f"mac={MAC_A}", "moved_from_ci": old.json()["ci"]} in new.json()["conflicts"]
    assert Identifier.objects.get(scheme="mac", value=MAC_A).ci_id == new.json()["ci"]


# --- 3. linking only to records the reporter may change ----------------------------------------------------


def test_linking_ignores_another_tenants_vm_and_device(world: Any) -> None:
    vm = post(world.a_api, report(name="agent-a", macs=["02:00:00:00:0a:10"], hostname="vm-b", virtual=True))
    assert vm.status_code == 201, vm.content
    device = post(world.a_api, report(name="agent-a", serial="SER-B", manufacturer="Dell", hostname="fake-b"))
    assert device.status_code == 201, device.content
    for response in (vm, device):
        host = Host.objects.get(pk=response.json()["host"])
        assert (host.device_id, host.virtual_machine_id, host.link_rule) == (None, None, "")
    # The same rules link to tenant A's own records.
    own_vm = post(world.a_api, report(name="agent-a", macs=["02:00:00:00:0a:11"], hostname="vm-a", virtual=True))
    own_dev = post(world.a_api, report(name="agent-a", serial="SER-A", manufacturer="Dell", hostname="srv-a"))
    assert Host.objects.get(pk=own_vm.json()["host"]).virtual_machine_id == world.vm_a.pk
    assert Host.objects.get(pk=own_dev.json()["host"]).device_id == world.srv_a.pk


# --- 4. relationships only to CIs the reporter may change -------------------------------------------------


def test_a_relationship_to_another_tenants_ci_makes_no_edge(world: Any, host_b: Host) -> None:
    body = report(name="agent-a", macs=[MAC_A], hostname="guest-a")
    body["relationships"] = [{"type": "hosted_on", "target": {"mac_addresses": [MAC_B]}}]
    response = post(world.a_api, body)
    assert response.status_code == 201, response.content
    assert not Relationship.objects.filter(target_id=host_b.ci_id).exists()
    facts = Host.objects.get(pk=response.json()["host"]).facts
    assert facts["relationships"] == [{"type": "hosted_on", "target_ci": None,
                                       "target": {"mac_addresses": [MAC_B]}}]
    # To a host of its own tenant the edge is made.
    own = post(world.a_api, report(name="agent-a", macs=["02:00:00:00:0a:20"], hostname="hv-a"))
    body["relationships"] = [{"type": "hosted_on", "target": {"hostname": "hv-a"}}]
    post(world.a_api, body)
    edge = Relationship.objects.get(source_id=response.json()["ci"])
    assert (edge.target_id, edge.type.slug) == (own.json()["ci"], "hosted_on")


def test_a_relationship_to_the_reporter_itself_is_a_400(world: Any) -> None:
    body = report(name="agent-a", macs=[MAC_A], hostname="self-a")
    body["relationships"] = [{"type": "runs_on", "target": {"mac_addresses": [MAC_A]}}]
    before = counts()
    assert_refused(post(world.a_api, body), 400, "$.relationships[0].target", before)
    post(world.a_api, report(name="agent-a", macs=[MAC_A], hostname="self-a"))
    before = counts()
    assert_refused(post(world.a_api, body), 400, "$.relationships[0].target", before)


def test_a_users_ansible_discovery_of_discovered_hosts_lists_only_theirs(world: Any, host_b: Host) -> None:
    """discovery.ansible with from_cmdb=discovered logs in to the hosts it lists: a faculty's job lists its own."""
    from discovery.runs import discovered_inventory

    post(world.a_api, report(name="agent-a", macs=[MAC_A], hostname="app-a", fqdn="app-a.a.example"))
    assert discovered_inventory(fresh(world.alice)) == "app-a.a.example\n"
    assert discovered_inventory() == "app-a.a.example\nweb-b.b.example\n"


# --- 5. the scope is checked again after the write ---------------------------------------------------------


def test_a_write_that_ends_outside_the_scope_rolls_back(world: Any) -> None:
    """A receiver moves the host to tenant B during the ingest (a concurrent admin's edit, in the same
    transaction so the test can see it): the check after the writes refuses, and nothing stays."""
    first = post(world.a_api, report(name="agent-a", macs=[MAC_A], hostname="moving", os_name="Debian"))
    host = Host.objects.get(pk=first.json()["host"])

    def move(sender: Any, instance: Host, **kwargs: Any) -> None:
        instance.tenant_id = world.b.pk

    pre_save.connect(move, sender=Host, dispatch_uid="test-move-to-b")
    try:
        before = counts()
        response = post(world.a_api, report(name="agent-a", macs=[MAC_A], hostname="moving", os_name="Ubuntu"))
    finally:
        pre_save.disconnect(dispatch_uid="test-move-to-b", sender=Host)
    assert_refused(response, 403, "$", before)
    host.refresh_from_db()
    assert (host.tenant_id, host.os_name) == (world.a.pk, "Debian")


def test_the_scope_gate_is_restrict_not_a_copy() -> None:
    """The discovery services decide with cmdb.users.permissions.restrict; the old re-implementation is gone."""
    from discovery import scope, services

    assert not hasattr(services, "check_permission")
    assert scope.restrict is __import__("cmdb.users.permissions", fromlist=["restrict"]).restrict


# --- 6. the ingest's own records are tenant data -----------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["ingests", "attribute-sources"])
def test_ingest_records_and_attribute_sources_follow_their_ci(world: Any, host_b: Host, endpoint: str) -> None:
    mine = post(world.a_api, report(name="agent-a", macs=[MAC_A], hostname="app-a", os_name="Debian"))
    a_ci = mine.json()["ci"]
    listed = world.a_api.get(f"/api/discovery/{endpoint}/?limit=0").json()["results"]
    assert listed and {row["ci"]["id"] for row in listed} == {a_ci}
    campus = world.viewer_api.get(f"/api/discovery/{endpoint}/?limit=0").json()["results"]
    assert {a_ci, host_b.ci_id} <= {row["ci"]["id"] for row in campus}
    b_row = world.b_api.get(f"/api/discovery/{endpoint}/?limit=1").json()["results"][0]
    assert world.a_api.get(f"/api/discovery/{endpoint}/{b_row['id']}/").status_code == 404
    # Writes are not offered at all: 405 for the tenant admin, 403 for the read-only viewer, never a 500.
    before = counts()
    assert world.a_api.post(f"/api/discovery/{endpoint}/", {"ci": a_ci}, format="json").status_code == 405
    assert world.a_api.delete(f"/api/discovery/{endpoint}/{b_row['id']}/").status_code == 405
    assert world.viewer_api.delete(f"/api/discovery/{endpoint}/{b_row['id']}/").status_code == 403
    assert counts() == before


# --- 7. values that fit the schema but not the database: 400, not 500 --------------------------------------


def _with(mutate: Any) -> dict[str, Any]:
    body = report(name="agent-a", macs=[MAC_A], hostname="odd-a", os_name="Debian", software=[("bash", "5.2")])
    body["attributes"]["extra"] = {"rack": "R1"}
    body["interfaces"] = [{"name": "eth0", "mac_address": MAC_A, "speed_mbps": 1000}]
    mutate(body)
    return body


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda r: r["identifiers"].update(hostname="\ud800"), "$.identifiers.hostname"),
    (lambda r: r["identifiers"].update(serial="S\ud83d"), "$.identifiers.serial"),
    (lambda r: r["identifiers"].update(fqdn="a\udfff.example"), "$.identifiers.fqdn"),
    (lambda r: r["attributes"].update(hostname="\ud800"), "$.attributes.hostname"),
    (lambda r: r["attributes"].update(os_name="Deb\x00ian"), "$.attributes.os_name"),
    (lambda r: r["source"].update(name="agent\ud800"), "$.source.name"),
    (lambda r: r["software"][0].update(name="ba\ud800sh"), "$.software[0].name"),
    (lambda r: r["attributes"]["extra"].update({"k\ud800": 1}), "$.attributes.extra"),
    (lambda r: r["attributes"]["extra"].update({"nul": "a\x00b"}), "$.attributes.extra.nul"),
    (lambda r: r.update(relationships=[{"type": "runs_on", "target": {"hostname": "\ud800"}}]),
     "$.relationships[0].target.hostname"),
    (lambda r: r["attributes"].update(memory_mb=2**64), "$.attributes.memory_mb"),
    (lambda r: r["attributes"].update(memory_mb=2**63), "$.attributes.memory_mb"),
    (lambda r: r["attributes"].update(memory_mb=1e300), "$.attributes.memory_mb"),
    (lambda r: r["attributes"]["extra"].update(n=-(2**70)), "$.attributes.extra.n"),
    (lambda r: r["interfaces"][0].update(speed_mbps=2**65), "$.interfaces[0].speed_mbps"),
    (lambda r: r["identifiers"].update(hostname="İ" * 200), "$.identifiers.hostname"),
    (lambda r: r.update(collected_at="9999-12-31T23:59:59-23:59"), "$.collected_at"),
    (lambda r: r.update(collected_at="0001-01-01T00:00:00+01:00"), "$.collected_at"),
])
def test_unstorable_values_are_a_400_naming_the_field(world: Any, mutate: Any, path: str) -> None:
    before = counts()
    response = post(world.a_api, _with(mutate))
    assert_refused(response, 400, path, before)
    assert "\\ud8" not in response.content.decode() and "\\u0000" not in response.content.decode()


def test_values_near_the_limits_are_stored(world: Any) -> None:
    """What fits the columns once normalised is accepted: a version whose RPM sort key is longer than the
    column (cut, order kept), a time offset beyond PostgreSQL's +-15:59 (stored in UTC), 64-bit integers.
    (``attributes.extra`` holds flat scalars only: the schema refuses nesting there before any of this.)"""
    body = report(name="agent-a", macs=[MAC_A], hostname="edge-a", memory_mb=2**63 - 1)
    body["software"] = [{"name": "odd", "version": "a1" * 50, "package_manager": "rpm"}]
    body["collected_at"] = "2026-01-01T00:00:00+23:59"
    body["attributes"]["extra"] = {"big": -(2**63)}
    response = post(world.a_api, body)
    assert response.status_code == 201, response.content
    version = SoftwareVersion.objects.get(version="a1" * 50)
    assert len(version.sort_key) == 600
    record = IngestRecord.objects.get(ci_id=response.json()["ci"])
    assert record.collected_at.isoformat() == "2025-12-31T00:01:00+00:00"
    assert Host.objects.get(pk=response.json()["host"]).memory_mb == 2**63 - 1


def test_a_number_beyond_double_range_is_a_400(world: Any) -> None:
    """``1e309`` is valid JSON and parses as infinity, which jsonb and the digests cannot hold."""
    body = json.dumps(_with(lambda r: r["attributes"].update(disks=[{"name": "sda", "size_gb": 1.5}])))
    before = counts()
    response = world.a_api.post(URL, data=body.replace("1.5", "1e309"), content_type="application/json")
    assert_refused(response, 400, "$.attributes.disks[0].size_gb", before)


def test_the_same_checks_guard_ingests_without_the_api(world: Any) -> None:
    from discovery.schema import ReportInvalid

    before = counts()
    with pytest.raises(ReportInvalid) as exc:
        ingest_report(_with(lambda r: r["identifiers"].update(hostname="x\ud800")), user=fresh(world.alice))
    assert "$.identifiers.hostname" in exc.value.errors and counts() == before


# --- 8. the checks cost nothing when unlimited and a constant when limited --------------------------------


def test_scope_checks_cost_no_query_unlimited_and_a_constant_limited(world: Any, superuser: Any) -> None:
    """Re-ingests of one unchanged host: the superuser's costs what the system's does, tenant A's at most two
    queries more, with 1 or 200 packages alike."""

    made = iter(range(1, 100))

    def queries(user: Any, n: int) -> int:
        i = next(made)
        body = report(name="agent", macs=[f"02:00:00:00:01:{i:02x}"], hostname=f"h{i}",
                      software=[(f"p{k}", "1.0") for k in range(n)])
        ingest_report(body, user=user)
        user = fresh(user) if user is not None else None
        if user is not None:
            from cmdb.users.permissions import grants_for

            grants_for(user)  # loaded once per request by the API's permission check
        with CaptureQueriesContext(connection) as ctx:
            result = ingest_report(body, user=user)
        assert result.action == "noop"
        return len(ctx.captured_queries)

    for n in (1, 200):
        queries(None, n)  # the first re-ingest of these packages reads their names, which later ones find cached
        system = queries(None, n)
        assert queries(superuser, n) == system
        assert system < queries(world.alice, n) <= system + 2


def get_user(name: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(name, password="correct-horse-battery")
