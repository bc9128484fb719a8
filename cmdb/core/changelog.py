"""Writing and verifying the hash-chained change log.

Flow: model signals (``signals.py``) note each created/updated/deleted object
in the active :class:`~cmdb.core.context.ChangeContext`; when the context's
transaction is about to commit, :func:`flush_pending` snapshots the final
state of every noted object and :func:`append` writes all records at once,
each hash linked to the one before.  Appends are serialized (an advisory lock
on PostgreSQL, the write lock on SQLite) so the chain never forks.

Each record is authenticated with HMAC-SHA256 under the current audit key
(:mod:`cmdb.core.auditkeys`, a secret outside the database) and stores that
key's version, so someone who can write to the database cannot recompute a
valid chain after rewriting a record.  Records from before keys existed carry
version 0 and keep verifying with the plain SHA-256 they were written with,
but only at the start of the chain: a version-0 record after a keyed one is a
forgery.  :func:`verify` walks the chain, checks that every erased record is
named by an erasure record (:mod:`cmdb.core.erasure`) and compares the chain
with the checkpoints written outside the database (:mod:`cmdb.core.checkpoints`),
which is what reveals a deleted tail.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, models, transaction
from django.utils import timezone

from cmdb.core import copyinsert
from cmdb.core.choices import ChangeAction
from cmdb.core.context import ChangeContext, current
from cmdb.core.models.changelog import ObjectChange

if TYPE_CHECKING:
    from cmdb.core.checkpoints import Checkpoint, CheckpointLog

GENESIS = "0" * 64
ERASED_REPR = "[erased]"
#: Key of the erased record ids in an erasure record's ``postchange_data``.
ERASURE_LIST = "erased"
_LOCK_ID = 0x434D4442  # "CMDB"
# Domain separation: the same key authenticates payload digests, chain links and checkpoints.
_DATA_TAG = b"cmdb.audit.data\x00"
_LINK_TAG = b"cmdb.audit.link\x00"


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


def audit_keys() -> dict[int, bytes]:
    """The configured chain keys by version (``settings.AUDIT_KEYS``, see :mod:`cmdb.core.auditkeys`)."""
    return settings.AUDIT_KEYS


def current_key() -> tuple[int, bytes]:
    """The version and key that sign new records: the highest configured version."""
    keys = audit_keys()
    version = max(keys)
    return version, keys[version]


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@functools.lru_cache(maxsize=16)
def _pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after HMAC's padded inner and outer key blocks (RFC 2104), computed once per key.

    ``hmac.digest`` sets up an OpenSSL MAC context per call, which costs about twice a
    record's SHA-256; copying these states makes the keyed chain cost about what the
    unkeyed one did.  The result is standard HMAC-SHA256 (the tests compare it with ``hmac``).
    """
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))


def hmac_sha256(key: bytes, message: bytes) -> str:
    inner0, outer0 = _pads(key)
    inner = inner0.copy()
    inner.update(message)
    outer = outer0.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def data_digest(salt: str, change: ObjectChange, key: bytes | None = None) -> str:
    """Digest of the erasable payload; keyed (HMAC) unless ``key`` is None (legacy records).

    Keyed, the digest also keeps an erased payload from being guessed: with the salt in
    the row, a plain hash of a short payload could be brute-forced by anyone reading it.
    """
    payload = {
        "user_name": change.user_name,
        "object_repr": change.object_repr,
        "prechange_data": change.prechange_data,
        "postchange_data": change.postchange_data,
    }
    message = salt.encode() + canonical(payload)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac_sha256(key, _DATA_TAG + message)


def link_hash(prev_hash: str, change: ObjectChange, key: bytes | None = None) -> str:
    """The record's chain hash over the previous one and its columns; keyed unless ``key`` is None."""
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
    if key is None:
        return hashlib.sha256("|".join(fields).encode()).hexdigest()
    fields.append(str(change.key_version))
    return hmac_sha256(key, _LINK_TAG + "|".join(fields).encode())


def note(obj: models.Model, action: str, prechange: dict[str, Any] | None) -> None:
    """Record that ``obj`` changed; buffered in a context or written at once."""
    if action == ChangeAction.DELETE:
        # Load the parent, and take the name and tenant, while the rows they come from still exist: a
        # cascade deletes them right after their children (a contact after its assignments, whose
        # name is the contact's), before the buffered records are built.
        getattr(obj, "change_log_parent", None)
        obj._deleted_repr = _repr(obj)  # type: ignore[attr-defined]
        obj._deleted_tenant = tenant_of(obj)  # type: ignore[attr-defined]
    ctx = current()
    if ctx is None:
        post = obj.snapshot() if action != ChangeAction.DELETE else None  # type: ignore[attr-defined]
        if not is_noop(Pending(obj, action, prechange), post):
            append([_build(obj, action, prechange, post, ChangeContext(source="system"))])
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
            if is_noop(p, post):
                continue
        # A deleted instance's pk is None by now; the id noted at delete time is kept in the key.
        records.append(_build(p.obj, p.action, p.prechange, post, ctx, pk=pk))
    append(records)


def is_noop(p: Pending, post: dict[str, Any] | None) -> bool:
    """Whether an update left the object as it was: such a write records nothing.

    Every writer (API, web UI, bulk edit, services, a plain ``save()``) ends here, so a PATCH
    with the same values, an untouched edit form or several writes of one object in one
    request that cancel out add no empty "update" record to the chain.  An update whose
    state before is unknown is kept: nothing proves it changed nothing.
    """
    return p.action == ChangeAction.UPDATE and p.prechange is not None and canonical(p.prechange) == canonical(post)


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


def _repr(obj: models.Model) -> str:
    """The object's name for ``object_repr``; a name built from rows that are gone is not worth a 500."""
    try:
        return str(obj)[:200]
    except ObjectDoesNotExist:
        return f"{obj._meta.verbose_name} {obj.pk}"[:200]


def _build(obj: models.Model, action: str, pre: dict | None, post: dict | None, ctx: ChangeContext,
           pk: Any = None) -> ObjectChange:
    related = getattr(obj, "change_log_parent", None)
    deleted = action == ChangeAction.DELETE and hasattr(obj, "_deleted_repr")
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
        tenant_id=getattr(obj, "_deleted_tenant", None) if deleted else tenant_of(obj, pk),
        object_repr=getattr(obj, "_deleted_repr", "") if deleted else _repr(obj),
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
        version, key = current_key()
        for record in records:
            record.time = now
            record.prechange_data = _as_stored(record.prechange_data)
            record.postchange_data = _as_stored(record.postchange_data)
            record.salt = secrets.token_hex(16)
            record.key_version = version
            record.data_digest = data_digest(record.salt, record, key)
            record.prev_hash = prev
            record.chain_hash = link_hash(prev, record, key)
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
    """What :func:`verify` found.  ``ok`` only when there is no problem at all.

    ``broken_id``/``broken_time`` name the first record that does not fit (``reason`` says
    why); a problem that is not one record (a deleted tail, a forged checkpoint line) has
    no ``broken_id``.  ``problems`` lists every problem found, the record's first.
    """

    checked: int
    broken_id: int | None = None
    reason: str = ""
    broken_time: dt.datetime | None = None
    problems: list[str] = field(default_factory=list)
    #: Last record id in the database (0: empty) and the latest checkpoint compared against.
    last_id: int = 0
    checkpoint: Checkpoint | None = None
    missing_tail: bool = False
    #: Records after the latest checkpoint, which no checkpoint covers yet.
    after_checkpoint: int = 0
    erasures: int = 0
    erased: int = 0
    #: Records per key version (0: legacy).
    key_versions: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, problem: str, row: ObjectChange | None = None) -> None:
        if row is not None and self.broken_id is None:
            self.broken_id, self.broken_time = row.id, row.time
            self.reason = problem
            self.problems.insert(0, problem)
            return
        if not self.reason:
            self.reason = problem
        self.problems.append(problem)


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


def erasure_list(row: ObjectChange) -> list[int] | None:
    """The record ids an erasure record names, or None if its payload is not a valid list."""
    data = row.postchange_data
    ids = data.get(ERASURE_LIST) if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(type(i) is int and 0 < i < row.id for i in ids):
        return None
    return ids


def _row_problem(row: ObjectChange, prev: str, keys: dict[int, bytes], keyed_before: bool) -> str | None:
    """Why ``row`` does not fit after a record whose hash is ``prev`` (None if it fits)."""
    if row.prev_hash != prev:
        return "previous-hash link does not match the row before (row removed or reordered)"
    key: bytes | None = None
    if row.key_version == 0:
        if keyed_before:
            return ("written with the legacy unkeyed scheme (key version 0) after records signed with the audit "
                    "key; legacy records exist only before the first keyed one, so this one was forged")
    else:
        key = keys.get(row.key_version)
        if key is None:
            return (f"signed with audit key version {row.key_version}, which is not configured "
                    f"({settings.AUDIT_KEY_SOURCE}): the key was removed, so this record cannot be verified")
    if row.erased:
        if not _is_blank(row):
            # Erasure skips the digest, so the erased flag must not hide rewritten data.
            return "row is marked erased but still carries data"
        if row.action == ChangeAction.ERASE:
            return "an erasure record is marked erased (erasure records are never erased)"
    elif data_digest(row.salt, row, key) != row.data_digest:
        return "data differs from its digest (before/after, user or object altered)"
    if link_hash(prev, row, key) != row.chain_hash:
        return ("row hash does not match its columns (time, action, object, user, tenant or digest altered, "
                "or the hash was recomputed without the audit key)")
    if row.action == ChangeAction.ERASE and not row.erased and erasure_list(row) is None:
        return "erasure record does not name the records it erased"
    return None


def verify(progress: Any = None, checkpoints: CheckpointLog | None = None) -> VerifyResult:
    """Walk the chain from the start and report the first record that does not fit, then the rest.

    Checks per record: the link to the one before, the key version (configured; legacy only
    before the first keyed record), the payload digest (or, for an erased record, that it is
    blank), the chain hash, and any checkpoint naming it.  After the walk: every erased record
    is named by an erasure record, and the database reaches the latest checkpoint (a deleted
    tail).  ``checkpoints`` defaults to what the configured sinks hold.
    """
    from cmdb.core import checkpoints as cps

    log = cps.read_checkpoints() if checkpoints is None else checkpoints
    result = VerifyResult(0)
    keys = audit_keys()
    latest = log.latest()
    result.checkpoint = latest
    trusted: dict[int, list[Checkpoint]] = defaultdict(list)
    prev, anchor, keyed = GENESIS, None, False
    erased_rows: list[ObjectChange] = []
    covered: set[int] = set()
    seen_checkpointed: set[int] = set()
    broken = False
    for row in _iter_chain():
        if anchor is None:
            anchor = row.chain_hash
            for cp in log.checkpoints:
                if cp.anchor == anchor and cp.id:
                    trusted[cp.id].append(cp)
        result.last_id = row.id
        if broken:
            continue  # past a break nothing is verifiable; the walk only finds the last id
        problem = _row_problem(row, prev, keys, keyed)
        if problem is None:
            for cp in trusted.get(row.id, ()):
                seen_checkpointed.add(row.id)
                if cp.hash != row.chain_hash:
                    problem = (f"does not match checkpoint #{cp.n} (hash {cp.hash}, written {cp.written}): the "
                               "chain was rewritten after the checkpoint")
                    break
        if problem is not None:
            result.fail(problem, row)
            broken = True
            continue
        if row.erased:
            erased_rows.append(row)
        elif row.action == ChangeAction.ERASE:
            result.erasures += 1
            covered.update(erasure_list(row) or ())
        if latest is not None and row.id > latest.id:
            result.after_checkpoint += 1
        keyed = keyed or row.key_version > 0
        result.key_versions[row.key_version] = result.key_versions.get(row.key_version, 0) + 1
        prev = row.chain_hash
        result.checked += 1
        if progress is not None:
            progress.update(1)
    result.erased = len(erased_rows)
    if not broken:
        for row in erased_rows:
            if row.id not in covered:
                result.fail("marked erased, but no erasure record names it: its data was blanked behind the "
                            "erasure service's back (every erasure is recorded, see 'cmdb audit erase')", row)
                break
    _compare_with_checkpoints(result, log, anchor or GENESIS, trusted, seen_checkpointed)
    return result


def _compare_with_checkpoints(result: VerifyResult, log: CheckpointLog, anchor: str,
                              trusted: dict[int, list[Checkpoint]], seen: set[int]) -> None:
    """The checks that need the checkpoints: a deleted tail, a rewritten start, a missing record."""
    result.problems.extend(log.problems)
    if log.problems and not result.reason:
        result.reason = log.problems[0]
    latest = log.latest()
    if latest is None:
        result.notes.append("no checkpoint to compare with" + (f" in {', '.join(log.sources)}" if log.sources else
                            " (no readable checkpoint sink is configured)")
                            + ": a deleted tail cannot be detected; run 'cmdb audit checkpoint'")
        return
    where = f"checkpoint #{latest.n} at id {latest.id} hash {latest.hash} (written {latest.written})"
    if latest.id and not result.last_id:
        result.missing_tail = True
        result.fail(f"{where}, database has no change records: they were deleted")
        return
    if latest.id and latest.anchor != anchor:
        result.fail(f"{where} belongs to a chain that starts with hash {latest.anchor}, but this database's "
                    f"starts with {anchor}: the chain was rewritten from its start (or the checkpoint file is "
                    "another instance's)")
        return
    if latest.id > result.last_id:
        result.missing_tail = True
        result.fail(f"{where}, database ends at id {result.last_id}: the records after it were deleted")
        return
    if result.broken_id is None:
        missing = sorted(i for i in trusted if i not in seen and i <= result.last_id)
        if missing:
            cp = trusted[missing[0]][0]
            result.fail(f"record #{cp.id}, named by checkpoint #{cp.n} (hash {cp.hash}), is missing")
