"""Identification: which existing CI, if any, a report describes.

The rules run in the configured order (``conf.IDENTIFICATION_RULES``).  A rule
proposes the CI that holds the report's identifier of its scheme (for MAC sets,
the CI sharing the most addresses); the proposal is *rejected* when stronger
evidence contradicts it, and the next rule is tried:

* serial + manufacturer is the hardware itself: only a different system UUID
  cannot overrule it (boards get replaced), so a renamed machine stays one CI;
* any other rule is rejected when both sides have a serial and they differ, or
  both have a system UUID and they differ;
* the UUID rule is also rejected when the MAC sets are disjoint and the names
  differ: that is a cloned VM carrying its template's UUID, not the template;
* the FQDN rule is also rejected when the MAC sets are disjoint (same name
  re-used by new hardware).

No proposal survives ⇒ a new CI.  The result names the rule that matched and
the conflicts seen, so the ingest record can explain the decision.

``allowed`` narrows the candidates to the CIs the reporter may change (see
:mod:`discovery.scope`): the others are neither proposed nor named in the
conflicts; their identifier rows are returned apart (``foreign``), so the ingest
can refuse a report whose unique identifier belongs to one of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from discovery import conf
from discovery.models import Identifier

RULES = ("serial", "uuid", "mac", "fqdn")
#: Candidate CI ids -> the subset the reporter may change (one query for all of them).
Allowed = Callable[[set[int]], set[int]]
Row = tuple[int, int, str, str]


def report_identifiers(identifiers: dict[str, Any]) -> dict[str, set[str]]:
    """Normalised identifier values by scheme (lower case; serials scoped by manufacturer)."""
    out: dict[str, set[str]] = {}
    serial = (identifiers.get("serial") or "").strip().lower()
    if serial:
        out["serial"] = {f"{(identifiers.get('manufacturer') or '').strip().lower()}|{serial}"}
    uuid = (identifiers.get("system_uuid") or "").strip().lower()
    if uuid:
        out["uuid"] = {uuid}
    macs = {m.lower() for m in identifiers.get("mac_addresses") or []}
    if macs:
        out["mac"] = macs
    name = (identifiers.get("fqdn") or identifiers.get("hostname") or "").strip().lower().rstrip(".")
    if name:
        out["fqdn"] = {name}
    return out


@dataclass
class Identification:
    ci_id: int | None
    rule: str = ""
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    #: Every stored identifier row touching the report's values: (id, ci_id, scheme, value).
    rows: list[Row] = field(default_factory=list)
    #: The matched CI's own identifiers by scheme.
    current: dict[str, set[str]] = field(default_factory=dict)
    #: (scheme, value) of the report held by CIs outside ``allowed`` (never matched, never moved).
    foreign: list[tuple[str, str]] = field(default_factory=list)


def _load(wanted: dict[str, set[str]]) -> tuple[list[Row], dict[int, dict[str, set[str]]]]:
    """Every identifier of every CI holding one of the report's values: one query.

    Returns the rows that match the report, and each candidate CI's identifiers by scheme.
    """
    from django.db import connection
    from django.db.models import Q

    if connection.vendor == "postgresql" and wanted:
        # Hand-written: one statement, no ORM compilation (this runs for every report).
        pairs = [(s, v) for s, values in wanted.items() for v in sorted(values)]
        table = connection.ops.quote_name(Identifier._meta.db_table)
        sql = (f"SELECT i.id, i.ci_id, i.scheme, i.value FROM {table} i WHERE i.ci_id IN ("  # noqa: S608
               f"SELECT m.ci_id FROM {table} m JOIN unnest(%s::text[], %s::text[]) AS w(scheme, value) "
               "ON m.scheme = w.scheme AND m.value = w.value)")
        with connection.cursor() as cursor:
            cursor.execute(sql, [[p[0] for p in pairs], [p[1] for p in pairs]])
            found = cursor.fetchall()
    else:
        q = Q()
        for scheme, values in wanted.items():
            q |= Q(scheme=scheme, value__in=sorted(values))
        if not q:
            return [], {}
        candidates = Identifier.objects.filter(q).order_by().values("ci_id")
        found = Identifier.objects.filter(ci_id__in=candidates).order_by().values_list("id", "ci_id", "scheme", "value")
    rows = []
    by_ci: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for pk, ci_id, scheme, value in found:
        by_ci[ci_id][scheme].add(value)
        if value in wanted.get(scheme, ()):
            rows.append((pk, ci_id, scheme, value))
    return rows, by_ci


def _differs(a: dict[str, set[str]], b: dict[str, set[str]], scheme: str) -> bool:
    return bool(a.get(scheme)) and bool(b.get(scheme)) and not (a[scheme] & b[scheme])


def _contradiction(rule: str, report: dict[str, set[str]], ci: dict[str, set[str]]) -> str | None:
    if rule == "serial":
        return None
    if _differs(report, ci, "serial"):
        return "serial differs"
    if rule != "uuid" and _differs(report, ci, "uuid"):
        return "system UUID differs"
    if rule == "uuid":
        if _differs(report, ci, "uuid"):
            return "system UUID differs"
        if _differs(report, ci, "mac") and _differs(report, ci, "fqdn"):
            return "same system UUID but different MACs and name (cloned VM?)"
    if rule == "fqdn" and _differs(report, ci, "mac"):
        return "same name but different MAC addresses (re-used name?)"
    return None


def identify(identifiers: dict[str, Any], rules: list[str] | None = None, *,
             allowed: Allowed | None = None) -> Identification:
    """The CI ``identifiers`` describe, among those ``allowed`` (all when None)."""
    wanted = report_identifiers(identifiers)
    rows, by_ci = _load(wanted)
    permitted = allowed({r[1] for r in rows}) if allowed is not None and rows else None
    return _match(wanted, rows, by_ci, rules, permitted)


def identify_many(targets: Iterable[dict[str, Any]], *, allowed: Allowed | None = None) -> list[Identification]:
    """:func:`identify` for many identifier sets (relationship targets) with one query, plus one for ``allowed``."""
    wanted_each = [report_identifiers(t) for t in targets]
    union: dict[str, set[str]] = defaultdict(set)
    for wanted in wanted_each:
        for scheme, values in wanted.items():
            union[scheme] |= values
    rows, by_ci = _load(dict(union))
    permitted = allowed({r[1] for r in rows}) if allowed is not None and rows else None
    return [_match(wanted, [r for r in rows if r[3] in wanted.get(r[2], ())], by_ci, None, permitted)
            for wanted in wanted_each]


def _match(wanted: dict[str, set[str]], rows: list[Row], by_ci: dict[int, dict[str, set[str]]],
           rules: list[str] | None, permitted: set[int] | None) -> Identification:
    foreign = [] if permitted is None else [(r[2], r[3]) for r in rows if r[1] not in permitted]
    if foreign:
        rows = [r for r in rows if r[1] in permitted]  # type: ignore[operator]
    result = Identification(ci_id=None, rows=rows, foreign=foreign)
    holders: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for _id, ci_id, scheme, _value in rows:
        holders[scheme][ci_id] += 1
    for rule in rules if rules is not None else conf.get("IDENTIFICATION_RULES"):
        candidates = holders.get(rule)
        if not candidates:
            continue
        # Most shared values first (MAC sets), then the oldest CI.
        ranked = sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) > 1:
            result.conflicts.append({"rule": rule, "conflict": "several CIs match", "cis": [c for c, _ in ranked]})
        for ci_id, _count in ranked:
            reason = _contradiction(rule, wanted, by_ci[ci_id])
            if reason is None:
                result.ci_id, result.rule, result.current = ci_id, rule, dict(by_ci[ci_id])
                return result
            result.conflicts.append({"rule": rule, "ci": ci_id, "rejected": reason})
    return result
