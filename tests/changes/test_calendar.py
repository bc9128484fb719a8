"""The iCalendar feed (RFC 5545, parsed back) and the calendar page: scope, collisions, token auth."""

from __future__ import annotations

import base64
import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import pytest

from cmdb.changes import ics

UTC = dt.UTC


def unfold(text: str) -> list[str]:
    """Content lines of an iCalendar text, checking the physical rules on the way (RFC 5545 3.1)."""
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert "\n" not in line and "\r" not in line, line
        assert len(line.encode("utf-8")) <= 75, line
    lines: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse(text: str) -> list[dict[str, str]]:
    """The VEVENTs as {property: value}, after checking the calendar's frame."""
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    events, current = [], None
    for line in lines[1:-1]:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            assert name not in current, f"{name} twice"
            current[name] = value
    return events


def fake(pk: int, **extra: Any) -> SimpleNamespace:
    base = {"pk": pk, "title": f"change {pk}", "type": "normal", "state": "scheduled", "description": "",
            "risk_score": 42.5, "window_start": dt.datetime(2026, 12, 8, 20, tzinfo=UTC),
            "window_end": dt.datetime(2026, 12, 8, 22, tzinfo=UTC), "last_updated": None}
    return SimpleNamespace(**{**base, **extra})


def test_fold_keeps_octets_and_characters() -> None:
    line = "DESCRIPTION:" + "é" * 100 + "x" * 50
    folded = ics.fold(line)
    assert all(len(p.encode()) <= 75 for p in folded[:-2].split("\r\n"))
    assert "".join(p[1:] if k else p for k, p in enumerate(folded[:-2].split("\r\n"))) == line
    assert ics.fold("SHORT:x") == "SHORT:x\r\n"


def test_escape_text() -> None:
    assert ics.escape("a,b;c\\d\ne\r\nf\x07") == "a\\,b\\;c\\\\d\\ne\\nf"


def test_calendar_round_trips_through_a_parser() -> None:
    now = dt.datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
    tricky = "Firmware; core, \"zi\" \\ switch\nsecond line — ünïcödé " + "long " * 30
    text = ics.calendar([fake(1, description=tricky, title="Core, upgrade; now"), fake(2, window_start=None),
                         fake(3, state="cancelled", risk_score=None)],
                        collisions={1: [3, None]}, url_of=lambda c: f"https://cmdb.example/changes/{c.pk}/", now=now)
    events = parse(text)
    assert [e["UID"] for e in events] == ["change-1@cmdb.invalid", "change-3@cmdb.invalid"]  # 2 has no window
    first = events[0]
    assert first["DTSTAMP"] == "20261207T023000Z"
    assert first["DTSTART"] == "20261208T200000Z" and first["DTEND"] == "20261208T220000Z"
    assert unescape(first["SUMMARY"]) == "[COLLISION] CHG1: Core, upgrade; now"
    description = unescape(first["DESCRIPTION"])
    assert "Collides with: CHG3, 1 change(s) outside your view" in description
    assert description.endswith(tricky) and "Risk: 42.5" in description
    assert first["STATUS"] == "CONFIRMED" and first["URL"] == "https://cmdb.example/changes/1/"
    assert events[1]["STATUS"] == "CANCELLED" and "Risk" not in unescape(events[1]["DESCRIPTION"])
    for e in events:
        assert re.fullmatch(r"\d{8}T\d{6}Z", e["DTSTAMP"])

