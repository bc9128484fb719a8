"""Collisions: overlapping windows and intersecting blast radii flag both changes; disjoint ones do not."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from cmdb.changes import collisions
from cmdb.changes.collisions import _parse, shared_with
from cmdb.changes.models import Change, ChangeCollision


def test_parse_json_lists_in_one_go() -> None:
    texts = ["[1, 2, 3]", "[]", "[40]", json.dumps(list(range(100, 1100))), "[ 7 ,8 ]"]
    flat, lengths = _parse(texts)
    assert lengths.tolist() == [3, 0, 1, 1000, 2]
    assert flat.tolist() == [1, 2, 3, 40, *range(100, 1100), 7, 8]
    flat, lengths = _parse(["[]", "[]"])
    assert flat.size == 0 and lengths.tolist() == [0, 0]


def test_shared_with_finds_every_intersection() -> None:
    texts = ["[1, 2, 3]", "[]", "[9, 10]", "[3, 10, 11]", "[50]"]
    flat, lengths = _parse(texts)
    ids = np.array([101, 102, 103, 104, 105])
    assert shared_with(np.array([3, 10, 99]), ids, lengths, flat) == [(101, [3]), (103, [10]), (104, [3, 10])]
    assert shared_with(np.array([77]), ids, lengths, flat) == []
    assert shared_with(np.array([], dtype=np.int64), ids, lengths, flat) == []


# --- against the database ------------------------------------------------------------------------

T0 = dt.datetime(2027, 1, 12, 20, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def make(radius: list[int], start: dt.datetime | None, hours: float = 2, state: str = "scheduled") -> Change:
    end = start + dt.timedelta(hours=hours) if start else None
    return Change.objects.create(title=f"radius of {len(radius)}", state=state, window_start=start, window_end=end,
                                 blast_radius=radius)


def pairs() -> set[tuple[int, int, tuple[int, ...]]]:
    return {(r.change_a_id, r.change_b_id, tuple(r.shared_ci_ids)) for r in ChangeCollision.objects.all()}


@pytest.mark.django_db
def test_overlapping_windows_and_intersecting_radii_flag_both() -> None:
    a = make([1, 2, 3, 40], T0)
    b = make([3, 4, 40, 99], T0 + H)  # overlaps a's second hour, shares 3 and 40
    assert collisions.find(a) == [(b.pk, [3, 40])]
    assert collisions.find(b) == [(a.pk, [3, 40])]
    collisions.record(b)
    assert pairs() == {(a.pk, b.pk, (3, 40))}
    assert collisions.of([a.pk, b.pk]) == {a.pk: [(b.pk, [3, 40])], b.pk: [(a.pk, [3, 40])]}
    collisions.record(a)  # recording from the other side rewrites the same row
    assert pairs() == {(a.pk, b.pk, (3, 40))}


@pytest.mark.django_db
def test_disjoint_windows_or_radii_or_closed_states_do_not_collide() -> None:
    a = make([1, 2, 3], T0)
    make([1, 2, 3], T0 + 2 * H)  # starts when a ends: half-open windows do not overlap
    make([1, 2, 3], T0 - 5 * H, hours=3)  # ends two hours before a
    make([7, 8, 9], T0)  # same window, disjoint radius
    make([1], T0, state="draft")  # not planned yet
    make([1], T0, state="cancelled")
    make([1], None, state="submitted")  # no window
    assert collisions.find(a) == []
    assert collisions.record(a) == [] and not ChangeCollision.objects.exists()


@pytest.mark.django_db
def test_record_follows_a_moved_window_and_a_finished_change() -> None:
    a = make([5, 6], T0)
    b = make([6], T0 + H)
    collisions.record(a)
    assert len(pairs()) == 1
    Change.objects.filter(pk=b.pk).update(window_start=T0 + 5 * H, window_end=T0 + 6 * H)
    b.refresh_from_db()
    collisions.record(b)
    assert pairs() == set()
    Change.objects.filter(pk=b.pk).update(window_start=T0, window_end=T0 + H)
    b.refresh_from_db()
    collisions.record(b)
    assert len(pairs()) == 1
    Change.objects.filter(pk=a.pk).update(state="completed")
    a.refresh_from_db()
    collisions.record(a)  # a finished change keeps no collisions
    assert pairs() == set()


@pytest.mark.django_db
def test_many_candidates_one_query() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    new = make(list(range(1000, 1100)), T0)
    Change.objects.bulk_create([
        Change(title=f"c{k}", state="scheduled", window_start=T0, window_end=T0 + H,
               blast_radius=[k * 10_000 + j for j in range(20)] + ([1050] if k % 7 == 0 else []))
        for k in range(1, 701)
    ])
    with CaptureQueriesContext(connection) as ctx:
        found = collisions.find(new)
    assert len(ctx.captured_queries) == 1
    assert len(found) == 100 and all(shared == [1050] for _other, shared in found)
