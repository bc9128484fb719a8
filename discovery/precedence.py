"""Per-attribute source precedence, recorded in ``AttributeSource``.

A report may set an attribute when no source has claimed it, when the
claiming source ranks the same or lower than the report's source in
``conf.precedence(attribute)``, or when a non-manual claim is older than
``STALE_DAYS`` (a decommissioned agent must not pin a value forever).

Manual edits always win.  They are recorded when they happen through the API,
the UI or the admin (the ``pre_save`` receiver below), and also detected at
ingest time: if a CI's value no longer matches the digest its recorded source
set, someone changed it outside discovery (a shell, SQL), and it is claimed
as manual then.  A value present on a CI that discovery never set (a host
entered by hand) counts as manual too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db.models.signals import pre_save
from django.utils import timezone

from cmdb.core import rawload
from cmdb.core.context import current as current_context
from discovery import conf
from discovery.models import AttributeSource, Host

MANUAL = "manual"
EMPTY = (None, "", [], {})


def digest(value: Any) -> str:
    return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


@dataclass
class Claim:
    source: str
    source_name: str
    digest: str
    set_at: dt.datetime


@dataclass
class Decision:
    apply: set[str] = field(default_factory=set)  # attributes whose value changes
    claim: set[str] = field(default_factory=set)  # attributes this source now owns (value may be unchanged)
    skipped: dict[str, str] = field(default_factory=dict)  # attribute -> the stronger source
    manual: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)  # detected manual edits


def load(ci_id: int) -> dict[str, Claim]:
    rows = AttributeSource.objects.filter(ci_id=ci_id).order_by().values_list(
        "attribute", "source", "source_name", "value_digest", "set_at")
    return {a: Claim(s, n, d, t) for a, s, n, d, t in rows}


def load_host(ci_id: int) -> tuple[Host | None, dict[str, Claim]]:
    """The CI's host and its claims; on PostgreSQL with one query (claims aggregated as JSON)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        host = Host.objects.filter(ci_id=ci_id).order_by().first()
        return host, (load(ci_id) if host is not None else {})
    q = connection.ops.quote_name
    # Hand-written, built into instances by rawload: no ORM compilation per report.
    sql = (f"SELECT {rawload.columns(Host, 'h')}, (SELECT json_agg(json_build_array(a.attribute, a.source, "  # noqa: S608
           f"a.source_name, a.value_digest, a.set_at)) FROM {q(AttributeSource._meta.db_table)} a "
           f"WHERE a.ci_id = h.ci_id) FROM {q(Host._meta.db_table)} h WHERE h.ci_id = %s LIMIT 1")
    with connection.cursor() as cursor:
        cursor.execute(sql, [ci_id])
        row = cursor.fetchone()
    if row is None:
        return None, {}
    host = rawload.build(Host, row[:-1])
    rows = row[-1] or []
    if isinstance(rows, str | bytes):
        rows = orjson.loads(rows)
    return host, {a: Claim(s, n, d, dt.datetime.fromisoformat(t)) for a, s, n, d, t in rows}


def rank(attribute: str, source: str) -> int:
    order = conf.precedence(attribute)
    return order.index(source) if source in order else len(order)


def decide(host: Host, values: dict[str, Any], claims: dict[str, Claim], *, source: str, now: dt.datetime,
           current: Callable[[Host, str], Any], fresh: bool) -> Decision:
    result = Decision()
    expiry = now - dt.timedelta(days=conf.get("STALE_DAYS"))
    orders: dict[str, list[str]] = {}  # the settings lookups once per attribute, not per comparison

    def rank(attribute: str, source: str) -> int:
        order = orders.get(attribute)
        if order is None:
            order = orders[attribute] = conf.precedence(attribute)
        return order.index(source) if source in order else len(order)

    for attribute, value in values.items():
        if value is None:
            continue
        cur = current(host, attribute)
        cur_digest, new_digest = digest(cur), digest(value)
        claim = claims.get(attribute)
        edited_unclaimed = claim is None and cur not in EMPTY and cur_digest != new_digest
        edited_since = claim is not None and claim.source != MANUAL and claim.digest != cur_digest
        if not fresh and (edited_unclaimed or edited_since):
            claim = Claim(MANUAL, "", cur_digest, host.last_updated or now)
            result.manual[attribute] = (cur_digest, claim.set_at)
        allowed = claim is None or rank(attribute, source) <= rank(attribute, claim.source) or (
            claim.source != MANUAL and claim.set_at < expiry)
        if not allowed:
            if cur_digest != new_digest:
                result.skipped[attribute] = claim.source
            continue
        if fresh or cur_digest != new_digest:
            result.apply.add(attribute)
        if claim is None or claim.source != source or claim.digest != new_digest:
            result.claim.add(attribute)
    return result


def record(ci_id: int, decision: Decision, values: dict[str, Any], *, source: str, source_name: str,
           now: dt.datetime, existing: dict[str, Claim]) -> None:
    """Upsert the claims with two statements at most (update existing rows, insert new ones)."""
    rows: dict[str, AttributeSource] = {}
    for attribute, (dig, set_at) in decision.manual.items():
        rows[attribute] = AttributeSource(ci_id=ci_id, attribute=attribute, source=MANUAL, value_digest=dig,
                                          set_at=set_at)
    for attribute in decision.claim | decision.apply:
        rows[attribute] = AttributeSource(ci_id=ci_id, attribute=attribute, source=source, source_name=source_name,
                                          value_digest=digest(values[attribute]), set_at=now)
    if not rows:
        return
    update = [r for a, r in rows.items() if a in existing]
    insert = [r for a, r in rows.items() if a not in existing]
    if update:
        ids = dict(AttributeSource.objects.filter(ci_id=ci_id, attribute__in=[r.attribute for r in update])
                   .values_list("attribute", "id"))
        for r in update:
            r.pk = ids[r.attribute]
        AttributeSource.objects.bulk_update(update, ["source", "source_name", "value_digest", "set_at"])
    if insert:
        AttributeSource.objects.bulk_create(insert)


def claim_manual(ci_id: int, attributes: dict[str, Any], *, now: dt.datetime | None = None) -> None:
    """Record that a person set these attributes (values by attribute), beating discovery."""
    now = now or timezone.now()
    for attribute, value in attributes.items():
        AttributeSource.objects.update_or_create(
            ci_id=ci_id, attribute=attribute,
            defaults={"source": MANUAL, "source_name": "", "value_digest": digest(value), "set_at": now})


TRACKED = ("name", "fqdn", "serial", "manufacturer", "product", "system_uuid", "is_virtual", "os_name", "os_version",
           "kernel", "cpu_model", "cpu_sockets", "cpu_cores", "memory_mb")


def _on_host_save(sender: type, instance: Host, raw: bool = False, **kwargs: Any) -> None:
    """An edit of a discovered host outside discovery (API, UI, admin) claims the edited attributes as manual."""
    ctx = current_context()
    if raw or instance.pk is None or instance.ci_id is None or (ctx and ctx.source.startswith("discovery:")):
        return
    before = getattr(instance, "_prechange", None) or {}
    edited = {a: getattr(instance, a) for a in TRACKED if a in before and before[a] != getattr(instance, a)}
    if edited:
        claim_manual(instance.ci_id, edited)
    # A person who points the host at a device or VM pins that link (linking never changes "manual").
    if any(a in before and before[a] != getattr(instance, f"{a}_id") for a in ("device", "virtual_machine")):
        instance.link_rule = "manual"


def connect() -> None:
    pre_save.connect(_on_host_save, sender=Host, dispatch_uid="discovery_manual_claims")
