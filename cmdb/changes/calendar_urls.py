"""Routes of the change calendar, included by :mod:`cmdb.changes.urls` (namespace ``changes``: ``changes:calendar``,
``changes:calendar_ics``), relative to where that is mounted (``/changes/``)."""

from django.urls import path

from . import calendar

urlpatterns = [
    path("calendar/", calendar.calendar_page, name="calendar"),
    path("calendar.ics", calendar.calendar_feed, name="calendar_ics"),
]
