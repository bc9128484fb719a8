"""The risk score of a change, as a sum of factors a change manager can read and argue with.

Why a sum of named factors and not one opaque number: a CAB asks "why is this high?", and the
answer must be on the page.  Each factor turns one fact about the change into a value between 0
and 1 (``value``), multiplies it by its weight (``points``) and says in a sentence why (``why``);
the score is the sum of the points, so with the default weights (summing to 100) it is a
percentage.  The weights are data: ``settings.CHANGES_RISK_WEIGHTS`` overrides any of
:data:`DEFAULT_WEIGHTS` (a weight of 0 switches a factor off).

Everything here is pure (plain values in, plain dicts out), so the factors are tested on
hand-built inputs; :mod:`cmdb.changes.assessment` gathers the facts from the CMDB.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

#: Points of each factor at its worst (value 1).  Override any of them with ``CHANGES_RISK_WEIGHTS``.
DEFAULT_WEIGHTS: dict[str, float] = {
    "criticality": 25.0,  # the most critical CI changed or service impacted
    "blast_radius": 20.0,  # how many CIs may fail or degrade (logarithmic)
    "change_type": 15.0,  # standard < normal < emergency
    "failure_history": 15.0,  # failed changes, incidents and failed reconcile applies on these CIs
    "time_of_day": 15.0,  # share of the window inside the support hours of impacted services
    "backup": 10.0,  # changed CIs without a verified backup
}
#: Score thresholds of the levels shown next to the score (score >= threshold).
DEFAULT_LEVELS: dict[str, float] = {"low": 0.0, "medium": 25.0, "high": 50.0, "very high": 75.0}

CRITICALITY_VALUE = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
CHANGE_TYPE_VALUE = {"standard": 0.1, "normal": 0.5, "emergency": 1.0}
#: Affected CIs at which the blast-radius factor reaches 1 (log scale: 10 CIs ~ 0.25, 100 ~ 0.5).
BLAST_RADIUS_FULL = 10_000
#: Failures in the history window at which that factor reaches 1.
HISTORY_FULL = 5
#: Default look-back of the failure history, in days (``CHANGES_RISK_HISTORY_DAYS``).
HISTORY_DAYS = 90

#: Support hours of :class:`cmdb.services.models.SupportHours`: weekdays (Monday 0) and local hours.
#: ``None``: always (24x7).
SUPPORT_HOURS: dict[str, tuple[frozenset[int], int, int] | None] = {
    "24x7": None,
    "extended": (frozenset(range(6)), 7, 22),
    "business": (frozenset(range(5)), 8, 17),
}


def weights() -> dict[str, float]:
    """The weights in force: the defaults overridden by ``settings.CHANGES_RISK_WEIGHTS``.

    Unknown names are refused (a typo would otherwise silently leave the default in force).
    """
    configured = getattr(settings, "CHANGES_RISK_WEIGHTS", None) or {}
    unknown = set(configured) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"CHANGES_RISK_WEIGHTS: unknown factor(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(DEFAULT_WEIGHTS)}")
    merged = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in configured.items()}}
    if any(v < 0 or not math.isfinite(v) for v in merged.values()):
        raise ValueError("CHANGES_RISK_WEIGHTS: weights must be finite and not negative")
    return merged


def levels() -> dict[str, float]:
    return dict(getattr(settings, "CHANGES_RISK_LEVELS", None) or DEFAULT_LEVELS)


def history_days() -> int:
    return int(getattr(settings, "CHANGES_RISK_HISTORY_DAYS", HISTORY_DAYS))


def support_timezone() -> ZoneInfo:
    """The zone support hours are read in (``CHANGES_SUPPORT_HOURS_TIMEZONE``, default ``TIME_ZONE``).

    Services carry no zone of their own: their support hours are the operator's local hours.
    """
    return ZoneInfo(getattr(settings, "CHANGES_SUPPORT_HOURS_TIMEZONE", None) or settings.TIME_ZONE)


# --- support hours -------------------------------------------------------------------------------


def support_overlap(start: dt.datetime, end: dt.datetime, hours: str, tz: dt.tzinfo) -> dt.timedelta:
    """How much of ``[start, end)`` falls inside the support hours ``hours`` (read in ``tz``).

    Day by day in local time, so a daylight-saving switch moves the hours with the clock.
    Unknown support hours count as always (the careful answer).
    """
    if end <= start:
        return dt.timedelta(0)
    spec = SUPPORT_HOURS.get(hours)
    if spec is None:
        return end - start
    days, first, last = spec
    total = dt.timedelta(0)
    day = start.astimezone(tz).date()
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        if day.weekday() in days:
            lo = dt.datetime.combine(day, dt.time(first), tzinfo=tz)
            hi = dt.datetime.combine(day, dt.time(last), tzinfo=tz)
            overlap = min(hi, end) - max(lo, start)
            if overlap > dt.timedelta(0):
                total += overlap
        day += dt.timedelta(days=1)
    return total


def support_periods(start: dt.datetime, end: dt.datetime, hours: str,
                    tz: dt.tzinfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """The support-hour periods of ``hours`` between ``start`` and ``end`` (clipped), in order."""
    spec = SUPPORT_HOURS.get(hours)
    if spec is None:
        return [(start, end)] if end > start else []
    days, first, last = spec
    out = []
    day = start.astimezone(tz).date()
    while day <= end.astimezone(tz).date():
        if day.weekday() in days:
            lo = max(start, dt.datetime.combine(day, dt.time(first), tzinfo=tz))
            hi = min(end, dt.datetime.combine(day, dt.time(last), tzinfo=tz))
            if hi > lo:
                out.append((lo, hi))
        day += dt.timedelta(days=1)
    return out


def sla_exposure(services: Iterable[Mapping[str, Any]], start: dt.datetime | None, end: dt.datetime | None,
                 tz: dt.tzinfo) -> list[dict[str, Any]]:
    """Per impacted service: how much of the window lies inside its support hours, against its budget.

    A service that may go *down* spends the in-hours part of the window from its monthly downtime
    budget (``downtime_budget_minutes_per_month``, from the SLA); a *degraded* one is listed with
    the same minutes but spends nothing (it is still up).  No window: nothing can be said yet.
    """
    out = []
    for svc in services:
        row: dict[str, Any] = {
            "service_id": svc.get("id"), "ci_id": svc.get("ci_id"), "name": svc.get("name"),
            "state": svc.get("state"), "support_hours": svc.get("support_hours"),
            "sla_availability": svc.get("sla_availability"),
            "downtime_budget_minutes_per_month": svc.get("downtime_budget_minutes_per_month"),
        }
        if start is None or end is None:
            row.update(window_minutes=None, in_support_minutes=None, exposed_minutes=None, exceeds_budget=None)
        else:
            inside = support_overlap(start, end, str(svc.get("support_hours") or "24x7"), tz).total_seconds() / 60
            exposed = inside if svc.get("state") == "down" else 0.0
            budget = svc.get("downtime_budget_minutes_per_month")
            row.update(window_minutes=round((end - start).total_seconds() / 60, 1),
                       in_support_minutes=round(inside, 1), exposed_minutes=round(exposed, 1),
                       exceeds_budget=None if budget is None else exposed > budget)
        out.append(row)
    return out


# --- the factors ---------------------------------------------------------------------------------


@dataclass
class RiskInputs:
    """The facts the score is made of; :mod:`cmdb.changes.assessment` gathers them."""

    change_type: str
    #: Criticality of each changed CI (``"low"`` ... ``"critical"``).
    changed_criticality: list[str] = field(default_factory=list)
    #: (name, criticality, state) of each impacted service.
    services: list[tuple[str, str, str]] = field(default_factory=list)
    affected: int = 0  # CIs that may fail or degrade (the changed ones not counted)
    down: int = 0
    failed_changes: int = 0
    incidents: int | None = None  # None: no incident source answered (monitoring not installed)
    failed_applies: int = 0  # failed reconcile plan items on these CIs
    history_days: int = HISTORY_DAYS
    #: Minutes of the window and, per impacted service, minutes of it inside its support hours.
    window_minutes: float | None = None
    in_support_minutes: list[tuple[str, float]] = field(default_factory=list)
    #: CI id -> verified backup (None: nobody answered the backup hook).
    backups: dict[int, bool] | None = None
    changed_names: dict[int, str] = field(default_factory=dict)


def _criticality(inp: RiskInputs) -> tuple[float, str]:
    best, what = 0.0, "no CI with a criticality"
    for crit in inp.changed_criticality:
        v = CRITICALITY_VALUE.get(crit, 0.0)
        if v > best:
            best, what = v, f"a changed CI is {crit}"
    for name, crit, state in inp.services:
        v = CRITICALITY_VALUE.get(crit, 0.0)
        if v > best:
            best, what = v, f"service {name} ({crit}) may be {state}"
    return best, what


def _blast(inp: RiskInputs) -> tuple[float, str]:
    value = min(1.0, math.log10(1 + inp.affected) / math.log10(1 + BLAST_RADIUS_FULL))
    return value, f"{inp.affected} CIs may be affected ({inp.down} down), {len(inp.services)} services"


def _type(inp: RiskInputs) -> tuple[float, str]:
    value = CHANGE_TYPE_VALUE.get(inp.change_type, 0.5)
    return value, f"{inp.change_type} change"


def _history(inp: RiskInputs) -> tuple[float, str]:
    incidents = inp.incidents or 0
    count = inp.failed_changes + incidents + inp.failed_applies
    parts = [f"{inp.failed_changes} failed or rolled-back changes",
             f"{inp.incidents} incidents" if inp.incidents is not None else "incidents unknown (no monitoring app)",
             f"{inp.failed_applies} failed reconcile applies"]
    return min(1.0, count / HISTORY_FULL), f"in the last {inp.history_days} days on these CIs: " + ", ".join(parts)


def _time_of_day(inp: RiskInputs) -> tuple[float, str]:
    if not inp.window_minutes:
        return 0.5, "no window planned yet (counted as half)"
    if not inp.in_support_minutes:
        return 0.0, "no impacted service"
    name, worst = max(inp.in_support_minutes, key=lambda x: x[1])
    value = min(1.0, worst / inp.window_minutes)
    if value == 0:
        return 0.0, "the window is outside the support hours of every impacted service"
    return value, f"{worst:.0f} of {inp.window_minutes:.0f} window minutes inside the support hours of {name}"


def _backup(inp: RiskInputs) -> tuple[float, str]:
    if not inp.changed_criticality and not inp.changed_names:
        return 0.0, "no CI changed"
    if inp.backups is None:
        return 1.0, "no backup app answered: no verified backup is known for the changed CIs"
    missing = [c for c, ok in inp.backups.items() if not ok]
    total = len(inp.backups) or 1
    if not missing:
        return 0.0, "every changed CI has a verified backup (a passed restore test)"
    names = ", ".join(inp.changed_names.get(c, f"CI {c}") for c in sorted(missing)[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return len(missing) / total, f"no verified backup for {names}{more}"


FACTORS = {"criticality": _criticality, "blast_radius": _blast, "change_type": _type,
           "failure_history": _history, "time_of_day": _time_of_day, "backup": _backup}


def score(inp: RiskInputs, weight: Mapping[str, float] | None = None) -> dict[str, Any]:
    """``{score, level, factors: [{name, value, weight, points, why}]}`` for these facts."""
    weight = weights() if weight is None else weight
    factors = []
    for name, fn in FACTORS.items():
        value, why = fn(inp)
        w = float(weight.get(name, 0.0))
        factors.append({"name": name, "value": round(value, 3), "weight": w, "points": round(value * w, 2),
                        "why": why})
    total = round(sum(f["points"] for f in factors), 2)
    level = "low"
    for name, threshold in sorted(levels().items(), key=lambda x: x[1]):
        if total >= threshold:
            level = name
    return {"score": total, "level": level, "max": round(sum(float(weight.get(n, 0.0)) for n in FACTORS), 2),
            "factors": factors}
