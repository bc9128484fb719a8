"""A small iCalendar (RFC 5545) reader for course timetables: VEVENTs with DTSTART, DTEND, LOCATION,
SUMMARY, UID, weekly RRULEs (``FREQ=WEEKLY`` with ``UNTIL`` or ``COUNT``) and EXDATEs (a lecture that
does not take place: a holiday, a cancelled week) — what lecture-planning systems export for a semester.

An EXDATE splits a weekly series into the weekly series before and after it, so :class:`Event` (and the
stored :class:`~vdi.models.Lecture`) stay "weekly from ``start`` until ``until``" and the schedule needs no
exception list; an EXDATE that names no occurrence excludes nothing (RFC 5545 allows it).  An EXDATE of a
date only (``VALUE=DATE``) excludes the occurrence on that local date.

Anything it cannot read faithfully is refused with :class:`ICSError`
(a lecture silently dropped would leave a lab without desktops), never guessed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.utils import timezone


class ICSError(ValueError):
    """The text is not an iCalendar timetable this reader understands; the message says where."""


#: The most weeks one lecture series may repeat (ten years): a larger COUNT is a typo or an attack,
#: and past about 10^8 weeks the date arithmetic overflows.
MAX_WEEKLY_COUNT = 520
#: The most excluded dates one event may carry (each splits the series once).
MAX_EXDATES = 1000
WEEK = dt.timedelta(weeks=1)


@dataclass(frozen=True)
class Event:
    uid: str
    summary: str
    location: str
    start: dt.datetime
    end: dt.datetime
    weekly: bool = False
    until: dt.datetime | None = None


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw)
    return lines


def _split(line: str, number: int) -> tuple[str, dict[str, str], str]:
    if ":" not in line:
        raise ICSError(f"line {number}: no ':' in {line[:60]!r}")
    head, value = line.split(":", 1)
    name, *params = head.split(";")
    parameters = {}
    for p in params:
        key, _, val = p.partition("=")
        parameters[key.upper()] = val.strip('"')
    return name.upper(), parameters, value


def _datetime(value: str, params: dict[str, str], number: int) -> dt.datetime:
    value = value.strip()
    try:
        if params.get("VALUE") == "DATE" or len(value) == 8:
            raise ICSError(f"line {number}: all-day date {value!r} is not a lecture time")
        utc = value.endswith("Z")
        parsed = dt.datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise ICSError(f"line {number}: {value!r} is not a date-time (YYYYMMDDTHHMMSS)") from exc
    if utc:
        return parsed.replace(tzinfo=dt.UTC)
    if "TZID" in params:
        try:
            return parsed.replace(tzinfo=zoneinfo.ZoneInfo(params["TZID"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ICSError(f"line {number}: unknown time zone {params['TZID']!r}") from exc
    return timezone.make_aware(parsed)  # floating time: the CMDB's time zone


def _rrule(value: str, start: dt.datetime, number: int) -> dt.datetime:
    parts = dict(p.partition("=")[::2] for p in value.upper().split(";") if p)
    if parts.get("FREQ") != "WEEKLY":
        raise ICSError(f"line {number}: only weekly recurrence is supported, not FREQ={parts.get('FREQ')}")
    if parts.get("INTERVAL", "1") != "1" or ("BYDAY" in parts and len(parts["BYDAY"].split(",")) > 1):
        raise ICSError(f"line {number}: only plain weekly recurrence (one day, every week) is supported")
    if "UNTIL" in parts:
        until = parts["UNTIL"]
        if len(until) == 8:
            until += "T235959"
        return _datetime(until, {} if until.endswith("Z") else {"TZID": str(start.tzinfo)}
                         if isinstance(start.tzinfo, zoneinfo.ZoneInfo) else {}, number)
    if "COUNT" in parts:
        try:
            count = int(parts["COUNT"])
        except ValueError as exc:
            raise ICSError(f"line {number}: COUNT={parts['COUNT']!r} is not a number") from exc
        if not 1 <= count <= MAX_WEEKLY_COUNT:
            raise ICSError(f"line {number}: COUNT={count} is outside 1…{MAX_WEEKLY_COUNT} (weeks of a lecture series)")
        try:
            return start + dt.timedelta(weeks=count - 1)
        except OverflowError:
            raise ICSError(f"line {number}: the series would end after the year 9999") from None
    raise ICSError(f"line {number}: a weekly recurrence needs UNTIL or COUNT (an endless lecture series)")


def parse_ics(text: str) -> list[Event]:
    """The events of ``text``; raises :class:`ICSError` naming the line of the first problem."""
    lines = _unfold(text)
    if not lines or lines[0].strip().upper() != "BEGIN:VCALENDAR":
        raise ICSError("it does not start with BEGIN:VCALENDAR")
    if lines[-1].strip().upper() != "END:VCALENDAR":
        raise ICSError("it does not end with END:VCALENDAR")
    events: list[Event] = []
    current: dict[str, Any] | None = None
    for number, line in enumerate(lines, 1):
        name, params, value = _split(line, number)
        if name == "BEGIN" and value.upper() == "VEVENT":
            if current is not None:
                raise ICSError(f"line {number}: VEVENT inside a VEVENT")
            current = {"line": number}
        elif name == "END" and value.upper() == "VEVENT":
            if current is None:
                raise ICSError(f"line {number}: END:VEVENT without BEGIN")
            events.extend(_event(current))
            current = None
        elif current is not None:
            if name in ("DTSTART", "DTEND"):
                current[name] = _datetime(value, params, number)
            elif name == "RRULE":
                current["RRULE"] = (value, number)
            elif name == "EXDATE":
                current.setdefault("EXDATE", []).extend(_exdates(value, params, number))
                if len(current["EXDATE"]) > MAX_EXDATES:
                    raise ICSError(f"line {number}: more than {MAX_EXDATES} EXDATEs in one event")
            elif name in ("UID", "SUMMARY", "LOCATION"):
                current[name] = value.replace("\\,", ",").replace("\\;", ";").replace("\\n", " ").strip()
    if current is not None:
        raise ICSError(f"line {current['line']}: VEVENT never ends")
    return events


def _exdates(value: str, params: dict[str, str], number: int) -> list[dt.datetime | dt.date]:
    """The dates of an EXDATE line: date-times (as DTSTART) or, with ``VALUE=DATE``, dates."""
    out: list[dt.datetime | dt.date] = []
    for item in value.split(","):
        item = item.strip()
        if params.get("VALUE") == "DATE" or len(item) == 8:
            try:
                if not (len(item) == 8 and item.isdigit()):
                    raise ValueError(item)
                out.append(dt.datetime.strptime(item, "%Y%m%d").date())
            except ValueError as exc:
                raise ICSError(f"line {number}: EXDATE {item!r} is not a date (YYYYMMDD)") from exc
        else:
            out.append(_datetime(item, params, number))
    return out


def _excluded_weeks(start: dt.datetime, until: dt.datetime | None, exdates: list[dt.datetime | dt.date]) -> set[int]:
    """The occurrence numbers (0 = ``start``) the EXDATEs name; weekly occurrences keep the wall-clock time."""
    out = set()
    for when in exdates:
        if isinstance(when, dt.datetime):
            weeks = round((when - start) / WEEK)
            hit = start + weeks * WEEK == when
        else:
            days = (when - start.date()).days
            weeks, hit = days // 7, days % 7 == 0
        within = weeks == 0 if until is None else start + weeks * WEEK <= until
        if hit and weeks >= 0 and within:
            out.add(weeks)
    return out


def _event(data: dict[str, Any]) -> list[Event]:
    """The event, as one or more events: a weekly series with EXDATEs is split around them."""
    line = data["line"]
    if "DTSTART" not in data or "DTEND" not in data:
        raise ICSError(f"the event at line {line} needs DTSTART and DTEND")
    if data["DTEND"] <= data["DTSTART"]:
        raise ICSError(f"the event at line {line} ends before it starts")
    until = None
    if "RRULE" in data:
        until = _rrule(data["RRULE"][0], data["DTSTART"], data["RRULE"][1])
    event = Event(uid=data.get("UID", ""), summary=data.get("SUMMARY", ""), location=data.get("LOCATION", ""),
                  start=data["DTSTART"], end=data["DTEND"], weekly=until is not None, until=until)
    skipped = _excluded_weeks(event.start, until, data.get("EXDATE", []))
    if not skipped:
        return [event]
    if until is None:
        return []  # the one occurrence is excluded
    last = max(0, int((until - event.start) // WEEK))
    while last > 0 and event.start + last * WEEK > until:
        last -= 1
    parts, first = [], 0
    for week in [*sorted(skipped), last + 1]:
        if week > first:
            parts.append(Event(event.uid, event.summary, event.location, event.start + first * WEEK,
                               event.end + first * WEEK, True, event.start + (week - 1) * WEEK))
        first = week + 1
    return parts


def sync_lectures(source: Any) -> None:
    """Replace the source's lectures with the events of its content that match its room filter."""
    from .models import Lecture

    events = parse_ics(source.content)
    wanted = source.room_filter.strip().lower()
    source.lectures.all().delete()
    Lecture.objects.bulk_create(
        Lecture(source=source, uid=e.uid[:255], summary=e.summary[:255], location=e.location[:255], start=e.start,
                end=e.end, weekly=e.weekly, until=e.until)
        for e in events if not wanted or wanted in e.location.lower())
