"""Property-based fuzzing of the discovery report ingest through the API (Hypothesis).

Reports are built from the structure of the JSON schema (discovery/agents/schema/report-v1.json) with
values that are often wrong in the ways real agents and attackers get them wrong: arbitrary
text with lone surrogates, NUL characters and characters that grow when lower-cased, integers
far beyond 64 bits and negative ones, deep-ish nesting in the free-form ``extra``, out-of-range
times, wrong types, unknown keys, identifiers shared with tenant A's and tenant B's hosts, and
relationships to the reporter itself and to other tenants' CIs.  Each is POSTed as tenant A's
administrator (and sometimes as a superuser) and must never cause a 5xx; a refused report must
write nothing; an accepted one must stay inside the reporter's tenant and leave tenant B's host
as it was.

Every example runs in a savepoint that is rolled back afterwards, so examples do not see each
other's hosts and a failure replays exactly.  The number of examples is bounded (CI runs this in
well under a minute); ``HYPOTHESIS_EXAMPLES`` raises it for a longer local hunt.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cmdb.services.models import Relationship
from discovery.models import Host, Identifier
from discovery.software import clear_cache
from tests.discovery.helpers import URL, counts, post, report

from .conftest import token_client
from .test_discovery_scope import MAC_A, MAC_B

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "120"))
SOURCE_TYPES = ["agent", "network", "ansible", "libvirt", "kubernetes", "import"]
REL_TYPES = ["hosted_on", "runs_on", "connected_to", "member_of"]

# --- values: a clean report has the schema's types and formats, with hard but storable text -------------------

plain = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)


def txt(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Text the schema accepts up to ``max_size``: plain, any Unicode, or characters that grow when lower-cased."""
    tricky = st.sampled_from(["İ", "ẞ", "ǅ", "a١", "a१", "Ω"]).map(lambda c: (c * max_size)[:max_size])
    anything = st.text(st.characters(exclude_characters="\x00"), min_size=max(min_size, 1), max_size=max_size)
    return st.one_of(plain.map(lambda t: t[:max_size]), anything, tricky)


poison = st.tuples(plain, st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00"]) | st.characters(categories=["Cs"]),
                   st.text(st.characters(), max_size=5)).map("".join)
huge = st.sampled_from([2**63 - 1, 2**63, 2**64, 2**64 - 1, -(2**63) - 1, 2**70, -(2**90), 10**30])
ints = st.one_of(st.integers(-5, 70000), st.integers(-(2**80), 2**80), huge)
numbers = st.one_of(ints, st.floats(allow_nan=False, allow_infinity=False), st.just(1e300))
scalars = st.one_of(st.none(), st.booleans(), ints, numbers, txt(20), poison)


def rarely(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], one_in: int = 10) -> st.SearchStrategy[Any]:
    """``usual``, and ``odd`` about once in ``one_in`` draws (the ingest should mostly get that far).

    ``odd`` sits on an inner value: Hypothesis favours the bounds of a range, and shrinks towards ``usual``.
    """
    return st.integers(1, one_in).flatmap(lambda n: odd if n == 2 else usual)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


json_values = rarely(
    st.recursive(st.one_of(st.none(), st.booleans(), rarely(st.integers(-(10**9), 10**9), ints), numbers, txt(30)),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(txt(20), inner, max_size=3),
                 max_leaves=10),
    st.integers(1, 90).map(nested),  # deep-ish: on both sides of the ingest's nesting limit
    one_in=5,
)

# Identifiers: often the ones tenant A's and tenant B's hosts hold, so reports collide with them.
macs = st.one_of(st.sampled_from([MAC_A, MAC_B, MAC_A.upper(), "02:00:00:00:0a:99"]),
                 st.from_regex(r"\A[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z"))
serials = st.one_of(st.sampled_from(["DISC-A", "DISC-B", "SER-A", "SER-B"]), txt(100, 1))
names = st.one_of(st.sampled_from(["app-a", "app-a.a.example", "web-b", "web-b.b.example", "vm-a", "vm-b"]),
                  txt(255, 1))
identifiers = st.fixed_dictionaries({}, optional={
    "serial": serials,
    "manufacturer": st.sampled_from(["Dell Inc.", "Dell", "HPE"]) | txt(100, 1),
    "system_uuid": st.uuids().map(str) | st.just("4c4c4544-0042-3510-8052-b3c04f4e3232"),
    "mac_addresses": st.lists(macs, max_size=3),
    "fqdn": names,
    "hostname": names,
}).map(lambda ids: ids or {"hostname": "app-a"})  # the schema wants at least one
attributes = st.fixed_dictionaries({}, optional={
    "hostname": names, "manufacturer": txt(100), "product": txt(100), "virtual": st.booleans(),
    "os_name": txt(100), "os_version": txt(100), "kernel": txt(100), "cpu_model": txt(200),
    "cpu_sockets": st.integers(0, 1024), "cpu_cores": st.integers(0, 100000),
    "memory_mb": rarely(st.integers(0, 2**40), huge.map(abs) | st.just(1e300)),
    "disks": st.lists(st.fixed_dictionaries({"name": txt(100)}, optional={
        "size_gb": rarely(st.floats(0, 1e6), st.integers(0, 2**70)), "rotational": st.booleans()}),
        max_size=2),
    "services": st.lists(st.fixed_dictionaries({"protocol": st.sampled_from(["tcp", "udp"]),
                                                "port": st.integers(0, 65535)}), max_size=2),
    "sys_object_id": st.from_regex(r"\A1(\.[0-9]{1,25}){0,4}\Z"),
    "extra": st.dictionaries(txt(20), json_values, max_size=3),
})
interfaces = st.lists(st.fixed_dictionaries({"name": txt(64, 1)}, optional={
    "mac_address": macs, "mtu": st.integers(1, 65536), "speed_mbps": rarely(st.integers(0, 10**6), huge.map(abs)),
    "enabled": st.booleans(), "addresses": st.lists(txt(64), max_size=2),
    "lldp_neighbors": st.lists(st.fixed_dictionaries({}, optional={"system_name": txt(255), "port": txt(255)}),
                               max_size=2),
}), max_size=3)
versions = st.one_of(st.from_regex(r"\A([0-9]+:)?[0-9][0-9a-z.+~^]{0,20}(-[0-9a-z.~]{1,10})?\Z"),
                     st.text(st.sampled_from("a1١१~^:.-+"), min_size=1, max_size=100), txt(100, 1))
software = st.lists(st.fixed_dictionaries({"name": txt(100, 1), "version": versions}, optional={
    "vendor": txt(100), "package_manager": st.sampled_from(["dpkg", "rpm", "other"]), "architecture": txt(20)}),
    max_size=4)
relationships = st.lists(st.fixed_dictionaries({"type": st.sampled_from(REL_TYPES), "target": identifiers}),
                         max_size=3)
offsets = st.sampled_from(["Z", "+00:00", "+01:00", "-23:59", "+23:59"])
valid_times = st.tuples(st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1)), offsets).map(
    lambda t: t[0].replace(microsecond=0).isoformat() + t[1])



times = rarely(valid_times, st.sampled_from([
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "2026-02-30T10:00:00Z", "2026-01-01T00:00:00+23:59"]))
clean_reports = st.fixed_dictionaries(
    {
        "schema_version": st.just("1"),
        "source": st.fixed_dictionaries({"type": st.sampled_from(SOURCE_TYPES), "name": txt(100, 1)},
                                        optional={"version": txt(50)}),
        "collected_at": times,
        "kind": st.sampled_from(["host", "network_device"]),
        "identifiers": identifiers,
    },
    optional={
        "tenant": st.sampled_from(["faculty-a", "faculty-b", "no-such-faculty"]),
        "attributes": attributes,
        "interfaces": interfaces,
        "software": software,
        "relationships": relationships,
    },
)
# What a mutation puts somewhere in a clean report: poison, huge numbers, any JSON, a deep nest.
replacements = st.one_of(poison, huge, scalars, json_values)


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of a report, the places a mutation may change."""
    out, stack = [], [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((node, key))
            stack.append(child)
    return out


@st.composite
def reports(draw: Any) -> dict[str, Any]:
    """A clean report, then up to two mutations: a value replaced, a key dropped or an unknown key added."""
    body = draw(clean_reports)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        slots = _slots(body)
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        how = draw(st.sampled_from(["replace", "replace", "replace", "drop", "add"]))
        if how == "replace":
            container[key] = draw(replacements)
        elif how == "drop":
            container.pop(key)
        elif isinstance(container, dict):
            container[draw(txt(20, 1) | poison)] = draw(replacements)
    return body


class _Rollback(Exception):
    """Ends an example's savepoint: the next example starts from the same world."""


@pytest.fixture
def fuzz_world(world: Any, superuser: Any) -> Any:
    """Tenant A's and tenant B's discovered hosts, each reported by its own admin, plus a superuser's token."""
    a = post(world.a_api, report(name="agent-a", serial="DISC-A", macs=[MAC_A], hostname="app-a",
                                 fqdn="app-a.a.example", software=[("bash", "5.2")]))
    b = post(world.b_api, report(name="agent-b", serial="DISC-B", macs=[MAC_B], hostname="web-b",
                                 fqdn="web-b.b.example", software=[("nginx", "1.24")]))
    assert (a.status_code, b.status_code) == (201, 201)
    world.host_a, world.host_b = Host.objects.get(pk=a.json()["host"]), Host.objects.get(pk=b.json()["host"])
    world.root_api = token_client(superuser)
    return world


def _state_of_b(world: Any) -> tuple[Any, ...]:
    host = Host.objects.get(pk=world.host_b.pk)
    return (host.name, host.os_name, host.tenant_id, host.facts,
            sorted(Identifier.objects.filter(ci_id=host.ci_id).values_list("scheme", "value")),
            Relationship.objects.filter(target_id=host.ci_id).count())


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(body=reports(), as_root=st.integers(0, 4).map(lambda n: n == 0))
def test_no_report_causes_a_server_error_or_writes_outside_the_scope(fuzz_world: Any, body: dict[str, Any],
                                                                     as_root: bool) -> None:
    world = fuzz_world
    client = world.root_api if as_root else world.a_api
    clear_cache()
    try:
        with transaction.atomic():
            before, b_before = counts(), _state_of_b(world)
            response = client.post(URL, data=json.dumps(body), content_type="application/json")
            event(f"status {response.status_code}")
            assert response.status_code in (200, 201, 400, 403), (response.status_code, response.content[:2000])
            if response.status_code >= 400:
                # Refused by the ingest's own checks, naming the JSON path (not a database error caught late).
                assert all(key.startswith("$") for key in response.json()), response.content[:2000]
                assert counts() == before, f"a refused report ({response.status_code}) wrote something"
            elif not as_root:
                result = response.json()
                host = Host.objects.get(pk=result["host"])
                assert host.tenant_id == world.a.pk
                assert _state_of_b(world) == b_before
                assert host.device_id in (None, world.srv_a.pk) and host.virtual_machine_id in (None, world.vm_a.pk)
                edges = Relationship.objects.filter(source_id=host.ci_id)
                assert set(edges.values_list("target__tenant", flat=True)) <= {world.a.pk}
            raise _Rollback
    except _Rollback:
        pass
