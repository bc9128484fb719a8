"""Routes of the change calendar, included by :mod:`cmdb.changes.urls` (relative to where that is mounted)."""

from django.urls import path

from . import calendar

urlpatterns = [
    path("calendar/", calendar.calendar_page, name="changes-calendar"),
    path("calendar.ics", calendar.calendar_feed, name="changes-calendar-ics"),
]
