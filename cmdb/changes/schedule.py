"""The scheduling suggestion: the next window in which a change collides with nothing and no freeze blocks it.

Busy time for a change is (a) the windows of the open changes whose blast radius shares a CI
with its own (:mod:`cmdb.changes.collisions`) and (b) the freezes that block its type for its CIs
(:func:`cmdb.changes.freezes.blocking`).  The suggestion is the earliest start at or after
``after`` where a window of the change's length fits between them.

**Preferred time.**  The CMDB models no maintenance windows (no model, field or custom field holds
one; ``grep -ri maintenance`` finds only the CI status ``maintenance``), so there is no "inside a
maintenance window of its CIs" to prefer.  What it does know is each service's support hours: the
suggestion prefers the *quiet time* of the change -- outside the support hours of every service
its assessment found impacted -- and falls back to any free time when none fits within the
horizon (a 24x7 service has no quiet time).  :func:`first_fit` takes the preferred periods as
plain data, so maintenance windows, once modelled, are one more list of periods to pass.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from . import collisions, risk

Window = tuple[dt.datetime, dt.datetime]

#: How far ahead a suggestion looks (``CHANGES_SCHEDULE_HORIZON_DAYS``).
HORIZON_DAYS = 60
#: Length assumed for a change without a planned window (``CHANGES_DEFAULT_DURATION_MINUTES``).
DEFAULT_DURATION = dt.timedelta(hours=1)
#: Suggested starts are rounded up to this step.
STEP = dt.timedelta(minutes=15)


def merge(intervals: Iterable[Window]) -> list[Window]:
    """Sorted, non-overlapping union of half-open intervals (touching ones joined)."""
    out: list[list[dt.datetime]] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def complement(periods: Sequence[Window], start: dt.datetime, end: dt.datetime) -> list[Window]:
    """The parts of ``[start, end)`` outside the (merged) ``periods``."""
    out, cursor = [], start
    for s, e in merge(periods):
        if s > cursor:
            out.append((cursor, min(s, end)))
        cursor = max(cursor, e)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return [w for w in out if w[1] > w[0]]


def round_up(t: dt.datetime, step: dt.timedelta = STEP) -> dt.datetime:
    """``t`` rounded up to the next multiple of ``step`` since the epoch (unchanged when on one)."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    rest = (t - epoch) % step
    return t if not rest else t + (step - rest)


def first_fit(after: dt.datetime, duration: dt.timedelta, busy: Iterable[Window], until: dt.datetime,
              preferred: Sequence[Window] | None = None, step: dt.timedelta = STEP) -> Window | None:
    """Earliest ``[s, s + duration)`` with ``s >= after`` and ``s + duration <= until`` that overlaps no busy
    interval; inside one preferred period if any such fits, else anywhere.  None: nothing fits.

    Candidate starts are ``after``, the end of every busy interval and the start of every preferred
    period (each rounded up to ``step``): the earliest fit is always at one of them.
    """
    blocked = merge(busy)
    starts = [s for s, _ in blocked]
    ends = [e for _, e in blocked]

    def free(s: dt.datetime) -> bool:
        k = bisect.bisect_right(ends, s)  # first busy interval ending after s
        return k >= len(blocked) or starts[k] >= s + duration

    pref = merge(preferred or [])
    base = [after, *ends]
    for periods in ([pref] if pref else []) + [None]:
        cands = base + ([s for s, _ in periods] if periods else [])
        for c in sorted({round_up(max(c, after), step) for c in cands}):
            if c + duration > until:
                break
            if not free(c):
                continue
            if periods is None:
                return (c, c + duration)
            k = bisect.bisect_right([s for s, _ in periods], c) - 1
            if k >= 0 and periods[k][1] >= c + duration:
                return (c, c + duration)
    return None


def quiet_periods(support_hours: Iterable[str], start: dt.datetime, end: dt.datetime,
                  tz: dt.tzinfo) -> list[Window]:
    """Time in ``[start, end)`` outside the support hours of every one of ``support_hours``."""
    busy: list[Window] = []
    for hours in set(support_hours):
        busy += risk.support_periods(start, end, hours, tz)
    return complement(busy, start, end)


def _settings_duration() -> dt.timedelta:
    minutes = getattr(settings, "CHANGES_DEFAULT_DURATION_MINUTES", None)
    return dt.timedelta(minutes=int(minutes)) if minutes else DEFAULT_DURATION


def next_free_window(change: Any, after: dt.datetime | None = None) -> Window | None:
    """The next window for ``change``: no collision with open changes sharing its blast radius, outside
    every freeze that blocks its type for its CIs, preferably in its quiet time (see the module doc).

    The window keeps the change's planned length (default one hour).  ``after`` defaults to now.
    None when nothing fits within ``CHANGES_SCHEDULE_HORIZON_DAYS`` (60).  Reads the stored
    assessment (blast radius, impacted services): assess the change first.
    """
    from .freezes import blocking

    now = timezone.now()
    after = max(after or now, now)
    horizon = dt.timedelta(days=int(getattr(settings, "CHANGES_SCHEDULE_HORIZON_DAYS", HORIZON_DAYS)))
    until = after + horizon
    if change.window_start and change.window_end:
        duration = change.window_end - change.window_start
    else:
        duration = _settings_duration()
    busy: list[Window] = []
    radius = change.blast_radius or []
    if radius:
        ids, windows, texts = collisions.candidates(after, until, exclude=change.pk)
        if len(ids):
            flat, lengths = collisions._parse(texts)
            hits = {other for other, _shared in collisions.shared_with(radius, ids, lengths, flat)}
            busy += [w for i, w in zip(ids.tolist(), windows, strict=True) if i in hits]
    ci_ids = list(change.cis.values_list("pk", flat=True)) if change.pk else []
    busy += [(f.start, f.end) for f in blocking(ci_ids, after, until, change.type)]
    services = (change.assessment or {}).get("services", [])
    preferred = None
    if services:
        preferred = quiet_periods([s.get("support_hours") or "24x7" for s in services], after, until,
                                  risk.support_timezone())
    return first_fit(after, duration, busy, until, preferred)
