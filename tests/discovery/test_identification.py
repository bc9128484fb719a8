"""Identification rules in every order, and the classic conflicts."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from discovery.identification import RULES
from discovery.models import Host, Identifier, IngestRecord
from discovery.services import ingest_report

from .helpers import report

pytestmark = pytest.mark.django_db

MAC_A, MAC_B, MAC_C = "00:16:3e:00:00:0a", "00:16:3e:00:00:0b", "00:16:3e:00:00:0c"
UUID_1 = "4c4c4544-0042-3510-8051-b4c04f4e3232"
UUID_2 = "4c4c4544-0042-3510-8051-b4c04f4e9999"


def full(**over: Any) -> dict[str, Any]:
    kw = {"serial": "SN-1", "uuid": UUID_1, "macs": [MAC_A], "hostname": "web1", "fqdn": "web1.example.org"}
    kw.update(over)
    return report(**kw)


ONLY = {
    "serial": {"serial": "SN-1", "uuid": None, "macs": [], "fqdn": None, "hostname": None},
    "uuid": {"serial": None, "uuid": UUID_1, "macs": [], "fqdn": None, "hostname": None},
    "mac": {"serial": None, "uuid": None, "macs": [MAC_A], "fqdn": None, "hostname": None},
    "fqdn": {"serial": None, "uuid": None, "macs": [], "fqdn": "web1.example.org", "hostname": None},
}


@pytest.mark.parametrize("order", list(itertools.permutations(RULES)), ids="-".join)
def test_every_rule_order_matches_with_the_first_applicable_rule(settings: Any, order: tuple[str, ...]) -> None:
    settings.CMDB_DISCOVERY = {"IDENTIFICATION_RULES": list(order)}
    created = ingest_report(full())
    assert created.action == "create"
    # A report carrying everything matches by the first rule of the order.
    again = ingest_report(full())
    assert (again.ci_id, again.rule) == (created.ci_id, order[0])
    # A report carrying one identifier matches by exactly that rule.
    for rule in order:
        result = ingest_report(report(**ONLY[rule]))
        assert (result.ci_id, result.rule) == (created.ci_id, rule)
    assert Host.objects.count() == 1
    assert IngestRecord.objects.filter(rule=order[0]).exists()


def test_disabled_rule_is_not_used(settings: Any) -> None:
    settings.CMDB_DISCOVERY = {"IDENTIFICATION_RULES": ["serial", "uuid"]}
    ingest_report(full())
    result = ingest_report(report(**ONLY["mac"]))
    assert result.action == "create"
    assert Host.objects.count() == 2


def test_same_serial_different_hostname_is_a_rename() -> None:
    first = ingest_report(full())
    renamed = ingest_report(full(hostname="web1-new", fqdn="web1-new.example.org", macs=[MAC_B]))
    assert (renamed.ci_id, renamed.rule) == (first.ci_id, "serial")
    host = Host.objects.get()
    assert (host.name, host.fqdn) == ("web1-new", "web1-new.example.org")
    # Identifiers follow: the old name and MAC no longer point at the CI.
    values = set(Identifier.objects.filter(ci_id=first.ci_id).values_list("scheme", "value"))
    assert ("fqdn", "web1-new.example.org") in values and ("fqdn", "web1.example.org") not in values
    assert ("mac", MAC_B) in values and ("mac", MAC_A) not in values


def test_same_serial_other_manufacturer_is_another_machine() -> None:
    first = ingest_report(full())
    other = ingest_report(full(manufacturer="HPE", uuid=UUID_2, macs=[MAC_B], hostname="db1", fqdn="db1.x"))
    assert other.ci_id != first.ci_id


def test_mac_moved_to_another_machine() -> None:
    a = ingest_report(report(serial="SN-A", macs=[MAC_A, MAC_B], hostname="a"))
    b = ingest_report(report(serial="SN-B", macs=[MAC_C], hostname="b"))
    # The NIC with MAC_B is moved from machine A to machine B.
    moved = ingest_report(report(serial="SN-B", macs=[MAC_B, MAC_C], hostname="b"))
    assert (moved.ci_id, moved.rule) == (b.ci_id, "serial")
    assert {"identifier": f"mac={MAC_B}", "moved_from_ci": a.ci_id} in moved.conflicts
    assert Identifier.objects.get(scheme="mac", value=MAC_B).ci_id == b.ci_id
    # A new machine carrying a known MAC but a new serial is a new CI, and takes the MAC.
    c = ingest_report(report(serial="SN-C", macs=[MAC_A], hostname="c"))
    assert c.action == "create"
    assert any(x.get("rejected") == "serial differs" for x in c.conflicts)
    assert Identifier.objects.get(scheme="mac", value=MAC_A).ci_id == c.ci_id
    assert Host.objects.count() == 3


def test_cloned_vm_with_the_same_uuid_is_a_new_ci() -> None:
    template = ingest_report(report(manufacturer=None, uuid=UUID_1, macs=[MAC_A], hostname="tmpl",
                                    fqdn="tmpl.example.org", virtual=True))
    clone = ingest_report(report(manufacturer=None, uuid=UUID_1, macs=[MAC_B], hostname="clone1",
                                 fqdn="clone1.example.org", virtual=True))
    assert clone.action == "create" and clone.ci_id != template.ci_id
    assert any("cloned" in x.get("rejected", "") for x in clone.conflicts)
    # Both keep the shared UUID; each later report still finds its own CI.
    assert Identifier.objects.filter(scheme="uuid", value=UUID_1).count() == 2
    again = ingest_report(report(manufacturer=None, uuid=UUID_1, macs=[MAC_B], hostname="clone1",
                                 fqdn="clone1.example.org", virtual=True))
    assert again.ci_id == clone.ci_id
    again = ingest_report(report(manufacturer=None, uuid=UUID_1, macs=[MAC_A], hostname="tmpl",
                                 fqdn="tmpl.example.org", virtual=True))
    assert again.ci_id == template.ci_id


def test_reused_name_on_new_hardware_is_a_new_ci() -> None:
    old = ingest_report(report(serial="OLD", macs=[MAC_A], hostname="mail", fqdn="mail.example.org"))
    new = ingest_report(report(macs=[MAC_B], hostname="mail", fqdn="mail.example.org"))
    assert new.ci_id != old.ci_id
    assert Identifier.objects.get(scheme="fqdn", value="mail.example.org").ci_id == new.ci_id


def test_rejected_candidate_falls_through_to_the_next_rule() -> None:
    a = ingest_report(report(serial="SN-A", macs=[MAC_A], hostname="a", fqdn="a.example.org"))
    # The serial rule finds nothing, the MAC rule proposes A (no contradiction): matched by mac.
    result = ingest_report(report(macs=[MAC_A], hostname="a", fqdn="a.example.org"))
    assert (result.ci_id, result.rule) == (a.ci_id, "mac")
