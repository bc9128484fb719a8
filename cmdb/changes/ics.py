"""The change calendar as iCalendar (RFC 5545), for calendar clients that subscribe to a feed.

Written by hand rather than with a library because the subset is small and the rules are exact:
lines end in CRLF (3.1), content lines longer than 75 octets are folded with CRLF + one space
without splitting a UTF-8 character (3.1), TEXT values escape backslash, semicolon, comma and
newline (3.3.11), every VEVENT has UID and DTSTAMP (3.6.1), times are UTC (``...Z``, form #2 of
3.3.5) so no VTIMEZONE is needed.  ``tests/changes/test_calendar.py`` parses the output back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone

PRODID = "-//CMDB//Change calendar//EN"
#: iCalendar STATUS of each change state (VEVENT allows TENTATIVE, CONFIRMED, CANCELLED).
STATUS = {"draft": "TENTATIVE", "submitted": "TENTATIVE", "approved": "TENTATIVE", "scheduled": "CONFIRMED",
          "in_progress": "CONFIRMED", "completed": "CONFIRMED", "failed": "CONFIRMED",
          "rolled_back": "CONFIRMED", "rejected": "CANCELLED", "cancelled": "CANCELLED"}
LIMIT = 75  # octets per content line, CRLF not counted


def escape(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): ``\\`` ``;`` ``,`` escaped, newlines as ``\\n``, other controls dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    return "".join(ch for ch in text if ch == "\t" or (ord(ch) >= 0x20 and ord(ch) != 0x7F))


def fold(line: str) -> str:
    """One content line folded to at most 75 octets per physical line (RFC 5545 3.1), CRLF-terminated.

    A continuation starts with one space, which counts towards its 75 octets; a multi-octet UTF-8
    character is never split.
    """
    out: list[str] = []
    current, size, limit = [], 0, LIMIT
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append("".join(current))
            current, size, limit = [" "], 1, LIMIT
        current.append(ch)
        size += n
    out.append("".join(current))
    return "\r\n".join(out) + "\r\n"


def stamp(value: dt.datetime) -> str:
    """A UTC DATE-TIME (``19970714T173000Z``)."""
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _domain() -> str:
    return str(getattr(settings, "CHANGES_ICS_UID_DOMAIN", "") or "cmdb.invalid")


def event(change: Any, *, now: dt.datetime, collides_with: Iterable[int | None] = (),
          url: str | None = None) -> list[str]:
    """The content lines (unfolded) of one change's VEVENT; a change without a window has none."""
    if change.window_start is None or change.window_end is None:
        return []
    others = list(collides_with)
    title = f"CHG{change.pk}: {change.title}"
    if others:
        title = f"[COLLISION] {title}"
    details = [f"Type: {change.type}", f"State: {change.state}"]
    if change.risk_score is not None:
        details.append(f"Risk: {change.risk_score:g}")
    if others:
        named = [f"CHG{o}" for o in others if o is not None]
        unnamed = sum(1 for o in others if o is None)
        text = ", ".join(named + ([f"{unnamed} change(s) outside your view"] if unnamed else []))
        details.append(f"Collides with: {text}")
    if change.description:
        details.append("")
        details.append(change.description)
    modified = getattr(change, "last_updated", None) or now
    lines = [
        "BEGIN:VEVENT",
        f"UID:change-{change.pk}@{_domain()}",
        f"DTSTAMP:{stamp(now)}",  # with METHOD: when this calendar object was created (3.8.7.2)
        f"LAST-MODIFIED:{stamp(modified)}",
        f"DTSTART:{stamp(change.window_start)}",
        f"DTEND:{stamp(change.window_end)}",
        f"SUMMARY:{escape(title)}",
        f"DESCRIPTION:{escape(chr(10).join(details))}",
        f"STATUS:{STATUS.get(change.state, 'TENTATIVE')}",
        f"CATEGORIES:{escape(str(change.type))},{escape(str(change.state))}",
        "TRANSP:OPAQUE",
    ]
    if url:
        lines.append(f"URL:{url}")
    lines.append("END:VEVENT")
    return lines


def calendar(changes: Iterable[Any], *, collisions: Mapping[int, list[int | None]] | None = None,
             name: str = "CMDB changes", url_of: Callable[[Any], str | None] | None = None,
             now: dt.datetime | None = None) -> str:
    """A VCALENDAR with one VEVENT per change that has a window.

    ``collisions`` maps a change id to the ids of the changes it collides with (``None`` for one the
    reader may not see: counted, not named); ``url_of`` gives a change's page, if known.
    """
    now = now or timezone.now()
    collisions = collisions or {}
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape(name)}"]
    for change in changes:
        lines += event(change, now=now, collides_with=collisions.get(change.pk, ()),
                       url=url_of(change) if url_of else None)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
