"""The size schedule: how many desktops a pool wants at a moment, from its weekday rules and its course
timetables (scaled up ``lead_minutes`` before a lecture, down when it ends).

Everything is computed on arrays over time: :func:`sizes` takes a grid of instants (``start`` plus ``steps``
steps of ``step`` seconds, each step standing for the interval it opens) and answers a matrix pools x steps
with one query for the rules and one for the lectures, whatever the number of pools and steps.  A step counts
a rule or lecture that overlaps any part of it, so a capacity check over 15-minute steps never misses a
10-minute peak; :func:`wanted_size` asks about one instant exactly.

Rules are in the CMDB's local time zone (a lab opens at 08:00 in winter and in summer); lectures carry their
own time zone from the ICS file.  The wanted size is ``max(min_size, matching rules, lectures)`` capped at
``max_size`` (rules and timetables above the maximum are refused when saved).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

WEEK = 7 * 24 * 3600


@dataclass(frozen=True)
class PoolSpec:
    """What the schedule, capacity and licence checks need of a pool (plain data: the candidate of an
    unsaved change is one too)."""

    id: int | None
    name: str
    cluster_id: int
    tenant_id: int | None
    golden_image_id: int
    pool_type: str
    vcpus: int
    memory_mb: int
    min_size: int
    max_size: int
    spare: int
    gpu_model: str = ""
    gpu_profile: str = ""
    gpu_profile_mb: int = 0

    @classmethod
    def of(cls, pool: object) -> PoolSpec:
        profile = getattr(pool, "gpu_profile", None) if getattr(pool, "gpu_profile_id", None) else None
        return cls(id=pool.pk, name=pool.name, cluster_id=pool.cluster_id, tenant_id=pool.tenant_id,
                   golden_image_id=pool.golden_image_id, pool_type=pool.pool_type, vcpus=pool.vcpus,
                   memory_mb=pool.memory_mb, min_size=pool.min_size, max_size=pool.max_size, spare=pool.spare,
                   gpu_model=profile.gpu_model if profile else "", gpu_profile=profile.name if profile else "",
                   gpu_profile_mb=profile.frame_buffer_mb if profile else 0)


def specs(queryset: Iterable | None = None) -> list[PoolSpec]:
    """PoolSpecs of ``queryset`` (default: every pool), with one query."""
    from .models import Pool

    qs = queryset if queryset is not None else Pool.objects.all()
    return [PoolSpec.of(p) for p in qs.select_related("gpu_profile")]


@dataclass(frozen=True)
class Grid:
    """Instants ``t`` (epoch seconds) each standing for ``[t, t + width)``; local weekday and second of day."""

    t: np.ndarray
    width: float
    weekday: np.ndarray
    second: np.ndarray

    @classmethod
    def make(cls, start: dt.datetime, steps: int, step: float) -> Grid:
        t0 = start.timestamp()
        t = t0 + np.arange(steps, dtype=np.float64) * step
        tz = timezone.get_current_timezone()
        # Local calendar per step: one conversion per step (672 for a week of 15 minutes), shared by all pools.
        local = [dt.datetime.fromtimestamp(x, tz) for x in t.tolist()]
        weekday = np.fromiter((x.weekday() for x in local), dtype=np.int8, count=steps)
        second = np.fromiter((x.hour * 3600 + x.minute * 60 + x.second for x in local), dtype=np.float64,
                             count=steps)
        return cls(t=t, width=float(step), weekday=weekday, second=second)


def _overlaps(t: np.ndarray, width: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether ``[t, t + width)`` meets ``[a, b)`` (an instant when width is 0), broadcast."""
    return (t < b) & ((t + width > a) | (t >= a))


def load(pool_ids: list[int]) -> tuple[dict[int, list[tuple]], dict[int, list[tuple]]]:
    """Rules ``(weekday, start s, end s, size)`` and lectures ``(start, end, weekly, until, lead s, size)``
    of the pools, two queries."""
    from .models import Lecture, PoolScheduleRule

    rules: dict[int, list[tuple]] = defaultdict(list)
    lectures: dict[int, list[tuple]] = defaultdict(list)
    if not pool_ids:
        return rules, lectures
    for pool_id, weekday, start, end, size in PoolScheduleRule.objects.filter(pool_id__in=pool_ids).values_list(
            "pool_id", "weekday", "start", "end", "size"):
        rules[pool_id].append((weekday, start.hour * 3600 + start.minute * 60 + start.second,
                               end.hour * 3600 + end.minute * 60 + end.second, size))
    for row in Lecture.objects.filter(source__pool_id__in=pool_ids).values_list(
            "source__pool_id", "start", "end", "weekly", "until", "source__lead_minutes", "source__size"):
        lectures[row[0]].append((row[1], row[2], row[3], row[4], row[5] * 60, row[6]))
    return rules, lectures


def _lecture_mask(grid: Grid, items: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Occurrence intervals (lead included) within the grid, and their sizes."""
    lo, hi = grid.t[0], grid.t[-1] + max(grid.width, 1)
    starts, ends, sizes = [], [], []
    for start, end, weekly, until, lead, size in items:
        a, b = start.timestamp() - lead, end.timestamp()
        if not weekly:
            if b > lo and a < hi:
                starts.append(a), ends.append(b), sizes.append(size)
            continue
        last = until.timestamp() if until else a
        first_k = max(0, int(np.floor((lo - b) / WEEK)))
        k = first_k
        while a + k * WEEK < hi and start.timestamp() + k * WEEK <= last:
            if b + k * WEEK > lo:
                starts.append(a + k * WEEK), ends.append(b + k * WEEK), sizes.append(size)
            k += 1
    return np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64), np.array(sizes, dtype=np.int64)


def sizes(pools: list[PoolSpec], grid: Grid, *, loaded: tuple | None = None) -> np.ndarray:
    """Wanted desktops per pool (rows, in ``pools`` order) at every step of ``grid`` (columns)."""
    ids = [p.id for p in pools if p.id is not None]
    rules, lectures = loaded if loaded is not None else load(ids)
    out = np.zeros((len(pools), len(grid.t)), dtype=np.int64)
    for row, pool in enumerate(pools):
        wanted = np.full(len(grid.t), pool.min_size, dtype=np.int64)
        for weekday, start, end, size in rules.get(pool.id, ()):
            hit = (grid.weekday == weekday) & _overlaps(grid.second, grid.width, start, end)
            np.maximum(wanted, np.where(hit, size, 0), out=wanted)
        items = lectures.get(pool.id)
        if items:
            a, b, size = _lecture_mask(grid, items)
            if len(a):
                hit = _overlaps(grid.t[None, :], grid.width, a[:, None], b[:, None])
                np.maximum(wanted, (hit * size[:, None]).max(axis=0), out=wanted)
        out[row] = np.minimum(wanted, pool.max_size)
    return out


def week_grid(start: dt.datetime | None = None, *, days: int = 7, step_minutes: int = 15) -> Grid:
    """The capacity horizon: ``days`` from ``start`` (now) in steps of ``step_minutes``."""
    start = start or timezone.now()
    return Grid.make(start, days * 24 * 60 // step_minutes, step_minutes * 60)


def wanted_size(pool: object, at: dt.datetime | None = None) -> int:
    """How many desktops ``pool`` (a Pool or PoolSpec) wants at the instant ``at`` (now)."""
    spec = pool if isinstance(pool, PoolSpec) else PoolSpec.of(pool)
    grid = Grid.make(at or timezone.now(), 1, 0)
    return int(sizes([spec], grid)[0, 0])
