"""The scheduling suggestion: the first fitting window between busy times, quiet time preferred."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cmdb.changes.schedule import complement, first_fit, merge, quiet_periods, round_up

BERLIN = ZoneInfo("Europe/Berlin")
H = dt.timedelta(hours=1)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=BERLIN)  # 7 Dec 2026: Monday


def test_merge_and_complement() -> None:
    assert merge([(at(7, 10), at(7, 12)), (at(7, 11), at(7, 13)), (at(7, 13), at(7, 14)), (at(7, 20), at(7, 21))]) \
        == [(at(7, 10), at(7, 14)), (at(7, 20), at(7, 21))]
    assert complement([(at(7, 10), at(7, 12))], at(7, 8), at(7, 18)) == [(at(7, 8), at(7, 10)), (at(7, 12), at(7, 18))]
    assert complement([(at(7, 0), at(8, 0))], at(7, 8), at(7, 18)) == []


def test_round_up_to_quarter_hours() -> None:
    assert round_up(at(7, 10, 1)) == at(7, 10, 15)
    assert round_up(at(7, 10, 15)) == at(7, 10, 15)


def test_first_fit_skips_busy_time_and_gaps_too_short() -> None:
    busy = [(at(7, 10), at(7, 12)), (at(7, 12, 30), at(7, 14))]  # a 30-minute gap, too short for 1 h
    assert first_fit(at(7, 10), H, busy, at(9, 0)) == (at(7, 14), at(7, 15))
    assert first_fit(at(7, 8), H, busy, at(9, 0)) == (at(7, 8), at(7, 9))
    # 30 minutes fit into the gap.
    half = dt.timedelta(minutes=30)
    assert first_fit(at(7, 10), half, busy, at(9, 0)) == (at(7, 12), at(7, 12, 30))
    # Nothing before the horizon.
    assert first_fit(at(7, 10), H, [(at(7, 9), at(9, 0))], at(9, 0)) is None


def test_first_fit_prefers_quiet_time_and_falls_back() -> None:
    quiet = quiet_periods(["business"], at(7, 10), at(10, 0), BERLIN)  # outside Mon-Fri 08-17
    assert quiet[0] == (at(7, 17), at(8, 8))
    got = first_fit(at(7, 10), H, [(at(7, 17), at(7, 19))], at(10, 0), quiet)
    assert got == (at(7, 19), at(7, 20))  # the first quiet hour after the busy evening
    # A 24x7 service leaves no quiet time: the earliest free time is taken.
    assert quiet_periods(["business", "24x7"], at(7, 10), at(10, 0), BERLIN) == []
    assert first_fit(at(7, 10), H, [], at(10, 0), []) == (at(7, 10), at(7, 11))
    # A change longer than every quiet night (15 h) falls back to the earliest free time.
    assert first_fit(at(7, 10), 14 * H, [], at(10, 0), quiet) == (at(7, 17), at(8, 7))
    assert first_fit(at(7, 10), 16 * H, [], at(10, 0), quiet) == (at(7, 10), at(8, 2))


@pytest.mark.parametrize("duration_h", [1, 3])
def test_first_fit_result_never_overlaps_busy(duration_h: int) -> None:
    busy = [(at(7, h), at(7, h) + dt.timedelta(minutes=50)) for h in range(8, 20, 1)]
    start, end = first_fit(at(7, 8), duration_h * H, busy, at(9, 0))
    assert all(end <= s or start >= e for s, e in busy)


# --- next_free_window against the database -------------------------------------------------------


@pytest.mark.django_db
def test_next_free_window_avoids_collisions_and_freezes_blocking_its_type(settings) -> None:
    from cmdb.changes.models import Change, Freeze
    from cmdb.changes.schedule import next_free_window

    settings.CHANGES_SUPPORT_HOURS_TIMEZONE = "Europe/Berlin"
    t0 = dt.datetime(2027, 3, 1, 10, tzinfo=dt.UTC)
    other = Change.objects.create(title="db migration", state="scheduled", window_start=t0, window_end=t0 + 2 * H,
                                  blast_radius=[10, 11, 12])
    Change.objects.create(title="elsewhere", state="scheduled", window_start=t0 + 2 * H, window_end=t0 + 9 * H,
                          blast_radius=[99])
    Freeze.objects.create(name="exam week", start=t0 + 2 * H, end=t0 + 3 * H)  # everything, normal changes
    mine = Change.objects.create(title="switch firmware", type="normal", state="submitted", window_start=t0,
                                 window_end=t0 + H, blast_radius=[1, 11])
    assert other.pk and next_free_window(mine, after=t0) == (t0 + 3 * H, t0 + 4 * H)
    Change.objects.filter(pk=mine.pk).update(type="emergency")
    mine.refresh_from_db()
    assert next_free_window(mine, after=t0) == (t0 + 2 * H, t0 + 3 * H)  # an emergency passes the freeze
    # Its quiet time is preferred: the impacted service has business hours (Berlin), so 17:00 local.
    mine.assessment = {"services": [{"name": "portal", "support_hours": "business"}]}
    berlin = ZoneInfo("Europe/Berlin")
    assert next_free_window(mine, after=t0) == (dt.datetime(2027, 3, 1, 17, tzinfo=berlin),
                                                dt.datetime(2027, 3, 1, 18, tzinfo=berlin))
