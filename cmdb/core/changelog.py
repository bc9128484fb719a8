"""Writing and verifying the hash-chained change log.

Flow: model signals (``signals.py``) note each created/updated/deleted object
in the active :class:`~cmdb.core.context.ChangeContext`; when the context's
transaction is about to commit, :func:`flush_pending` snapshots the final
state of every noted object and :func:`append` writes all records at once,
each hash linked to the one before.  Appends are serialized (an advisory lock
on PostgreSQL, the write lock on SQLite) so the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, models, transaction
from django.utils import timezone

from cmdb.core import copyinsert
from cmdb.core.choices import ChangeAction
from cmdb.core.context import ChangeContext, current
from cmdb.core.models.changelog import ObjectChange

GENESIS = "0" * 64
ERASED_REPR = "[erased]"
_LOCK_ID = 0x434D4442  # "CMDB"


@dataclass
class Pending:
    obj: models.Model
    action: str
    prechange: dict[str, Any] | None
    postchange: dict[str, Any] | None = None


def canonical(data: Any) -> bytes:
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits (valid JSON, stored fine) that orjson cannot encode.
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _as_stored(value: Any) -> Any:
    """``value`` as the database gives JSON back, so that its digest still matches when read.

    PostgreSQL's jsonb keeps numbers as decimals: an integral float written in exponent form
    (``1e16``) comes back as an integer and ``-0.0`` as ``0``; everything else round-trips.
    """
    if isinstance(value, float):
        if value.is_integer() and (abs(value) >= 1e16 or (value == 0 and math.copysign(1.0, value) < 0)):
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_stored(v) for v in value]
    return value


def data_digest(salt: str, change: ObjectChange) -> str:
    payload = {
        "user_name": change.user_name,
        "object_repr": change.object_repr,
        "prechange_data": change.prechange_data,
        "postchange_data": change.postchange_data,
    }
    return hashlib.sha256(salt.encode() + canonical(payload)).hexdigest()


def link_hash(prev_hash: str, change: ObjectChange) -> str:
    fields = [
        prev_hash,
        change.time.astimezone(dt.UTC).isoformat(),
        change.action,
        str(change.changed_object_type_id),
        str(change.changed_object_id),
        str(change.request_id),
        change.source,
        str(change.user_id or ""),
        str(change.related_object_type_id or ""),
        str(change.related_object_id or ""),
        str(change.tenant_id or ""),
        change.data_digest,
    ]
    return hashlib.sha256("|".join(fields).encode()).hexdigest()


def note(obj: models.Model, action: str, prechange: dict[str, Any] | None) -> None:
    """Record that ``obj`` changed; buffered in a context or written at once."""
    if action == ChangeAction.DELETE:
        # Load the parent while it still exists: a cascade deletes it right after its children,
        # before the buffered records are built.
        getattr(obj, "change_log_parent", None)
    ctx = current()
    if ctx is None:
        append([_build(obj, action, prechange, obj.snapshot() if action != ChangeAction.DELETE else None,
                       ChangeContext(source="system"))])
        return
    key = (obj._meta.label_lower, obj.pk)
    existing = ctx.pending.get(key)
    if existing is None:
        ctx.pending[key] = Pending(obj, action, prechange)
        return
    # Coalesce several writes of one object in one context into one record.
    if action == ChangeAction.DELETE:
        if existing.action == ChangeAction.CREATE:
            del ctx.pending[key]
        else:
            ctx.pending[key] = Pending(obj, action, existing.prechange)
    else:
        existing.obj = obj


def note_many(objs: Iterable[models.Model], action: str, prechanges: dict[int, dict[str, Any]] | None = None) -> None:
    for obj in objs:
        note(obj, action, (prechanges or {}).get(obj.pk))


def tags_by_object(objs: list[models.Model]) -> dict[tuple[str, int], list[str]]:
    """Fetch the tag slugs of many objects with one query per model (for their ``snapshot(tags=...)``)."""
    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    result: dict[tuple[str, int], list[str]] = {}
    for obj in objs:
        known = getattr(obj, "_known_tags", None)
        if known is not None:
            # Set by code that has just inserted the row itself (no tags can exist yet): no query.
            result[(obj._meta.label_lower, obj.pk)] = sorted(known)
        # On the class: on an instance, hasattr builds a related manager (~20 µs per object).
        elif hasattr(type(obj), "tags") and obj.pk is not None:
            by_model[type(obj)].append(obj.pk)
    for model, pks in by_model.items():
        through = model._meta.get_field("tags").remote_field.through
        src = f"{model._meta.model_name}_id"
        tags: dict[int, list[str]] = defaultdict(list)
        for pk, slug in through.objects.filter(**{f"{src}__in": pks}).values_list(src, "tag__slug"):
            tags[pk].append(slug)
        for pk in pks:
            result[(model._meta.label_lower, pk)] = sorted(tags.get(pk, []))
    return result


def flush_pending(ctx: ChangeContext) -> None:
    if not ctx.pending and not ctx.records:
        return
    pending = list(ctx.pending.items())
    ctx.pending.clear()
    # Records a service built itself go first (they describe writes made before the commit), all in one append.
    built, ctx.records = ctx.records, []
    alive = [p.obj for _key, p in pending if p.action != ChangeAction.DELETE]
    tags = tags_by_object(alive)
    records = built
    for (_label, pk), p in pending:
        post = None
        if p.action != ChangeAction.DELETE:
            post = p.obj.snapshot(tags=tags.get((p.obj._meta.label_lower, p.obj.pk)))  # type: ignore[attr-defined]
        # A deleted instance's pk is None by now; the id noted at delete time is kept in the key.
        records.append(_build(p.obj, p.action, p.prechange, post, ctx, pk=pk))
    append(records)


def tenant_of(obj: models.Model, pk: Any = None) -> int | None:
    """The tenant id of ``obj`` through its model's ``tenant_path`` (None for shared data)."""
    path = getattr(type(obj), "tenant_path", None)
    if path is None:
        return None
    if path == "pk":
        return obj.pk if pk is None else pk
    *hops, last = path.split("__")
    target: Any = obj
    try:
        for hop in hops:
            target = getattr(target, hop)
            if target is None:
                return None
        return getattr(target, f"{last}_id", None)
    except ObjectDoesNotExist:
        return None


def _build(obj: models.Model, action: str, pre: dict | None, post: dict | None, ctx: ChangeContext,
           pk: Any = None) -> ObjectChange:
    related = getattr(obj, "change_log_parent", None)
    user = ctx.user if ctx.user is not None and getattr(ctx.user, "is_authenticated", False) else None
    # Ids rather than instances: a foreign-key assignment costs more than the rest of the record.
    return ObjectChange(
        user_id=user.pk if user is not None else None,
        user_name=ctx.user_name,
        request_id=ctx.request_id,
        source=ctx.source,
        action=action,
        changed_object_type_id=ContentType.objects.get_for_model(obj).pk,
        changed_object_id=obj.pk if pk is None else pk,
        related_object_type_id=ContentType.objects.get_for_model(related).pk if related is not None else None,
        related_object_id=related.pk if related is not None else None,
        tenant_id=tenant_of(obj, pk),
        object_repr=str(obj)[:200],
        prechange_data=pre,
        postchange_data=post,
    )


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])


def append(records: list[ObjectChange]) -> list[ObjectChange]:
    """Chain and insert ``records`` atomically, after every row already logged."""
    if not records:
        return records
    # Inside a caller's transaction no savepoint (two round trips): a failure here fails that transaction.
    with transaction.atomic(savepoint=False):
        _lock()
        prev, ids = _chain_head(len(records))
        now = timezone.now()
        for record in records:
            record.time = now
            record.prechange_data = _as_stored(record.prechange_data)
            record.postchange_data = _as_stored(record.postchange_data)
            record.salt = secrets.token_hex(16)
            record.data_digest = data_digest(record.salt, record)
            record.prev_hash = prev
            record.chain_hash = link_hash(prev, record)
            prev = record.chain_hash
        _insert(records, ids)
    return records


def _chain_head(count: int) -> tuple[str, list[int] | None]:
    """The last record's chain hash and, on PostgreSQL, ``count`` new ids: one statement after the lock.

    The statement starts after the lock is held, so its snapshot sees every append committed
    before; ids from the sequence ascend, so id order stays chain order.
    """
    if connection.vendor != "postgresql":
        prev = ObjectChange.objects.order_by("-id").values_list("chain_hash", flat=True).first()
        return prev or GENESIS, None
    q = connection.ops.quote_name
    table = ObjectChange._meta.db_table
    sql = (f"SELECT (SELECT chain_hash FROM {q(table)} ORDER BY id DESC LIMIT 1), "  # noqa: S608 - model's table
           "ARRAY(SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s))")
    with connection.cursor() as cursor:
        cursor.execute(sql, [table, count])
        prev, ids = cursor.fetchone()
    return prev or GENESIS, sorted(ids)


def _insert(records: list[ObjectChange], ids: list[int] | None = None) -> None:
    """Insert ``records`` in chain order (ids ascend with the chain), setting their ids.

    Through :mod:`cmdb.core.copyinsert` on PostgreSQL, with the ids ``_chain_head`` drew:
    COPY for large batches (as array literals, psycopg escaped each quote of the JSON
    payloads in Python, two thirds of the time a bulk API create used to spend on its
    change log), one ``INSERT ... VALUES`` for the record or two of a single write.
    """
    copyinsert.insert(ObjectChange, records, batch_size=500, ids=ids)


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _iter_chain(batch: int = 2000) -> Iterator[ObjectChange]:
    last_id = 0
    while True:
        rows = list(ObjectChange.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def _is_blank(row: ObjectChange) -> bool:
    return (row.user_name == "" and row.object_repr == ERASED_REPR
            and row.prechange_data is None and row.postchange_data is None)


def verify(progress: Any = None) -> VerifyResult:
    """Walk the chain from the start and report the first row that does not fit."""
    prev = GENESIS
    checked = 0
    for row in _iter_chain():
        if row.prev_hash != prev:
            return VerifyResult(
                checked, row.id, "previous-hash link does not match the row before (row removed or reordered)"
            )
        if not row.erased and data_digest(row.salt, row) != row.data_digest:
            return VerifyResult(checked, row.id, "data differs from its digest (before/after, user or object altered)")
        if row.erased and not _is_blank(row):
            # Erasure skips the digest, so the erased flag must not hide rewritten data.
            return VerifyResult(checked, row.id, "row is marked erased but still carries data")
        if link_hash(prev, row) != row.chain_hash:
            return VerifyResult(
                checked, row.id,
                "row hash does not match its columns (time, action, object, user, tenant or digest altered)",
            )
        prev = row.chain_hash
        checked += 1
        if progress is not None:
            progress.update(1)
    return VerifyResult(checked)


def erase_personal_data(change_ids: Iterable[int]) -> int:
    """Blank the payload of change records (GDPR erasure) without breaking the chain."""
    return ObjectChange.objects.filter(id__in=list(change_ids)).update(
        erased=True, user_name="", object_repr=ERASED_REPR, prechange_data=None, postchange_data=None
    )
