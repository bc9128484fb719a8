"""Size schedule: weekday rules and an ICS timetable scale a pool up before a lecture (frozen clock)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from vdi.ics import ICSError, parse_ics
from vdi.models import PoolScheduleRule, TimetableSource
from vdi.schedule import PoolSpec, sizes, wanted_size, week_grid

from .conftest import at, make_pool

pytestmark = pytest.mark.django_db

# Lectures in room Z-7.01 on Mondays 10:00-11:30 Berlin time for 10 weeks, one in another room, one single
# lecture on Wednesday at 14:00 UTC.
ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//HSZG//Stundenplan//DE\r
BEGIN:VEVENT\r
UID:cad-1@hszg\r
SUMMARY:CAD I\r
LOCATION:Z-7.01 (CAD-Labor)\r
DTSTART;TZID=Europe/Berlin:20260112T100000\r
DTEND;TZID=Europe/Berlin:20260112T113000\r
RRULE:FREQ=WEEKLY;COUNT=10\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:math-1@hszg\r
SUMMARY:Mathematik\r
LOCATION:Z-1.12\r
DTSTART;TZID=Europe/Berlin:20260112T080000\r
DTEND;TZID=Europe/Berlin:20260112T093000\r
RRULE:FREQ=WEEKLY;UNTIL=20260701T000000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:cad-exam@hszg\r
SUMMARY:CAD Pr\\, Prüfung\r
LOCATION:Z-7.01\r
DTSTART:20260114T140000Z\r
DTEND:20260114T160000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_the_parser_reads_weekly_series_and_time_zones():
    events = parse_ics(ICS)
    assert [e.uid for e in events] == ["cad-1@hszg", "math-1@hszg", "cad-exam@hszg"]
    cad = events[0]
    assert cad.start == dt.datetime(2026, 1, 12, 9, 0, tzinfo=dt.UTC)
    assert cad.weekly and cad.until == cad.start + dt.timedelta(weeks=9)
    assert events[2].summary == "CAD Pr, Prüfung" and not events[2].weekly


@pytest.mark.parametrize("text, message", [
    ("hello", "BEGIN:VCALENDAR"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260112T100000Z\nEND:VCALENDAR", "never ends"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-01-12\nDTEND:20260112T100000Z\nEND:VEVENT\nEND:VCALENDAR",
     "not a date-time"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260112T100000Z\nDTEND:20260112T110000Z\nRRULE:FREQ=DAILY;COUNT=3\n"
     "END:VEVENT\nEND:VCALENDAR", "only weekly"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260112T100000Z\nEND:VEVENT\nEND:VCALENDAR", "DTEND"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260112T100000Z\nDTEND:20260112T110000Z\n"
     "RRULE:FREQ=WEEKLY;COUNT=99999999999999\nEND:VEVENT\nEND:VCALENDAR", "outside 1…520"),
])
def test_what_does_not_parse_is_refused_with_the_reason(text, message):
    with pytest.raises(ICSError, match=message):
        parse_ics(text)


def test_rules_and_a_timetable_size_the_pool_at_a_frozen_moment(vdi_world, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    pool = make_pool(vdi_world, min_size=2, max_size=30)
    PoolScheduleRule(pool=pool, weekday=0, start=dt.time(8), end=dt.time(18), size=5).validated_save()
    source = TimetableSource(pool=pool, name="Stundenplan Z7", content=ICS, room_filter="Z-7.01", lead_minutes=20,
                             size=24)
    source.validated_save()
    assert source.lectures.count() == 2  # the maths lecture is in another room
    assert wanted_size(pool, at(0, 7, 0)) == 2  # Monday 07:00: the minimum
    assert wanted_size(pool, at(0, 9, 0)) == 5  # the rule
    assert wanted_size(pool, at(0, 9, 39)) == 5
    assert wanted_size(pool, at(0, 9, 40)) == 24  # 20 minutes before the lecture
    assert wanted_size(pool, at(0, 11, 29)) == 24
    assert wanted_size(pool, at(0, 11, 30)) == 5  # the lecture is over
    assert wanted_size(pool, at(7, 10, 0)) == 24  # next Monday: the series goes on
    assert wanted_size(pool, at(7 * 10, 10, 0)) == 5  # after COUNT=10 it does not
    assert wanted_size(pool, at(2, 14, 45)) == 24  # the single exam, Wednesday 14:00 UTC = 15:00 Berlin
    assert wanted_size(pool, at(2, 10, 0)) == 2


def test_the_grid_sees_every_overlapping_step_and_matches_the_point_answers(vdi_world, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    pool = make_pool(vdi_world, min_size=1, max_size=30)
    PoolScheduleRule(pool=pool, weekday=1, start=dt.time(8, 5), end=dt.time(8, 10), size=7).validated_save()
    TimetableSource(pool=pool, name="t", content=ICS, room_filter="Z-7.01", lead_minutes=20, size=24).validated_save()
    grid = week_grid(at(0, 0, 0))
    row = sizes([PoolSpec.of(pool)], grid)[0]
    assert len(row) == 7 * 96
    assert row.max() == 24 and row.min() == 1
    assert row[96 + 32] == 7  # Tuesday 08:00-08:15 holds the 5-minute rule
    # Monday 09:30 step: the lead (from 09:40) overlaps it; 09:15 does not.
    assert row[38] == 24 and row[37] == 1
    points = [wanted_size(pool, at(0, 0, 0) + dt.timedelta(minutes=15 * i)) for i in range(96 * 7)]
    assert np.all(row >= np.array(points))


def test_a_rule_above_the_maximum_is_refused_naming_size(vdi_world):
    pool = make_pool(vdi_world, max_size=10)
    with pytest.raises(ValidationError) as exc:
        PoolScheduleRule(pool=pool, weekday=0, start=dt.time(8), end=dt.time(9), size=11).validated_save()
    assert "size" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        PoolScheduleRule(pool=pool, weekday=0, start=dt.time(9), end=dt.time(8), size=1).validated_save()
    assert "end" in exc.value.message_dict


def test_an_ics_that_does_not_parse_is_refused_naming_content(vdi_world):
    pool = make_pool(vdi_world)
    with pytest.raises(ValidationError) as exc:
        TimetableSource(pool=pool, name="bad", content="BEGIN:VCALENDAR\nnonsense\n", size=3).validated_save()
    assert "does not parse" in exc.value.message_dict["content"][0]


def test_time_zone_blocks_alarms_and_folded_lines_are_read_as_exported():
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Konstruktion und CAD \r\n mit Übung\r\nLOCATION:Z-7.01\r\n"
        "DTSTART;TZID=Europe/Berlin:20260601T080000\r\nDTEND;TZID=Europe/Berlin:20260601T093000\r\n"
        "EXDATE;TZID=Europe/Berlin:20260608T080000\r\nRRULE:FREQ=WEEKLY;UNTIL=20260710\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    event, rest = parse_ics(text)  # the EXDATE of 8 June splits the series
    assert event.summary == "Konstruktion und CAD mit Übung"
    assert event.start == dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)  # summer time
    assert event.weekly and event.until == event.start
    assert rest.start == dt.datetime(2026, 6, 15, 6, 0, tzinfo=dt.UTC) and rest.until.date() == dt.date(2026, 7, 6)


EXDATE_ICS = """BEGIN:VCALENDAR
BEGIN:VEVENT
UID:cad-2@hszg
SUMMARY:CAD II
LOCATION:Z-7.01
DTSTART;TZID=Europe/Berlin:20260112T100000
DTEND;TZID=Europe/Berlin:20260112T113000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20260119T100000,20260202T100000
EXDATE;VALUE=DATE:20260216
EXDATE:20260309T090000Z
END:VEVENT
BEGIN:VEVENT
UID:cancelled@hszg
DTSTART:20260114T140000Z
DTEND:20260114T160000Z
EXDATE:20260114T140000Z
END:VEVENT
END:VCALENDAR
"""


def test_exdates_split_a_weekly_series_around_the_weeks_without_lecture():
    """Six Mondays from 12 Jan; 19 Jan and 2 Feb excluded by date-time, 16 Feb by date; 9 Mar is after the
    series (excludes nothing); the single event excluded at its start is gone."""
    events = parse_ics(EXDATE_ICS)
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert [(e.start.astimezone(berlin).date().isoformat(), e.until.astimezone(berlin).date().isoformat())
            for e in events] == [("2026-01-12", "2026-01-12"), ("2026-01-26", "2026-01-26"),
                                 ("2026-02-09", "2026-02-09")]
    assert all(e.weekly and e.uid == "cad-2@hszg" and e.end - e.start == dt.timedelta(minutes=90) for e in events)


def test_an_excluded_week_leaves_the_pool_at_its_rules(vdi_world, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    pool = make_pool(vdi_world, min_size=2, max_size=30)
    TimetableSource(pool=pool, name="t", content=EXDATE_ICS, lead_minutes=0, size=20).validated_save()
    assert [wanted_size(pool, at(7 * week, 10, 30)) for week in range(7)] == [20, 2, 20, 2, 20, 2, 2]


def test_a_bad_exdate_is_refused_naming_the_line():
    with pytest.raises(ICSError, match="line 10: EXDATE '2026011' is not a date"):
        parse_ics(EXDATE_ICS.replace("EXDATE;VALUE=DATE:20260216", "EXDATE;VALUE=DATE:2026011"))
