"""The change calendar: a month or week page with collisions marked, and its iCalendar feed.

Both show only the changes the user may see (``restrict``, the one permission gate).  A collision
with a change outside the user's view is marked without naming that change.

The feed is read by calendar clients, which cannot log in: it takes an API token, as the API does
(``Authorization: Token <key>`` or ``Bearer <key>``, :class:`cmdb.users.authentication.TokenAuthentication`)
or, for clients that only know HTTP Basic, the token key as the password (any user name).  A token
in the URL is not accepted: URLs end up in logs and browser histories.  A logged-in session works too.
"""

from __future__ import annotations

import base64
import binascii
import calendar as pycalendar
import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from rest_framework import exceptions

from cmdb.users.authentication import TokenAuthentication
from cmdb.users.permissions import restrict

from . import collisions, ics

#: Changes shown on one page or in one feed at most (the newest windows first are dropped last).
MAX_EVENTS = 2000
#: The feed's range around today.
FEED_PAST = dt.timedelta(days=90)
FEED_FUTURE = dt.timedelta(days=366)
VIEWS = ("month", "week")


def visible_changes(user: Any, start: dt.datetime, end: dt.datetime) -> QuerySet:
    """Changes ``user`` may see whose window overlaps ``[start, end)``, by window start."""
    from .models import Change

    qs = Change.objects.filter(window_start__lt=end, window_end__gt=start)
    return restrict(qs, user, "view").order_by("window_start", "pk")


def collision_map(changes: list[Any], visible_ids: set[int]) -> dict[int, list[int | None]]:
    """Change id -> ids of the changes it collides with; ``None`` for one outside ``visible_ids``."""
    found = collisions.of([c.pk for c in changes])
    return {cid: sorted((o if o in visible_ids else None for o, _shared in pairs), key=lambda x: (x is None, x or 0))
            for cid, pairs in found.items()}


def _detail_url(change: Any) -> str | None:
    try:
        return reverse("changes:change_detail", args=[change.pk])
    except NoReverseMatch:  # the change pages are not mounted (a project without the changes' urls)
        return None


def _parse_day(value: str | None, today: dt.date) -> dt.date:
    """The asked day, or today for a missing or bad one; years 1 and 9999 too, whose neighbouring
    pages (previous/next month) fall outside what a date can hold."""
    try:
        day = dt.date.fromisoformat(value) if value else today
    except ValueError:
        return today
    return day if 1 < day.year < 9999 else today


def grid(view: str, day: dt.date) -> tuple[list[list[dt.date]], dt.date, dt.date, dt.date, dt.date]:
    """(weeks of days shown, first day, day after the last, previous page's day, next page's day)."""
    if view == "week":
        first = day - dt.timedelta(days=day.weekday())
        weeks = [[first + dt.timedelta(days=k) for k in range(7)]]
        return weeks, first, first + dt.timedelta(days=7), first - dt.timedelta(days=7), first + dt.timedelta(days=7)
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(day.year, day.month)
    month_start = day.replace(day=1)
    prev_day = (month_start - dt.timedelta(days=1)).replace(day=1)
    next_day = (month_start + dt.timedelta(days=32)).replace(day=1)
    return weeks, weeks[0][0], weeks[-1][-1] + dt.timedelta(days=1), prev_day, next_day


@login_required
@require_GET
def calendar_page(request: HttpRequest) -> HttpResponse:
    """``?view=month|week&date=YYYY-MM-DD``: the changes of that month or week, collisions marked."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "month"
    day = _parse_day(request.GET.get("date"), today)
    weeks, first, after_last, prev_day, next_day = grid(view, day)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(after_last, dt.time(0), tzinfo=tz)
    changes = list(visible_changes(request.user, start, end)[:MAX_EVENTS])
    ids = {c.pk for c in changes}
    colliding = collision_map(changes, ids)
    entries = []
    for c in changes:
        others = colliding.get(c.pk, [])
        entries.append({"change": c, "url": _detail_url(c), "collides": bool(others),
                        "others": [o for o in others if o is not None],
                        "hidden_others": sum(1 for o in others if o is None),
                        "start": timezone.localtime(c.window_start, tz), "end": timezone.localtime(c.window_end, tz)})
    rows = []
    for week in weeks:
        cells = []
        for d in week:
            lo = dt.datetime.combine(d, dt.time(0), tzinfo=tz)
            hi = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
            shown = [e for e in entries if e["change"].window_start < hi and e["change"].window_end > lo]
            cells.append({"day": d, "today": d == today, "outside": view == "month" and d.month != day.month,
                          "entries": shown})
        rows.append(cells)
    context = {"view": view, "day": day, "weeks": rows, "entries": entries, "truncated": len(changes) >= MAX_EVENTS,
               "title": day.strftime("%B %Y") if view == "month" else f"Week of {first:%d %b %Y}",
               "prev": prev_day.isoformat(), "next": next_day.isoformat(), "today": today.isoformat(),
               "weekdays": [pycalendar.day_abbr[k] for k in range(7)],
               "collision_count": sum(1 for e in entries if e["collides"])}
    return render(request, "changes/calendar.html", context)


class FeedDenied(Exception):
    pass


def _basic_as_token(request: HttpRequest) -> HttpRequest:
    """The request with ``Basic <user:key>`` rewritten to ``Token <key>`` for :class:`TokenAuthentication`."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() == "basic":
        try:
            decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise FeedDenied("Malformed Basic credentials.") from exc
        key = decoded.partition(":")[2]
        if not key:
            raise FeedDenied("Send the API token as the Basic password.")
        request.META["HTTP_AUTHORIZATION"] = f"Token {key}"
    return request


def feed_user(request: HttpRequest) -> Any:
    """Who reads the feed: a token's user, else the session's; raises :class:`FeedDenied`."""
    try:
        found = TokenAuthentication().authenticate(_basic_as_token(request))
    except exceptions.AuthenticationFailed as exc:
        raise FeedDenied(str(exc.detail)) from exc
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    raise FeedDenied("Send an API token: Authorization: Token <key> (or HTTP Basic with the token as password).")


@require_GET
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """The changes the caller may see from 90 days ago to a year ahead, as ``text/calendar``."""
    try:
        user = feed_user(request)
    except FeedDenied as exc:
        response = HttpResponse(f"{exc}\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Basic realm="CMDB change calendar", charset="UTF-8"'
        return response
    now = timezone.now()
    qs = visible_changes(user, now - FEED_PAST, now + FEED_FUTURE).filter(~Q(state="draft"))
    changes = list(qs[:MAX_EVENTS])
    body = ics.calendar(changes, collisions=collision_map(changes, {c.pk for c in changes}), url_of=lambda c: (
        request.build_absolute_uri(u) if (u := _detail_url(c)) else None), now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="changes.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
