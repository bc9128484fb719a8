"""How the web UI writes times and outcomes: one date format and one badge colour per outcome, everywhere.

Why one place: pages written at different times showed three date formats side by side
(``2026-12-06 23:01``, ``2026-12-06 23:01:17``, ``Dec. 6, 2026, 11:01 p.m.``) and badges whose
colour depended on which page drew them (a failed run grey like a completed one).  Templates use
the filters of ``{% load ui_format %}`` (``|when``, ``|badge``); Python-rendered cells
(:mod:`cmdb.ui.tables`) call these functions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

#: The one format: ISO-like, minutes, in the server's time zone (``TIME_ZONE``); dates alone as ``YYYY-MM-DD``.
DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"
EMPTY = "—"

#: Outcome → colour class.  Keys are the status values of jobs, reconcile runs and actions, incidents,
#: lifecycle states, criticality and discovery, lower-case.
OUTCOMES: dict[str, str] = {
    **dict.fromkeys(("failed", "failure", "error", "errored", "lost", "critical", "high", "firing", "down",
                     "expired", "over-use", "open", "drift", "drifted", "rejected", "blocked"), "danger"),
    **dict.fromkeys(("completed", "complete", "success", "succeeded", "ok", "applied", "active", "resolved",
                     "in-sync", "in_sync", "compliant", "verified", "on", "create"), "ok"),
    **dict.fromkeys(("running", "started", "in-progress", "in_progress", "applying", "planning", "verifying",
                     "planned", "update", "info"), "info"),
    **dict.fromkeys(("warning", "maintenance", "degraded", "medium", "stale", "expiring", "partial",
                     "changed"), "warn"),
    **dict.fromkeys(("pending", "queued", "scheduled", "skipped", "cancelled", "canceled", "retired", "disposed",
                     "offline", "low", "none", "off", "unchanged", "noop", "delete"), "muted"),
}


def format_when(value: Any) -> str:
    """A datetime as ``2026-12-06 23:01`` in the current time zone, a date as ``2026-12-06``; ``—`` for none."""
    if value in (None, ""):
        return EMPTY
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, dt.date):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":  # ISO text from JSON answers
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return format_when(parsed if len(value) > 10 else parsed.date())
    return str(value)


def badge_class(value: Any) -> str:
    """``badge badge-danger`` for ``failed``, ``badge badge-ok`` for ``completed``, ... (``badge`` alone if unknown).

    The raw value stays as a class too, so page-specific styles keyed on it keep working."""
    key = str(value or "").strip().lower()
    tone = OUTCOMES.get(key)
    slug = key.replace(" ", "-")
    return " ".join(c for c in ("badge", f"badge-{tone}" if tone else "", slug) if c)
