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
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.utils import timezone

from cmdb.core.choices import ChangeAction
from cmdb.core.context import ChangeContext, current
from cmdb.core.models.changelog import ObjectChange

GENESIS = "0" * 64
_LOCK_ID = 0x434D4442  # "CMDB"


@dataclass
class Pending:
    obj: models.Model
    action: str
    prechange: dict[str, Any] | None
    postchange: dict[str, Any] | None = None


def canonical(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


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
        change.data_digest,
    ]
    return hashlib.sha256("|".join(fields).encode()).hexdigest()


def note(obj: models.Model, action: str, prechange: dict[str, Any] | None) -> None:
    """Record that ``obj`` changed; buffered in a context or written at once."""
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


def _tags_by_object(objs: list[models.Model]) -> dict[tuple[str, int], list[str]]:
    """Fetch the tag slugs of many objects with one query per model."""
    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    for obj in objs:
        if hasattr(obj, "tags") and obj.pk is not None:
            by_model[type(obj)].append(obj.pk)
    result: dict[tuple[str, int], list[str]] = {}
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
    if not ctx.pending:
        return
    pending = list(ctx.pending.values())
    ctx.pending.clear()
    alive = [p.obj for p in pending if p.action != ChangeAction.DELETE]
    tags = _tags_by_object(alive)
    records = []
    for p in pending:
        post = None
        if p.action != ChangeAction.DELETE:
            post = p.obj.snapshot(tags=tags.get((p.obj._meta.label_lower, p.obj.pk)))  # type: ignore[attr-defined]
        records.append(_build(p.obj, p.action, p.prechange, post, ctx))
    append(records)


def _build(obj: models.Model, action: str, pre: dict | None, post: dict | None, ctx: ChangeContext) -> ObjectChange:
    related = getattr(obj, "change_log_parent", None)
    user = ctx.user if ctx.user is not None and getattr(ctx.user, "is_authenticated", False) else None
    return ObjectChange(
        user=user,
        user_name=ctx.user_name,
        request_id=ctx.request_id,
        source=ctx.source,
        action=action,
        changed_object_type=ContentType.objects.get_for_model(obj),
        changed_object_id=obj.pk,
        related_object_type=ContentType.objects.get_for_model(related) if related is not None else None,
        related_object_id=related.pk if related is not None else None,
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
    with transaction.atomic():
        _lock()
        prev = ObjectChange.objects.order_by("-id").values_list("chain_hash", flat=True).first() or GENESIS
        now = timezone.now()
        for record in records:
            record.time = now
            record.salt = secrets.token_hex(16)
            record.data_digest = data_digest(record.salt, record)
            record.prev_hash = prev
            record.chain_hash = link_hash(prev, record)
            prev = record.chain_hash
        ObjectChange.objects.bulk_create(records, batch_size=500)
    return records


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
        if link_hash(prev, row) != row.chain_hash:
            return VerifyResult(
                checked, row.id, "row hash does not match its columns (time, action, object or digest altered)"
            )
        prev = row.chain_hash
        checked += 1
        if progress is not None:
            progress.update(1)
    return VerifyResult(checked)


def erase_personal_data(change_ids: Iterable[int]) -> int:
    """Blank the payload of change records (GDPR erasure) without breaking the chain."""
    return ObjectChange.objects.filter(id__in=list(change_ids)).update(
        erased=True, user_name="", object_repr="[erased]", prechange_data=None, postchange_data=None, user=None
    )
