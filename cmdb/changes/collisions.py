"""Collisions: two open changes whose windows overlap and whose blast radii share CIs.

Why the whole blast radius and not only the changed CIs: two changes to different CIs still
collide when one takes down what the other needs (a firmware upgrade of the core switch and a
database migration behind it in the same night).  The blast radius is stored on each change by
:mod:`cmdb.changes.assessment` (``Change.blast_radius``: the changed CIs and everything that
depends on them), so the check needs no graph walk.

How it stays fast against thousands of scheduled changes: one SQL query keeps only the open
changes whose window overlaps (the ``state, window_start`` index), returning each radius as JSON
text; the texts are joined and parsed by one numpy call into a flat id array with a row length per
change, and one ``np.isin`` against this change's radius finds every shared CI of every candidate
at once.  The same path runs on PostgreSQL and SQLite (the radius is a JSON list on both).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

#: States of changes that can still collide (a draft is not planned yet; a finished change is over).
COLLIDING_STATES = ("submitted", "approved", "scheduled", "in_progress")
#: Shared CI ids stored per collision row (two core-switch changes share the whole data center);
#: :func:`find` always returns them all.
STORED_SHARED_MAX = 1000


def _parse(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, length per row) of JSON integer lists, parsed with one numpy call.

    Falls back to ``json.loads`` per row if a text is not a plain list of integers.
    """
    lengths = np.fromiter((0 if len(t) <= 2 else t.count(",") + 1 for t in texts), dtype=np.int64, count=len(texts))
    body = ",".join(t.strip()[1:-1] for t in texts if len(t) > 2)
    if not body:
        return np.zeros(0, dtype=np.int64), lengths
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy's "could not be read to its end"
        # Text mode (sep given): C-speed, and the whitespace after each comma is skipped.
        flat = np.fromstring(body, dtype=np.int64, sep=",")
    if flat.size != int(lengths.sum()):  # not a plain list of integers: parse it properly
        rows = [json.loads(t) for t in texts]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        flat = np.array([int(x) for r in rows for x in r], dtype=np.int64)
    return flat, lengths


def shared_with(radius: np.ndarray, ids: np.ndarray, lengths: np.ndarray,
                flat: np.ndarray) -> list[tuple[int, list[int]]]:
    """For candidate rows ``ids`` (radii concatenated in ``flat``, ``lengths`` each): those sharing CIs
    with ``radius``, and the shared CI ids (sorted), in the order of ``ids``."""
    radius = np.unique(np.asarray(radius, dtype=np.int64))
    if not radius.size or not flat.size:
        return []
    hit = np.isin(flat, radius)
    if not hit.any():
        return []
    owner = np.repeat(np.arange(len(ids)), lengths)[hit]
    values = flat[hit]
    rows, starts = np.unique(owner, return_index=True)
    out = []
    for k, part in zip(rows.tolist(), np.split(values, starts[1:]), strict=True):
        out.append((int(ids[k]), np.unique(part).tolist()))
    return out


def candidates(start: dt.datetime, end: dt.datetime, *, exclude: int | None = None,
               states: Sequence[str] = COLLIDING_STATES) -> tuple[np.ndarray, list[tuple[Any, Any]], list[str]]:
    """Open changes whose window overlaps ``[start, end)``: (ids, windows, blast radius JSON texts); one query.

    The radius is read as text (``CAST(... AS TEXT)``), not as JSON: the driver would build a Python
    list per change, where :func:`_parse` reads all of them with one numpy call.
    """
    from .models import Change

    qs = Change.objects.filter(state__in=list(states), window_start__lt=end, window_end__gt=start)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    rows = list(qs.order_by().values_list("pk", "window_start", "window_end",
                                          Cast("blast_radius", output_field=TextField())))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, [(r[1], r[2]) for r in rows], [r[3] or "[]" for r in rows]


def find_for(radius: Sequence[int] | np.ndarray, start: dt.datetime | None, end: dt.datetime | None, *,
             exclude: int | None = None) -> list[tuple[int, list[int]]]:
    """Open changes colliding with a change of blast radius ``radius`` in ``[start, end)`` (plain data)."""
    if start is None or end is None or not len(radius):
        return []
    ids, _windows, texts = candidates(start, end, exclude=exclude)
    if not len(ids):
        return []
    flat, lengths = _parse(texts)
    return shared_with(np.asarray(radius, dtype=np.int64), ids, lengths, flat)


def find(change: Any) -> list[tuple[int, list[int]]]:
    """``[(other change id, shared CI ids)]`` of the open changes colliding with ``change``.

    Uses the stored blast radius (refresh the assessment first when the CIs changed).
    """
    return find_for(change.blast_radius or [], change.window_start, change.window_end, exclude=change.pk)


def record(change: Any, *, now: dt.datetime | None = None) -> list[tuple[int, list[int]]]:
    """Rewrite the :class:`ChangeCollision` rows of ``change`` (one delete, one bulk insert); returns :func:`find`.

    A change that can no longer collide (draft, finished, cancelled ...) keeps no rows.
    """
    from .models import ChangeCollision

    now = now or timezone.now()
    found = find(change) if change.state in COLLIDING_STATES else []
    with transaction.atomic():
        ChangeCollision.objects.filter(Q(change_a_id=change.pk) | Q(change_b_id=change.pk)).delete()
        ChangeCollision.objects.bulk_create([
            ChangeCollision(change_a_id=min(change.pk, other), change_b_id=max(change.pk, other),
                            shared_ci_ids=shared[:STORED_SHARED_MAX], detected_at=now)
            for other, shared in found
        ])
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
