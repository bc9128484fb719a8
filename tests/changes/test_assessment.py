"""The stored assessment on a hand-built graph: impact with paths, notify lists, SLA exposure, risk factors
from real history (failed changes, monitoring incidents, failed reconcile applies) and real backups
(restore tests), re-assessment when the graph moves, and the cut for a tenant-limited user."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from cmdb.changes import assessment
from cmdb.changes.models import Change, ChangeCollision
from cmdb.core.models.registry import ConfigurationItem
from cmdb.services.impact import HIDDEN
from cmdb.services.models import Service
from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, Tenant

from ..services.graphs import G
from ..users.test_permissions import grant

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)  # a Monday


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=BERLIN)


def factor(data: dict, name: str) -> dict:
    return next(f for f in data["risk"]["factors"] if f["name"] == name)


@pytest.fixture
def campus(settings) -> G:
    """portal (CS, business hours, high) -> web -> core pair (1 of 2); hr-wiki (HR, 24x7) -> wiki -> web."""
    settings.CHANGES_SUPPORT_HOURS_TIMEZONE = "Europe/Berlin"
    cs = Tenant.objects.create(name="CS", slug="cs")
    hr = Tenant.objects.create(name="HR", slug="hr")
    g = G()
    g.ci("core1")
    g.ci("core2")
    g.group("core-pair", 1, ["core1", "core2"])
    g.ci("web", tenant=cs)
    g.ci("wiki", kind="virtualization.virtualmachine", tenant=hr)
    g.service("portal", tenant=cs, sla="99.9")
    g.service("hr-wiki", tenant=hr)
    g.edge("web", "connected_to", "core-pair")
    g.edge("portal", "depends_on", "web")
    g.edge("wiki", "depends_on", "web")
    g.edge("hr-wiki", "depends_on", "wiki")
    Service.objects.filter(name="portal").update(support_hours="business")
    Service.objects.filter(name="hr-wiki").update(support_hours="24x7")
    ConfigurationItem.objects.filter(pk=g["portal"]).update(criticality="high")
    ConfigurationItem.objects.filter(pk=g["web"]).update(criticality="medium")
    role = ContactRole.objects.create(name="Admin", slug="admin")
    ada = Contact.objects.create(name="Ada", email="ada@example.org")
    ContactAssignment.objects.create(object_type=ContentType.objects.get_for_model(Tenant), object_id=cs.pk,
                                     contact=ada, role=role)
    owner = Contact.objects.create(name="Otto", email="otto@example.org")
    ConfigurationItem.objects.filter(pk=g["wiki"]).update(owner=owner)
    g.tenants = {"cs": cs, "hr": hr}  # type: ignore[attr-defined]
    return g


def change_on(g: G, *names: str, start: dt.datetime | None = None, end: dt.datetime | None = None,
              state: str = "submitted", type: str = "normal", tenant: Tenant | None = None) -> Change:
    change = Change.objects.create(title=f"change on {', '.join(names)}", type=type, state=state,
                                   window_start=start, window_end=end, tenant=tenant)
    change.cis.set([g[n] for n in names])
    return change


def test_assessment_lists_impact_paths_notify_and_sla_exposure(campus: G) -> None:
    change = change_on(campus, "web", start=at(7, 16), end=at(7, 18))  # Monday: 1 h inside business hours
    data = assessment.refresh(change, now=NOW)
    assert data["summary"] == {"affected": 3, "down": 3, "degraded": 0, "services": 2, "hidden": 0}
    impacted = {r["name"]: r for r in data["impacted"]}
    assert impacted["portal"]["state"] == "down" and impacted["portal"]["path_names"] == ["web", "portal"]
    assert impacted["hr-wiki"]["path_names"] == ["web", "wiki", "hr-wiki"]
    assert [s["name"] for s in data["services"]] == ["hr-wiki", "portal"]
    assert {t["slug"] for t in data["tenants"]} == {"cs", "hr"}
    contacts = {c["name"]: c["roles"] for c in data["contacts"]}
    assert contacts == {"Ada": ["Admin"], "Otto": ["owner of an affected CI"]}
    sla = {e["name"]: e for e in data["sla_exposure"]}
    assert sla["portal"]["in_support_minutes"] == 60 and sla["portal"]["exposed_minutes"] == 60
    assert sla["portal"]["exceeds_budget"] is True  # 99.9 % leaves 43.2 minutes a month
    assert sla["hr-wiki"]["in_support_minutes"] == 120
    # Stored on the change: the radius has the changed CI and everything it takes down.
    change.refresh_from_db()
    assert change.blast_radius == sorted([campus[n] for n in ("web", "wiki", "portal", "hr-wiki")])
    assert change.risk_score == data["risk"]["score"] > 0
    assert change.assessment_token == data["graph_token"] and change.assessed_at == NOW
    assert "blast_radius" not in change.assessment and change.assessment["risk"] == data["risk"]


def test_core_switch_of_a_pair_only_degrades(campus: G) -> None:
    data = assessment.assess_cis([campus["core1"]], now=NOW)
    states = {r["name"]: r["state"] for r in data["impacted"]}
    assert set(states.values()) == {"degraded"} and states["portal"] == "degraded"
    assert all(e["exposed_minutes"] is None for e in data["sla_exposure"])  # no window yet
    assert factor(data, "time_of_day")["value"] == 0.5


def test_risk_factors_from_history_incidents_and_backups(campus: G) -> None:
    from backup.models import RestoreTest
    from cmdb.reconcile.models import Plan, PlanItem
    from monitoring.models import Incident

    web, wiki = campus["web"], campus["wiki"]
    change = change_on(campus, "web", "wiki", start=at(7, 22), end=at(7, 23), type="emergency")
    quiet = assessment.assess(change, now=NOW)
    assert factor(quiet, "failure_history")["value"] == 0
    assert "0 incidents" in factor(quiet, "failure_history")["why"]  # monitoring answered: none
    assert factor(quiet, "backup")["value"] == 1.0 and quiet["backup_source"] == "backup"
    assert factor(quiet, "change_type")["value"] == 1.0
    # Outside business hours, but hr-wiki is 24x7: the whole window is in someone's support hours.
    assert factor(quiet, "time_of_day")["value"] == 1.0 and "hr-wiki" in factor(quiet, "time_of_day")["why"]

    old = change_on(campus, "web", state="failed", start=at(1, 20), end=at(1, 21))
    change_on(campus, "web", state="completed", start=at(2, 20), end=at(2, 21))  # a success does not count
    Incident.objects.create(fingerprint="f1", alertname="WebDown", ci_id=web, started_at=NOW - dt.timedelta(days=3))
    Incident.objects.create(fingerprint="f2", alertname="Old", ci_id=web, started_at=NOW - dt.timedelta(days=400))
    plan = Plan.objects.create(reconciler="ansible", fingerprint="x" * 64)
    PlanItem.objects.create(plan=plan, index=0, ci_id=wiki, target="wiki", operation="update", resource="pkg",
                            outcome="failed")
    RestoreTest.objects.create(ci_id=web, passed=True, tested_at=NOW - dt.timedelta(days=2))
    RestoreTest.objects.create(ci_id=wiki, passed=True, tested_at=NOW - dt.timedelta(days=45))  # too old
    data = assessment.assess(change, now=NOW)
    assert data["history"]["failed_changes"] == [old.pk]
    assert data["history"]["incidents"] == 1 and data["history"]["failed_applies"] == 1
    assert factor(data, "failure_history")["value"] == pytest.approx(3 / 5)
    assert data["backups"][str(web)]["verified"] is True
    assert data["backups"][str(wiki)]["verified"] is False and "older than 30 days" in data["backups"][str(wiki)]["why"]
    assert factor(data, "backup")["value"] == 0.5 and "wiki" in factor(data, "backup")["why"]
    assert data["risk"]["score"] > quiet["risk"]["score"] - factor(quiet, "backup")["points"]


def test_no_backup_app_answering_means_unknown(campus: G, monkeypatch: pytest.MonkeyPatch) -> None:
    from cmdb.core import hooks

    monkeypatch.setattr(hooks.backup_verified_for, "receivers", [])
    monkeypatch.setattr(hooks.backup_verified_for, "sender_receivers_cache", {})
    monkeypatch.setattr(hooks.incidents_for, "receivers", [])
    monkeypatch.setattr(hooks.incidents_for, "sender_receivers_cache", {})
    data = assessment.assess_cis([campus["web"]], now=NOW)
    assert data["backup_source"] is None and "no backup app" in factor(data, "backup")["why"]
    assert data["history"]["incidents"] is None and "incidents unknown" in factor(data, "failure_history")["why"]


def test_refresh_pending_follows_the_graph_token(campus: G) -> None:
    pending = change_on(campus, "core1", start=at(8, 20), end=at(8, 21))
    draft = change_on(campus, "core1", state="draft")
    done = change_on(campus, "core1", state="completed", start=at(1, 20), end=at(1, 21))
    assert assessment.refresh_pending(now=NOW) == 1  # only the pending one was never assessed
    pending.refresh_from_db()
    assert pending.assessment["summary"]["affected"] == 5
    assert assessment.refresh_pending(now=NOW) == 0  # the graph did not move
    campus.ci("extra")
    campus.edge("extra", "depends_on", "portal")  # a relationship write moves the token
    assert assessment.refresh_pending(now=NOW) == 1
    pending.refresh_from_db()
    assert pending.assessment["summary"]["affected"] == 6 and campus["extra"] in pending.blast_radius
    draft.refresh_from_db()
    done.refresh_from_db()
    assert draft.assessed_at is None and done.assessed_at is None


def test_refresh_records_collisions_on_both(campus: G) -> None:
    a = change_on(campus, "web", start=at(8, 20), end=at(8, 22))
    b = change_on(campus, "wiki", start=at(8, 21), end=at(8, 23))
    assessment.refresh(a, now=NOW)
    assessment.refresh(b, now=NOW)
    row = ChangeCollision.objects.get()
    assert (row.change_a_id, row.change_b_id) == (a.pk, b.pk)
    assert row.shared_ci_ids == sorted([campus["wiki"], campus["hr-wiki"]])


def test_for_user_hides_other_tenants(campus: G, make_user) -> None:
    change = change_on(campus, "web", start=at(7, 16), end=at(7, 18), tenant=campus.tenants["cs"])
    data = assessment.refresh(change, now=NOW)
    user = make_user("cs-admin")
    grant(types=["dcim.device", "services.service", "virtualization.virtualmachine", "tenancy.tenant",
                 "tenancy.contact"], actions=["view"], users=[user], tenants=[campus.tenants["cs"]])
    user = get_user_model().objects.get(pk=user.pk)
    cut = assessment.for_user(change.assessment, user)
    assert [r["name"] for r in cut["impacted"]] == ["portal"]
    assert [s["name"] for s in cut["services"]] == ["portal"]
    assert [e["name"] for e in cut["sla_exposure"]] == ["portal"]
    assert [t["slug"] for t in cut["tenants"]] == ["cs"]
    assert cut["hidden"]["impacted"] == 2 and cut["hidden"]["services"] == 1
    text = repr(cut)
    assert "hr-wiki" not in text and "wiki" not in text.replace("hr-wiki", "") and "HR" not in text
    assert cut["risk"]["score"] == data["risk"]["score"]
    admin = make_user("root", superuser=True)
    assert assessment.for_user(change.assessment, admin) == change.assessment
    # Through the core pair (no tenant: the computing centre's), the paths name hidden CIs.
    core = change_on(campus, "core1", start=at(7, 16), end=at(7, 18), tenant=campus.tenants["cs"])
    assessment.refresh(core, now=NOW)
    cut = assessment.for_user(core.assessment, user)
    rows = {r["name"]: r for r in cut["impacted"]}
    assert set(rows) == {"web", "portal"} and cut["changed"] == []
    assert rows["portal"]["path_names"] == [HIDDEN, HIDDEN, "web", "portal"]
    assert rows["portal"]["path"][:2] == [None, None]
