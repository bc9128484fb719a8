"""Ingesting one discovery report: validate, lock, identify, reconcile, record.

Control flow of :func:`ingest_report`, all in one transaction opened by
``change_logging(source="discovery:<type>:<name>")`` so every change record
names the discovery source:

1. validate against the schema, and refuse what fits it but cannot be stored
   (:mod:`discovery.storable`); nothing is written for an invalid report;
2. take a transaction-scoped PostgreSQL advisory lock per identifier value,
   in sorted order: two reports for the same machine run one after the other,
   so the second finds the CI the first created and duplicates cannot arise;
3. identify the CI (:mod:`discovery.identification`) among those the
   reporter may change (:mod:`discovery.scope`);
4. for each attribute the report carries, apply source precedence
   (:mod:`discovery.precedence`) and write only changed, allowed values;
5. move identifiers to this CI (a MAC that moved machines leaves the old one);
6. diff software installations (:mod:`discovery.software`);
7. resolve relationships to CIs already known; write one ingest record;
8. check the reporter's scope again over everything written, so an
   out-of-scope write rolls the whole report back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import IntegrityError, OperationalError, connection
from django.utils import timezone

from cmdb.core import bulk
from cmdb.core.context import change_logging
from cmdb.core.models.registry import ConfigurationItem
from discovery import conf, linking, precedence, storable
from discovery.identification import Identification, identify, identify_many, report_identifiers
from discovery.models import Host, Identifier, IngestAction, IngestRecord
from discovery.schema import ReportInvalid, parse_time, validate
from discovery.scope import UNIQUE_SCHEMES, ReporterScope, ReportRefused

__all__ = ["IngestResult", "ReportInvalid", "ReportRefused", "ingest_report"]
HOST_FIELDS = ("name", "role", "fqdn", "serial", "manufacturer", "product", "system_uuid", "is_virtual", "os_name",
               "os_version", "kernel", "cpu_model", "cpu_sockets", "cpu_cores", "memory_mb")
FACT_KEYS = ("disks", "services", "interfaces", "sys_descr", "sys_object_id", "extra", "relationships")


@dataclass
class IngestResult:
    ci_id: int
    host_id: int
    action: str
    rule: str
    changed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    software: dict[str, Any] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ci": self.ci_id, "host": self.host_id, "action": self.action, "rule": self.rule,
                "changed": self.changed, "skipped": self.skipped, "software": self.software,
                "conflicts": self.conflicts}


def lock_identifiers(wanted: dict[str, set[str]]) -> None:
    """Serialize concurrent ingests that share any identifier value (PostgreSQL; SQLite serializes writers)."""
    if connection.vendor != "postgresql":
        return
    keys = sorted({int.from_bytes(hashlib.blake2b(f"{s}|{v}".encode(), digest_size=8).digest(), "big", signed=True)
                   for s, values in wanted.items() for v in values})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k", [keys])


def report_values(report: dict[str, Any], name_fallback: str = "") -> dict[str, Any]:
    """Attribute -> value as the report states it (absent keys are unknown, not empty)."""
    ids, attrs = report["identifiers"], report.get("attributes") or {}
    values: dict[str, Any] = {"role": report["kind"]}
    name = attrs.get("hostname") or ids.get("hostname") or (ids.get("fqdn") or "").split(".")[0] or name_fallback
    if name:
        values["name"] = name[:255]
    if ids.get("fqdn"):
        values["fqdn"] = ids["fqdn"].lower().rstrip(".")
    if ids.get("serial"):
        values["serial"] = ids["serial"]
    if ids.get("manufacturer") or attrs.get("manufacturer"):
        values["manufacturer"] = ids.get("manufacturer") or attrs["manufacturer"]
    if ids.get("system_uuid"):
        values["system_uuid"] = ids["system_uuid"].lower()
    if "virtual" in attrs:
        values["is_virtual"] = attrs["virtual"]
    for key in ("product", "os_name", "os_version", "kernel", "cpu_model", "cpu_sockets", "cpu_cores", "memory_mb",
                "disks", "services", "sys_descr", "sys_object_id", "extra"):
        if key in attrs:
            values[key] = attrs[key]
    if report.get("interfaces"):
        values["interfaces"] = report["interfaces"]
    return values


def _current(host: Host, attribute: str) -> Any:
    return getattr(host, attribute) if attribute in HOST_FIELDS else (host.facts or {}).get(attribute)


def _set(host: Host, attribute: str, value: Any) -> None:
    if attribute in HOST_FIELDS:
        setattr(host, attribute, value)
    else:
        host.facts = {**(host.facts or {}), attribute: value}


def _sync_identifiers(ci_id: int, ident: Identification, wanted: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Give the CI exactly the report's values per reported scheme; take unique ones from other CIs."""
    conflicts = []
    current = ident.current if ident.ci_id == ci_id else {}
    stale_rows = [r[0] for r in ident.rows if r[1] != ci_id and r[2] in UNIQUE_SCHEMES]
    for _id, other, scheme, value in ident.rows:
        if other != ci_id and scheme in UNIQUE_SCHEMES:
            conflicts.append({"identifier": f"{scheme}={value}", "moved_from_ci": other})
    drop = [(s, v) for s in wanted for v in current.get(s, set()) - wanted[s]]
    add = [Identifier(ci_id=ci_id, scheme=s, value=v) for s in wanted for v in wanted[s] - current.get(s, set())]
    if stale_rows:
        Identifier.objects.filter(pk__in=stale_rows).delete()
    if drop:
        from django.db.models import Q

        q = Q()
        for s, v in drop:
            q |= Q(scheme=s, value=v)
        Identifier.objects.filter(q, ci_id=ci_id).delete()
    if add:
        Identifier.objects.bulk_create(add)
    return conflicts


def _relationships(report: dict[str, Any], ci_id: int, scope: ReporterScope,
                   origin: str) -> tuple[list[dict[str, Any]], set[int]]:
    """Resolve relationship targets to known CIs in the reporter's scope (never creating them); ensure the edges.

    Returns the resolved list (kept in the host's facts) and the target CI ids.  Set-based:
    one query resolves every target, one more checks them against the scope, one finds the
    edges that exist, and the missing ones are created as one validated batch.  A target that
    is the reported CI itself, or an edge the relationship rules refuse, is a 400 naming it.
    """
    rels = report.get("relationships") or []
    idents = identify_many([rel["target"] for rel in rels], allowed=scope.allowed)
    out, edges = [], {}
    for i, (rel, ident) in enumerate(zip(rels, idents, strict=True)):
        target = ident.ci_id
        if target == ci_id:
            raise ReportInvalid({f"$.relationships[{i}].target": ["Is the reported CI itself."]})
        entry: dict[str, Any] = {"type": rel["type"], "target_ci": target}
        if target is None:
            entry["target"] = rel["target"]
        else:
            edges.setdefault((rel["type"], target), i)
        out.append(entry)
    if edges:
        _ensure_edges(ci_id, edges, origin)
    return out, {target for _type, target in edges}


def _ensure_edges(ci_id: int, edges: dict[tuple[str, int], int], origin: str) -> None:
    """Create the edges ``(type slug, target) -> report index`` from ``ci_id`` that do not exist yet."""
    from cmdb.core.services import BatchValidationError, objects_create
    from cmdb.services.models import Relationship, RelationshipType
    from cmdb.services.relationships import ensure_builtin_types

    slugs = {slug for slug, _target in edges}
    types = {t.slug: t for t in RelationshipType.objects.filter(slug__in=slugs)}
    if len(types) < len(slugs):
        types.update({k: v for k, v in ensure_builtin_types().items() if k in slugs})
    existing = set(Relationship.objects.filter(source_id=ci_id, target_id__in={t for _s, t in edges})
                   .values_list("type__slug", "target_id"))
    missing = [(slug, target, i) for (slug, target), i in edges.items() if (slug, target) not in existing]
    if not missing:
        return
    try:
        # Both ends are discovered hosts the reporter may change (the source is the reported host, the
        # targets were resolved within the scope and are checked again after the writes), so the edges need
        # no grant on relationships beyond the report's own: an agent reports what it sees.
        objects_create(Relationship, [{"source_id": ci_id, "target_id": target, "type": types[slug],
                                       "origin": origin[:50]} for slug, target, _i in missing])
    except BatchValidationError as exc:
        raise ReportInvalid({f"$.relationships[{missing[n][2]}]": [f"{field}: {m}" for field, msgs in errs.items()
                                                                   for m in msgs]
                             for n, errs in enumerate(exc.errors) if errs}) from exc


def _touch(host: Host, rule: str, now: dt.datetime) -> None:
    """Only observation changed: no change record; the host and its registry row get the new last-seen."""
    if connection.vendor != "postgresql":
        Host.objects.filter(pk=host.pk).update(identified_by=rule, last_seen=now)
        ConfigurationItem.objects.filter(pk=host.ci_id).update(last_seen=now)
        return
    q = connection.ops.quote_name
    sql = (f"WITH h AS (UPDATE {q(Host._meta.db_table)} SET identified_by = %s, last_seen = %s WHERE id = %s) "  # noqa: S608
           f"UPDATE {q(ConfigurationItem._meta.db_table)} SET last_seen = %s WHERE id = %s")
    with connection.cursor() as cursor:  # one round trip for both rows; table names from the models
        cursor.execute(sql, [rule, now, host.pk, now, host.ci_id])


def _finish(host: Host, rule: str, now: dt.datetime, *, touch: bool, refreshed: dt.datetime | None,
            record: dict[str, Any]) -> None:
    """PostgreSQL: the ingest record plus the host's observation stamps in one statement.

    ``touch``: only observation changed (last-seen, matching rule: no change record);
    ``refreshed``: when all of the host's installations had their ``last_seen`` rewritten.
    """
    q = connection.ops.quote_name
    host_table, ci_table = q(Host._meta.db_table), q(ConfigurationItem._meta.db_table)
    ctes, params = [], []
    sets, set_params = [], []
    if touch:
        sets += ["identified_by = %s", "last_seen = %s"]
        set_params += [rule, now]
    if refreshed is not None:
        sets.append("software_refreshed = %s")
        set_params.append(refreshed)
    if sets:
        ctes.append(f"h AS (UPDATE {host_table} SET {', '.join(sets)} WHERE id = %s)")  # noqa: S608
        params += [*set_params, host.pk]
    if touch:
        ctes.append(f"c AS (UPDATE {ci_table} SET last_seen = %s WHERE id = %s)")  # noqa: S608
        params += [now, host.ci_id]
    json_cols = ("changed", "skipped", "software", "conflicts")
    cols = ("ci_id", "received", "collected_at", "source", "source_name", "rule", "action", *json_cols)
    values = ", ".join("%s::jsonb" if c in json_cols else "%s" for c in cols)
    params += [orjson.dumps(record[c]).decode() if c in json_cols else record[c] for c in cols]
    insert = f"INSERT INTO {q(IngestRecord._meta.db_table)} ({', '.join(cols)}) VALUES ({values})"  # noqa: S608
    sql = f"WITH {', '.join(ctes)} {insert}" if ctes else insert
    with connection.cursor() as cursor:  # table names from the models, values as parameters
        cursor.execute(sql, params)


def _log_software_summary(host: Host, diff: Any) -> None:
    """One change record on the host for the whole software diff of a report (attributed like any other)."""
    from django.contrib.contenttypes.models import ContentType

    from cmdb.core.changelog import append
    from cmdb.core.choices import ChangeAction
    from cmdb.core.context import current
    from cmdb.core.models import ObjectChange

    ctx = current()
    user = ctx.user if ctx is not None and getattr(ctx.user, "is_authenticated", False) else None
    removed = [*diff.removed, *(u.split(" -> ")[0] for u in diff.upgraded)]
    added = [*diff.added, *(u.split(" ")[0] + " " + u.split(" -> ")[1] for u in diff.upgraded)]
    # Appended with the context's other records when the ingest commits: one chain append per report.
    (ctx.records.append if ctx is not None else lambda r: append([r]))(ObjectChange(
        user=user, user_name=ctx.user_name if ctx else "discovery", request_id=ctx.request_id if ctx else None,
        source=ctx.source if ctx else "discovery", action=ChangeAction.UPDATE,
        changed_object_type=ContentType.objects.get_for_model(Host), changed_object_id=host.pk,
        tenant_id=host.tenant_id, object_repr=f"{host.name} (software)"[:200],
        prechange_data={"software": sorted(removed)},
        postchange_data={"software": sorted(added), "upgraded": diff.upgraded, "counts": diff.counts()},
    ))


def ingest_report(report: Any, *, user: Any = None, request_id: Any = None,
                  now: dt.datetime | None = None) -> IngestResult:
    """Ingest one report in one transaction (see the module docstring); retried once on a lost race.

    Raises :class:`ReportInvalid` (400) or :class:`ReportRefused` (403, outside the reporter's
    scope); either way nothing of the report is written.
    """
    storable.check_text(report)
    validate(report)
    storable.check_values(report)
    try:
        return _ingest(report, user=user, request_id=request_id, now=now)
    except OperationalError as exc:
        if getattr(getattr(exc, "__cause__", None), "sqlstate", None) not in ("40P01", "40001"):
            raise
        # Deadlock or serialization failure against a concurrent report: the transaction is gone, run it again.
        return _ingest(report, user=user, request_id=request_id, now=now)
    except IntegrityError:
        # A row this ingest relied on vanished or appeared meanwhile (a software version deleted by an
        # admin, a product created by a concurrent report): forget cached reference data, try again.
        from discovery.software import clear_cache

        clear_cache()
        return _ingest(report, user=user, request_id=request_id, now=now)


def _ingest(report: dict[str, Any], *, user: Any, request_id: Any, now: dt.datetime | None) -> IngestResult:
    now = now or timezone.now()
    src_type, src_name = report["source"]["type"], report["source"]["name"]
    source_label = f"discovery:{src_type}:{src_name}"[:100]
    wanted = report_identifiers(report["identifiers"])
    scope = ReporterScope(user)
    with change_logging(user=user, source=source_label, request_id=request_id):
        lock_identifiers(wanted)
        ident = identify(report["identifiers"], allowed=scope.allowed)
        scope.refuse_foreign(ident, report["identifiers"])
        host, sources = precedence.load_host(ident.ci_id) if ident.ci_id else (None, {})
        tenant_id = scope.tenant(report, host) if host is None or report.get("tenant") else None
        values = report_values(report, name_fallback=next(iter(wanted.get("mac", [])), "unnamed"))
        relationships = report.get("relationships")
        created = host is None
        if created:
            host = Host(first_discovered=now, last_seen=now, identified_by="", facts={}, tenant_id=tenant_id)
        decision = precedence.decide(host, values, sources, source=src_type, now=now, current=_current,
                                     fresh=created)
        # The state before, for the change record: only needed (and only loaded: tags) when something changes.
        pre = host.snapshot() if not created and (decision.apply or host.stale) else None
        for attribute in decision.apply:
            _set(host, attribute, values[attribute])
        link_before = (host.device_id, host.virtual_machine_id)
        if created or decision.apply & linking.TRIGGERS:
            # The recorded device or VM this machine is, if one matches (among those the reporter may change).
            linking.apply(host, user=scope.linking_user)
        if created:
            host.name = host.name or "unnamed"
            bulk.bulk_create(Host, [host])
        elif pre is not None:
            host._prechange = pre
            host.stale = False
            host.identified_by = ident.rule
            host.last_seen = now
            host.save()
        touch = not created and pre is None
        fast = connection.vendor == "postgresql"
        if touch and not fast:
            _touch(host, ident.rule, now)
        ci = ConfigurationItem(pk=host.ci_id, name=host.name, kind=Host.ci_kind(), tenant_id=host.tenant_id)
        precedence.record(host.ci_id, decision, values, source=src_type, source_name=src_name, now=now,
                          existing=sources)
        moved = _sync_identifiers(host.ci_id, ident, wanted)
        conflicts = ident.conflicts + moved
        software = {}
        if "software" in report:
            from discovery.software import diff_software

            log_each = conf.get("SOFTWARE_CHANGE_RECORDS") == "each"
            diff = diff_software(ci, report["software"], source=src_type, now=now,
                                 refreshed=host.software_refreshed, log_each=log_each)
            refreshed = diff.refreshed if diff.refreshed != host.software_refreshed else None
            if refreshed is not None and not fast:
                Host.objects.filter(pk=host.pk).update(software_refreshed=diff.refreshed)
            software = {**diff.counts(), "added_names": diff.added[:50], "removed_names": diff.removed[:50],
                        "upgraded_names": diff.upgraded[:50]}
        targets: set[int] = set()
        if relationships:
            resolved, targets = _relationships(report, host.ci_id, scope, source_label)
            if (host.facts or {}).get("relationships") != resolved:
                Host.objects.filter(pk=host.pk).update(facts={**(host.facts or {}), "relationships": resolved})
        changed_software = any(software.get(k) for k in ("added", "removed", "upgraded"))
        if changed_software and not log_each:
            _log_software_summary(host, diff)
        action = IngestAction.CREATE if created else (
            IngestAction.UPDATE if decision.apply or changed_software else IngestAction.NOOP)
        result = IngestResult(ci_id=host.ci_id, host_id=host.pk, action=action, rule=ident.rule,
                              changed=sorted(decision.apply), skipped=decision.skipped, software=software,
                              conflicts=conflicts)
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 and the schema allow.
        collected = parse_time(report["collected_at"]).astimezone(dt.UTC)
        record = {"ci_id": host.ci_id, "received": now, "collected_at": collected,
                  "source": src_type, "source_name": src_name, "rule": ident.rule, "action": str(action),
                  "changed": result.changed, "skipped": result.skipped,
                  "software": diff.counts() if software else {}, "conflicts": conflicts}
        if fast:
            _finish(host, ident.rule, now, touch=touch, refreshed=refreshed if software else None, record=record)
        else:
            IngestRecord.objects.create(**record)
        scope.check_written(host, created=created, named_tenant=bool(report.get("tenant")),
                            linked=(host.device_id, host.virtual_machine_id) != link_before,
                            touched={"$.identifiers": {c["moved_from_ci"] for c in moved},
                                     "$.relationships": targets})
    return result
