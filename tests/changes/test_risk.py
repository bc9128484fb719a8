"""Risk factors and support hours: each factor on hand-made facts, and the weights as data."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cmdb.changes import risk
from cmdb.changes.risk import RiskInputs, score, sla_exposure, support_overlap, support_periods

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int, minute: int = 0, tz: dt.tzinfo = BERLIN) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=tz)  # 7 Dec 2026 is a Monday


def factor(result: dict, name: str) -> dict:
    return next(f for f in result["factors"] if f["name"] == name)


def test_business_hours_overlap_weekday_weekend_and_24x7() -> None:
    # Monday 16:00-19:00: one hour inside Mon-Fri 08-17, three inside Mon-Sat 07-22, all of 24x7.
    assert support_overlap(at(7, 16), at(7, 19), "business", BERLIN) == dt.timedelta(hours=1)
    assert support_overlap(at(7, 16), at(7, 19), "extended", BERLIN) == dt.timedelta(hours=3)
    assert support_overlap(at(7, 16), at(7, 19), "24x7", BERLIN) == dt.timedelta(hours=3)
    # Saturday: extended hours only; Sunday: none but 24x7.
    assert support_overlap(at(12, 6), at(12, 23), "business", BERLIN) == dt.timedelta(0)
    assert support_overlap(at(12, 6), at(12, 23), "extended", BERLIN) == dt.timedelta(hours=15)
    assert support_overlap(at(13, 1), at(13, 5), "extended", BERLIN) == dt.timedelta(0)
    # Over several days: Friday 12:00 to Monday 10:00 = 5 h Friday + 2 h Monday of business hours.
    assert support_overlap(at(11, 12), at(14, 10), "business", BERLIN) == dt.timedelta(hours=7)
    # A window given in UTC is read in the support zone: 07:30 UTC is 08:30 in Berlin (winter).
    utc = dt.UTC
    assert support_overlap(at(7, 6, 30, utc), at(7, 7, 30, utc), "business", BERLIN) == dt.timedelta(minutes=30)


def test_support_hours_follow_the_clock_over_daylight_saving() -> None:
    # 30 March 2026 (Monday) is after the switch to CEST: 08-17 local is 06-15 UTC.
    lo = dt.datetime(2026, 3, 30, 5, 0, tzinfo=dt.UTC)
    hi = dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)
    assert support_overlap(lo, hi, "business", BERLIN) == dt.timedelta(hours=1)
    periods = support_periods(lo, hi + dt.timedelta(hours=12), "business", BERLIN)
    assert periods == [(dt.datetime(2026, 3, 30, 8, tzinfo=BERLIN), dt.datetime(2026, 3, 30, 17, tzinfo=BERLIN))]


def test_sla_exposure_spends_budget_only_when_down() -> None:
    services = [
        {"id": 1, "ci_id": 10, "name": "mail", "state": "down", "support_hours": "business",
         "sla_availability": 99.9, "downtime_budget_minutes_per_month": 43.2},
        {"id": 2, "ci_id": 11, "name": "wiki", "state": "degraded", "support_hours": "24x7",
         "sla_availability": None, "downtime_budget_minutes_per_month": None},
    ]
    rows = {r["name"]: r for r in sla_exposure(services, at(7, 16), at(7, 18), BERLIN)}
    assert rows["mail"]["in_support_minutes"] == 60 and rows["mail"]["exposed_minutes"] == 60
    assert rows["mail"]["exceeds_budget"] is True  # 60 minutes down in hours > 43.2 of budget
    assert rows["wiki"]["in_support_minutes"] == 120 and rows["wiki"]["exposed_minutes"] == 0
    assert rows["wiki"]["exceeds_budget"] is None
    night = {r["name"]: r for r in sla_exposure(services, at(7, 22), at(7, 23), BERLIN)}
    assert night["mail"]["exposed_minutes"] == 0 and night["mail"]["exceeds_budget"] is False
    assert sla_exposure(services, None, None, BERLIN)[0]["in_support_minutes"] is None


def test_each_factor_rises_with_its_fact() -> None:
    calm = RiskInputs(change_type="standard", changed_criticality=["low"], affected=0, window_minutes=60,
                      in_support_minutes=[], backups={1: True}, changed_names={1: "a"})
    base = score(calm)
    assert base["score"] == pytest.approx(sum(f["points"] for f in base["factors"]))
    assert factor(base, "backup")["points"] == 0 and factor(base, "time_of_day")["points"] == 0
    assert factor(base, "blast_radius")["points"] == 0 and factor(base, "failure_history")["points"] == 0

    def bump(**changes: object) -> dict:
        return score(RiskInputs(**{**calm.__dict__, **changes}))

    assert factor(bump(changed_criticality=["critical"]), "criticality")["value"] == 1.0
    crit = bump(services=[("portal", "high", "down")])
    assert factor(crit, "criticality")["value"] == 0.75 and "portal" in factor(crit, "criticality")["why"]
    small, large = bump(affected=9), bump(affected=20_000)
    assert 0 < factor(small, "blast_radius")["value"] < factor(large, "blast_radius")["value"] == 1.0
    assert factor(bump(change_type="emergency"), "change_type")["value"] == 1.0
    assert factor(bump(change_type="normal"), "change_type")["value"] == 0.5
    hist = bump(failed_changes=1, incidents=2, failed_applies=1)
    assert factor(hist, "failure_history")["value"] == pytest.approx(4 / risk.HISTORY_FULL)
    assert "2 incidents" in factor(hist, "failure_history")["why"]
    unknown = bump(incidents=None)
    assert "incidents unknown" in factor(unknown, "failure_history")["why"]
    tod = bump(in_support_minutes=[("mail", 30.0), ("portal", 45.0)])
    assert factor(tod, "time_of_day")["value"] == 0.75 and "portal" in factor(tod, "time_of_day")["why"]
    nobackup = bump(backups={1: False, 2: True}, changed_names={1: "db1", 2: "db2"})
    assert factor(nobackup, "backup")["value"] == 0.5 and "db1" in factor(nobackup, "backup")["why"]
    noanswer = bump(backups=None)
    assert factor(noanswer, "backup")["value"] == 1.0 and "no backup app" in factor(noanswer, "backup")["why"]
    for worse in (crit, large, hist, tod, nobackup):
        assert worse["score"] > base["score"]


def test_weights_are_data(settings: pytest.FixtureRequest) -> None:
    inp = RiskInputs(change_type="emergency", changed_criticality=["critical"], affected=100)
    default = score(inp)
    assert default["max"] == 100
    settings.CHANGES_RISK_WEIGHTS = {"change_type": 60, "backup": 0}
    custom = score(inp)
    assert factor(custom, "change_type")["weight"] == 60 and factor(custom, "change_type")["points"] == 60
    assert factor(custom, "backup")["points"] == 0 and custom["max"] == 100 - 15 + 60 - 10
    settings.CHANGES_RISK_WEIGHTS = {"colour": 3}
    with pytest.raises(ValueError, match="unknown factor"):
        score(inp)
    settings.CHANGES_RISK_WEIGHTS = {"backup": -1}
    with pytest.raises(ValueError, match="not negative"):
        score(inp)


def test_levels_follow_thresholds(settings: pytest.FixtureRequest) -> None:
    inp = RiskInputs(change_type="emergency", changed_criticality=["critical"], affected=50_000,
                     failed_changes=9, window_minutes=60, in_support_minutes=[("x", 60.0)], backups={1: False})
    assert score(inp)["level"] == "very high"
    settings.CHANGES_RISK_LEVELS = {"fine": 0, "scary": 99.5}
    assert score(inp)["level"] == "scary"
