"""Collisions: two open changes whose windows overlap and whose blast radii share CIs.

Why the whole blast radius and not only the changed CIs: two changes to different CIs still
collide when one takes down what the other needs (a firmware upgrade of the core switch and a
database migration behind it in the same night).  The blast radius is stored on each change by
:mod:`cmdb.changes.assessment` (``Change.blast_radius``: the changed CIs and everything that
depends on them), so the check needs no graph walk.

How it stays fast against thousands of scheduled changes: the radius is stored as the bytes of a
sorted integer array (:func:`encode`; ``bytea`` on PostgreSQL, ``BLOB`` on SQLite), so reading it is
a copy, not a parse (a JSON column cost ~2 s of jsonb-to-text conversion and parsing for 10,000
overlapping changes).  One SQL query keeps only the open changes whose window overlaps (the ``state,
window_start`` index) and returns their radius bytes; :func:`_parse` views each with
``np.frombuffer`` into one flat id array with a row length per change, and one ``np.isin`` against
this change's radius finds every shared CI of every candidate at once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import BinaryField, ExpressionWrapper, F, Q
from django.utils import timezone

#: States of changes that can still collide (a draft is not planned yet; a finished change is over).
COLLIDING_STATES = ("submitted", "approved", "scheduled", "in_progress")
#: Shared CI ids stored per collision row, as examples for the change's page (two core-switch changes
#: share the whole data center); :func:`find` always returns them all.  Why so few: the rows are
#: jsonb, and 10,000 collisions of ~200 shared CIs each took PostgreSQL 3-6 s to store (2 M numbers).
STORED_SHARED_MAX = 20


#: First byte of an encoded radius: the width of its integers (int32 while every id fits, else int64).
_WIDTH = {4: np.dtype("<i4"), 8: np.dtype("<i8")}
_INT32_MAX = 2**31 - 1


def encode(ids: Sequence[int] | np.ndarray | None) -> bytes:
    """The stored form of a set of CI ids: one width byte, then the sorted unique ids, little-endian.

    Why int32 when they fit: CI ids are ``bigint`` (``BigAutoField``) but far below 2**31 in practice,
    and half the bytes is half the transfer when 10,000 radii are read; a registry past 2**31 ids
    gets int64 rows, read by the same code.
    """
    arr = np.unique(np.asarray(ids if ids is not None else [], dtype=np.int64))
    if not arr.size:
        return b""
    width = 4 if arr[0] >= 0 and arr[-1] <= _INT32_MAX else 8
    return bytes([width]) + arr.astype(_WIDTH[width], copy=False).tobytes()


def decode(blob: bytes | memoryview | None) -> np.ndarray:
    """The int64 id array of an :func:`encode` blob (a view and one widening copy, no parsing)."""
    if blob is None or len(blob) == 0:
        return np.zeros(0, dtype=np.int64)
    view = memoryview(blob)
    dtype = _WIDTH.get(view[0])
    if dtype is None or (len(view) - 1) % dtype.itemsize:
        raise ValueError("not an encoded blast radius")
    return np.frombuffer(view, dtype=dtype, offset=1).astype(np.int64)


def _parse(blobs: Sequence[bytes | memoryview | None]) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, length per row) of encoded radii (:func:`encode`): one ``frombuffer`` view per row, one concat."""
    parts = [decode(b) for b in blobs]
    lengths = np.fromiter((p.size for p in parts), dtype=np.int64, count=len(parts))
    if not parts:
        return np.zeros(0, dtype=np.int64), lengths
    return np.concatenate(parts), lengths


def shared_with(radius: Sequence[int] | np.ndarray, ids: np.ndarray, lengths: np.ndarray,
                flat: np.ndarray) -> list[tuple[int, list[int]]]:
    """For candidate rows ``ids`` (radii concatenated in ``flat``, ``lengths`` each): those sharing CIs
    with ``radius``, and the shared CI ids (sorted), in the order of ``ids``.

    Each row of ``flat`` is sorted and unique (as :func:`decode` returns it), so the hits of a row are
    its shared ids as they are: no per-row sort.
    """
    radius = np.unique(np.asarray(radius, dtype=np.int64))
    if not radius.size or not flat.size:
        return []
    # A lookup table over the radius' id range when it is small (O(n), no sort of the 2 M candidate ids).
    kind = "table" if int(radius[-1]) - int(radius[0]) <= 64_000_000 else None
    hit = np.isin(flat, radius, kind=kind)
    if not hit.any():
        return []
    owner = np.repeat(np.arange(len(ids)), lengths)[hit]
    values = flat[hit]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(owner)) + 1))
    others = np.asarray(ids)[owner[starts]].tolist()
    cuts = [*starts.tolist(), len(values)]
    return [(int(other), values[lo:hi].tolist()) for other, (lo, hi) in zip(others, itertools.pairwise(cuts),
                                                                             strict=True)]


def candidates(start: dt.datetime, end: dt.datetime, *, exclude: int | None = None,
               states: Sequence[str] = COLLIDING_STATES,
               windows: bool = True) -> tuple[np.ndarray, list[tuple[Any, Any]], list[bytes]]:
    """Open changes whose window overlaps ``[start, end)``: (ids, windows, encoded radii); one query.

    ``windows=False`` leaves the windows out (an empty list): the collision check does not need them,
    and converting 20,000 timestamps is a fifth of its time against 10,000 changes.

    The radius is read as raw bytes (the expression's output field is a plain ``BinaryField``), not
    through ``Change.blast_radius``'s converter, which builds a Python list per change.
    """
    from .models import Change

    qs = Change.objects.filter(state__in=list(states), window_start__lt=end, window_end__gt=start)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    radius = ExpressionWrapper(F("blast_radius"), output_field=BinaryField())
    if not windows:
        rows = list(qs.order_by().values_list("pk", radius))
        return np.array([r[0] for r in rows], dtype=np.int64), [], [r[1] or b"" for r in rows]
    rows = list(qs.order_by().values_list("pk", "window_start", "window_end", radius))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, [(r[1], r[2]) for r in rows], [r[3] or b"" for r in rows]


def find_for(radius: Sequence[int] | np.ndarray, start: dt.datetime | None, end: dt.datetime | None, *,
             exclude: int | None = None) -> list[tuple[int, list[int]]]:
    """Open changes colliding with a change of blast radius ``radius`` in ``[start, end)`` (plain data)."""
    if start is None or end is None or not len(radius):
        return []
    ids, _windows, blobs = candidates(start, end, exclude=exclude, windows=False)
    if not len(ids):
        return []
    flat, lengths = _parse(blobs)
    return shared_with(np.asarray(radius, dtype=np.int64), ids, lengths, flat)


def find(change: Any) -> list[tuple[int, list[int]]]:
    """``[(other change id, shared CI ids)]`` of the open changes colliding with ``change``.

    Uses the stored blast radius (refresh the assessment first when the CIs changed).
    """
    radius = change.blast_radius
    return find_for([] if radius is None else radius, change.window_start, change.window_end, exclude=change.pk)


def record(change: Any, *, now: dt.datetime | None = None) -> list[tuple[int, list[int]]]:
    """Rewrite the :class:`ChangeCollision` rows of ``change`` (one delete, one COPY); returns :func:`find`.

    A change that can no longer collide (draft, finished, cancelled ...) keeps no rows.  The rows are
    derived data (no change log, nothing refers to them), so they are deleted with one plain SQL
    ``DELETE``: the ORM's ``delete()`` would load every row (the project's global delete signals
    forbid its fast path) and delete them in batches by primary key -- 9 s for 10,000 rows.
    """
    from .models import ChangeCollision

    now = now or timezone.now()
    found = find(change) if change.state in COLLIDING_STATES else []
    meta, quote = ChangeCollision._meta, connection.ops.quote_name
    cols = [quote(meta.get_field(name).column) for name in ("change_a", "change_b", "shared_ci_ids", "detected_at")]
    rows = [(min(change.pk, other), max(change.pk, other), shared[:STORED_SHARED_MAX]) for other, shared in found]
    with transaction.atomic(), connection.cursor() as cursor:
        # Identifiers from the model's metadata, quoted; values are parameters.
        cursor.execute(f"DELETE FROM {quote(meta.db_table)} WHERE {cols[0]} = %s OR {cols[1]} = %s",  # noqa: S608
                       [change.pk, change.pk])
        if connection.vendor == "postgresql" and rows:
            # COPY: 10,000 rows in ~0.2 s where the ORM's bulk insert takes 0.5-0.8 s (model instances,
            # UNNEST arrays) on a loaded machine.
            with cursor.copy(f"COPY {quote(meta.db_table)} ({', '.join(cols)}) FROM STDIN") as copy:
                for a, b, shared in rows:
                    copy.write_row((a, b, json.dumps(shared), now))
        else:
            ChangeCollision.objects.bulk_create([
                ChangeCollision(change_a_id=a, change_b_id=b, shared_ci_ids=shared, detected_at=now)
                for a, b, shared in rows], batch_size=2000)
    return found


def of(change_ids: Sequence[int]) -> dict[int, list[tuple[int, list[int]]]]:
    """Stored collisions of some changes: change id -> [(other change id, shared CI ids)] (one query)."""
    from .models import ChangeCollision

    out: dict[int, list[tuple[int, list[int]]]] = {}
    ids = list(change_ids)
    if not ids:
        return out
    rows = ChangeCollision.objects.filter(Q(change_a_id__in=ids) | Q(change_b_id__in=ids)).values_list(
        "change_a_id", "change_b_id", "shared_ci_ids")
    wanted = set(ids)
    for a, b, shared in rows:
        if a in wanted:
            out.setdefault(a, []).append((b, shared))
        if b in wanted:
            out.setdefault(b, []).append((a, shared))
    return out
