"""The iCalendar feed (RFC 5545, parsed back) and the calendar page: scope, collisions, token auth."""

from __future__ import annotations

import base64
import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from cmdb.changes import collisions, ics

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



# --- the page and the feed -----------------------------------------------------------------------

W0 = dt.datetime(2027, 1, 12, 19, tzinfo=UTC)  # a Tuesday evening
H = dt.timedelta(hours=1)


@pytest.fixture
def scene(make_user) -> dict[str, Any]:
    """Two colliding changes of tenant CS, one of HR colliding with the first, one quiet CS change."""
    from cmdb.changes.models import Change
    from cmdb.tenancy.models import Tenant

    from ..users.test_permissions import grant

    cs = Tenant.objects.create(name="CS", slug="cs")
    hr = Tenant.objects.create(name="HR", slug="hr")

    def make(title: str, tenant: Any, start: dt.datetime, radius: list[int], state: str = "scheduled") -> Any:
        return Change.objects.create(title=title, tenant=tenant, state=state, window_start=start,
                                     window_end=start + 2 * H, blast_radius=radius)

    a = make("core switch firmware", cs, W0, [1, 2, 3])
    b = make("portal release, part 1; with commas", cs, W0 + H, [3, 4])
    c = make("hr payroll patch", hr, W0, [2])
    d = make("cs quiet change", cs, W0 + dt.timedelta(days=3), [50])
    e = make("cs draft", cs, W0 + dt.timedelta(days=4), [60], state="draft")
    for change in (a, b, c, d):
        collisions.record(change)
    user = make_user("cs-admin")
    grant(types=["changes.change", "changes.changecollision"], actions=["view"], users=[user], tenants=[cs])
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "user": user, "cs": cs}


@pytest.fixture
def now_in_january(monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed spans 90 days back to a year ahead of now: keep 'now' just before the scene."""
    from django.utils import timezone

    fixed = dt.datetime(2027, 1, 10, 12, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: fixed)


@pytest.mark.django_db
def test_month_and_week_pages_mark_collisions(scene: dict[str, Any], superuser: Any) -> None:
    client = Client()
    client.force_login(superuser)
    page = client.get("/changes/calendar/", {"view": "month", "date": "2027-01-05"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "January 2027" in html
    a, b, c, d = (scene[k] for k in "abcd")
    for change in (a, b, c, d):
        assert f'data-change="{change.pk}"' in html
    assert f"collides with CHG{b.pk}, CHG{c.pk}" in html  # a collides with b (CS) and c (HR)
    assert html.count("cal-event state-scheduled cal-collision") >= 3 and "3 colliding" in html
    assert f'href="/changes/{a.pk}/"' in html
    week = client.get("/changes/calendar/", {"view": "week", "date": "2027-01-13"}).content.decode()
    assert "Week of 11 Jan 2027" in week and f'data-change="{a.pk}"' in week and f'data-change="{d.pk}"' in week
    later = client.get("/changes/calendar/", {"view": "week", "date": "2027-01-25"}).content.decode()
    assert f'data-change="{a.pk}"' not in later
    assert client.get("/changes/calendar/", {"view": "bogus", "date": "nonsense"}).status_code == 200


@pytest.mark.django_db
def test_pages_need_a_login_and_are_tenant_scoped(scene: dict[str, Any]) -> None:
    assert Client().get("/changes/calendar/").status_code == 302
    client = Client()
    client.force_login(scene["user"])
    html = client.get("/changes/calendar/", {"date": "2027-01-12"}).content.decode()
    a, b, c = scene["a"], scene["b"], scene["c"]
    assert f'data-change="{a.pk}"' in html and f'data-change="{b.pk}"' in html
    assert f'data-change="{c.pk}"' not in html and "hr payroll" not in html
    assert f"collides with CHG{b.pk}, 1 change outside your view" in html
    assert f"CHG{c.pk}" not in html


@pytest.mark.django_db
def test_feed_with_a_token_header_or_basic(scene: dict[str, Any], make_token, now_in_january: None) -> None:
    key = make_token(scene["user"], write=False)
    client = Client()
    for header in (f"Token {key}", f"Bearer {key}", "Basic " + base64.b64encode(f"cal:{key}".encode()).decode()):
        response = client.get("/changes/calendar.ics", HTTP_AUTHORIZATION=header)
        assert response.status_code == 200, header
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        events = {e["UID"]: e for e in parse(response.content.decode())}
        a, b, d, e = (scene[k] for k in "abde")
        assert set(events) == {f"change-{x.pk}@cmdb.invalid" for x in (a, b, d)}  # no HR change, no draft
        first = events[f"change-{a.pk}@cmdb.invalid"]
        assert unescape(first["SUMMARY"]) == f"[COLLISION] CHG{a.pk}: core switch firmware"
        assert f"Collides with: CHG{b.pk}, 1 change(s) outside your view" in unescape(first["DESCRIPTION"])
        assert first["DTSTART"] == "20270112T190000Z" and first["URL"].endswith(f"/changes/{a.pk}/")
        second = events[f"change-{b.pk}@cmdb.invalid"]
        assert unescape(second["SUMMARY"]).endswith("portal release, part 1; with commas")
        assert e.pk


@pytest.mark.django_db
def test_feed_refuses_missing_wrong_and_url_tokens(scene: dict[str, Any], make_token) -> None:
    key = make_token(scene["user"], write=False)
    client = Client()
    anonymous = client.get("/changes/calendar.ics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic")
    assert client.get(f"/changes/calendar.ics?token={key}").status_code == 401
    assert client.get("/changes/calendar.ics", HTTP_AUTHORIZATION="Token nope").status_code == 401
    bad_basic = "Basic " + base64.b64encode(b"cal:").decode()
    assert client.get("/changes/calendar.ics", HTTP_AUTHORIZATION=bad_basic).status_code == 401
    assert client.get("/changes/calendar.ics", HTTP_AUTHORIZATION="Basic %%%").status_code == 401


def test_calendar_dates_at_the_ends_of_the_calendar_fall_back_to_today() -> None:
    from cmdb.changes.calendar import _parse_day, grid

    today = dt.date(2026, 12, 7)
    for value in ("9999-12-31", "0001-01-01", "not-a-date", ""):
        assert _parse_day(value, today) == today
        grid("month", _parse_day(value, today))  # no OverflowError
    assert _parse_day("2027-03-15", today) == dt.date(2027, 3, 15)
