"""Collisions: overlapping windows and intersecting blast radii flag both changes; disjoint ones do not."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cmdb.changes import collisions
from cmdb.changes.collisions import _parse, shared_with
from cmdb.changes.models import Change, ChangeCollision


def test_encode_and_decode_radii() -> None:
    assert collisions.encode([5, 3, 3, 1]) == b"\x04" + np.array([1, 3, 5], dtype="<i4").tobytes()
    assert collisions.decode(collisions.encode([5, 3, 3, 1])).tolist() == [1, 3, 5]
    assert collisions.encode([]) == b"" and collisions.decode(b"").size == 0 and collisions.decode(None).size == 0
    big = [1, 2**31, 2**40]  # past int32: stored as int64, read by the same code
    assert collisions.encode(big)[0] == 8 and collisions.decode(collisions.encode(big)).tolist() == big
    assert collisions.decode(memoryview(collisions.encode(np.arange(10)))).dtype == np.int64
    with pytest.raises(ValueError, match="not an encoded"):
        collisions.decode(b"\x04abc")


def test_parse_radii_in_one_go() -> None:
    rows = [[1, 2, 3], [], [40], list(range(100, 1100)), [7, 8]]
    flat, lengths = _parse([collisions.encode(r) for r in rows])
    assert lengths.tolist() == [3, 0, 1, 1000, 2]
    assert flat.tolist() == [1, 2, 3, 40, *range(100, 1100), 7, 8]
    flat, lengths = _parse([b"", None])
    assert flat.size == 0 and lengths.tolist() == [0, 0]


def test_shared_with_finds_every_intersection() -> None:
    flat, lengths = _parse([collisions.encode(r) for r in ([1, 2, 3], [], [9, 10], [3, 10, 11], [50])])
    ids = np.array([101, 102, 103, 104, 105])
    assert shared_with(np.array([3, 10, 99]), ids, lengths, flat) == [(101, [3]), (103, [10]), (104, [3, 10])]
    assert shared_with(np.array([77]), ids, lengths, flat) == []
    assert shared_with(np.array([], dtype=np.int64), ids, lengths, flat) == []
    # A radius spread over a huge id range takes numpy's sorting path instead of the lookup table.
    assert shared_with(np.array([10, 10**12]), ids, lengths, flat) == [(103, [10]), (104, [10])]


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


@pytest.mark.django_db
def test_the_radius_is_stored_as_bytes_and_read_as_a_sorted_list() -> None:
    from django.db import connection

    change = make([30, 10, 20, 10], T0)
    change.refresh_from_db()
    assert change.blast_radius == [10, 20, 30]
    with connection.cursor() as cursor:
        cursor.execute("SELECT blast_radius FROM changes_change WHERE id = %s", [change.pk])
        raw = bytes(cursor.fetchone()[0])
    assert raw == collisions.encode([10, 20, 30])
    Change.objects.filter(pk=change.pk).update(blast_radius=np.array([2**33, 5]))
    change.refresh_from_db()
    assert change.blast_radius == [5, 2**33]
    Change.objects.filter(pk=change.pk).update(blast_radius=[])
    change.refresh_from_db()
    assert change.blast_radius == []


@pytest.mark.django_db
def test_record_rewrites_many_rows_with_one_delete_and_batched_inserts() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    new = make(list(range(1000, 1100)), T0)
    Change.objects.bulk_create([
        Change(title=f"c{k}", state="scheduled", window_start=T0, window_end=T0 + H, blast_radius=[1000 + k % 100])
        for k in range(3000)
    ])
    collisions.record(new)
    assert ChangeCollision.objects.count() == 3000
    with CaptureQueriesContext(connection) as ctx:
        found = collisions.record(new)
    assert len(found) == 3000 and ChangeCollision.objects.count() == 3000
    sql = [q["sql"].split()[0].upper() for q in ctx.captured_queries]
    sql = [q for q in sql if q not in ("SAVEPOINT", "RELEASE")]
    # find (1 query), one DELETE, then one COPY on PostgreSQL (not captured) or two INSERT batches.
    assert sql.count("SELECT") == 1 and sql.count("DELETE") == 1
    assert sql.count("INSERT") == (0 if connection.vendor == "postgresql" else 2) and len(sql) <= 4
    row = ChangeCollision.objects.get(change_b=Change.objects.get(title="c5"))
    assert row.change_a_id == new.pk and row.shared_ci_ids == [1005] and row.detected_at is not None
