"""The gate: allow or deny with reasons (no covering change, outside the window, a freeze, a different plan,
another implementer), through the API too, and the reconcile framework's apply refused by it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from cmdb.changes.approvals import decide
from cmdb.changes.gate import decide as gate
from cmdb.changes.models import ChangePlan, ChangeState, ChangeType, Freeze
from cmdb.changes.plans import attach
from cmdb.changes.transitions import transition
from cmdb.reconcile.models import Plan, ReconcileRun
from cmdb.reconcile.services import run_execute
from tests import factories as f

from .helpers import make_change

S = ChangeState


def _approved(*cis: Any, requester: Any, approver: Any, **extra: Any) -> Any:
    change = make_change(*cis, requester=requester, **extra)
    transition(change, S.SUBMITTED, user=requester)
    decide(change, approver, "approve", "ok")
    change.refresh_from_db()
    assert change.state == S.APPROVED
    return change


@pytest.mark.django_db
def test_the_gates_answers(make_user: Any) -> None:
    rita, root, eve = make_user("rita"), make_user("root", superuser=True), make_user("eve")
    web, db = f.device("web01"), f.device("db01")

    answer = gate([web.ci_id])
    assert not answer.allow
    assert answer.reasons[0].startswith("No approved change covers CI web01 (id ")

    change = _approved(web, requester=rita, approver=root, implementer=rita)
    answer = gate([web.ci_id], user=rita)
    assert answer.allow and answer.changes == [change.pk] and answer.reasons == []
    # Another user than the implementer, and a CI the change does not name.
    assert gate([web.ci_id], user=eve).reasons == [f"Change {change.pk} is to be implemented by rita."]
    assert gate([web.ci_id], user=root).allow  # a superuser may stand in
    assert not gate([web.ci_id, db.ci_id]).allow
    # Outside the window.
    assert not gate([web.ci_id], at=timezone.now() + dt.timedelta(hours=5)).allow
    # A freeze made after the approval.
    start = timezone.now() - dt.timedelta(hours=1)
    Freeze.objects.create(name="exam weeks", start=start, end=start + dt.timedelta(days=7), reason="exams")
    answer = gate([web.ci_id])
    assert not answer.allow
    assert answer.reasons == [f"Freeze 'exam weeks' blocks normal changes until "
                              f"{(start + dt.timedelta(days=7)).astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC (exams)."]
    emergency = _approved(db, requester=rita, approver=root, type=ChangeType.EMERGENCY,
                          emergency_reason="disk failing")
    answer = gate([db.ci_id])
    assert answer.allow and answer.changes == [emergency.pk]
    assert answer.notes == [f"Emergency change {emergency.pk} passes freeze 'exam weeks': disk failing"]


@pytest.mark.django_db
def test_the_gate_compares_plans(make_user: Any) -> None:
    rita, root = make_user("rita"), make_user("root", superuser=True)
    web = f.device("web01")
    approved_plan = Plan.objects.create(reconciler="folder", scope=f"ci:{web.ci_id}", fingerprint="a" * 64)
    approved_plan.items.create(index=0, ci_id=web.ci_id, target="web01", operation="update", resource="file")
    other_plan = Plan.objects.create(reconciler="folder", scope=f"ci:{web.ci_id}", fingerprint="b" * 64)
    other_plan.items.create(index=0, ci_id=web.ci_id, target="web01", operation="update", resource="file")
    change = make_change(web, requester=rita)
    attach(change, approved_plan, user=rita)
    transition(change, S.SUBMITTED, user=rita)
    decide(change, root, "approve")
    row = ChangePlan.objects.get(change=change)
    assert row.status == "approved" and row.approved_fingerprint == "a" * 64

    assert gate([], plan=approved_plan, reconciler="folder").allow
    answer = gate([], plan=other_plan)
    assert answer.reasons == [f"Plan {other_plan.pk} is not a plan of change {change.pk}."]
    assert gate([web.ci_id], reconciler="ansible").reasons == [f"Change {change.pk} carries no plan of reconciler "
                                                               "ansible."]
    # The stored plan changed under the approval (it cannot through the framework; here by hand).
    Plan.objects.filter(pk=approved_plan.pk).update(fingerprint="c" * 64)
    approved_plan.refresh_from_db()
    answer = gate([], plan=approved_plan)
    assert answer.reasons == [f"Plan {approved_plan.pk} differs from the one approved with change {change.pk} "
                              "(approved): re-plan and re-approve."]



@pytest.mark.django_db
def test_the_gate_costs_few_queries_and_reads_no_radius(make_user: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cmdb.changes.models import Change

    rita, root = make_user("rita"), make_user("root", superuser=True)
    web = f.device("web01")
    with CaptureQueriesContext(connection) as ctx:
        assert not gate([web.ci_id]).allow
    assert len(ctx.captured_queries) == 2  # CI names, covering changes
    change = _approved(web, requester=rita, approver=root, implementer=rita)
    Change.objects.filter(pk=change.pk).update(blast_radius=list(range(100_000)))  # a core switch's radius
    with CaptureQueriesContext(connection) as ctx:
        answer = gate([web.ci_id], user=rita)
    assert answer.allow and answer.changes == [change.pk]
    assert len(ctx.captured_queries) == 3  # CI names, covering changes with their columns, freezes
    assert not any("blast_radius" in q["sql"] or "assessment" in q["sql"] for q in ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        assert gate([web.ci_id], reconciler="folder").allow  # a change without plans: any automation
    assert len(ctx.captured_queries) == 4  # and its plans

@pytest.mark.django_db
def test_the_gate_over_the_api(make_user: Any, api: Any) -> None:
    rita, root = make_user("rita"), make_user("root", superuser=True)
    web = f.device("web01")
    answer = api.post("/api/changes/gate/", {"ci_ids": [web.ci_id]}, format="json")
    assert answer.status_code == 200
    assert answer.json()["allow"] is False and "No approved change covers CI web01" in answer.json()["reasons"][0]
    change = _approved(web, requester=rita, approver=root)
    answer = api.post("/api/changes/gate/", {"ci_ids": [web.ci_id]}, format="json").json()
    assert answer == {"allow": True, "reasons": [], "changes": [change.pk], "notes": []}
    assert api.post("/api/changes/gate/", {"ci_ids": [web.ci_id], "plan": 999999}, format="json").status_code == 400
    assert api.post("/api/changes/gate/", {"ci_ids": ["x"]}, format="json").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_reconciler_apply_is_refused_by_the_gate(folder: Path, settings: Any, make_user: Any) -> None:
    settings.CHANGES_GATE_MIN_CRITICALITY = "high"
    rita, root = make_user("rita"), make_user("root", superuser=True)
    core = f.device("core-sw01", criticality="critical")
    web = f.device("web01")  # medium: not gated by this setting

    run = run_execute(ReconcileRun.objects.create(reconciler="folder", scope=f"ci:{core.ci_id},{web.ci_id}",
                                                  dry_run=False, user=root))
    assert run.status == "failed"
    assert run.error.startswith("Apply denied: No approved change covers CI core-sw01")
    assert set(run.actions.values_list("outcome", flat=True)) == {"skipped"}
    assert not folder.exists() or not list(folder.iterdir())  # nothing written
    # Only the medium CI: not gated, applied.
    run = run_execute(ReconcileRun.objects.create(reconciler="folder", scope=f"ci:{web.ci_id}", dry_run=False))
    assert run.status == "completed" and run.applied_count == 1
    # The gate off: the critical CI is applied without a change.
    settings.CHANGES_GATE_MIN_CRITICALITY = "off"
    run = run_execute(ReconcileRun.objects.create(reconciler="folder", scope=f"ci:{core.ci_id}", dry_run=False))
    assert run.status == "completed"
    # Back on, with an approved change in its window the apply goes through.
    settings.CHANGES_GATE_MIN_CRITICALITY = "high"
    (folder / next(p.name for p in folder.iterdir() if p.name.startswith(f"{core.ci_id}-"))).write_text("drift\n")
    _approved(core, requester=rita, approver=root)
    run = run_execute(ReconcileRun.objects.create(reconciler="folder", scope=f"ci:{core.ci_id}", dry_run=False))
    assert run.status == "completed" and run.applied_count == 1, run.error


@pytest.mark.django_db
def test_the_gate_request_is_bounded(api: Any) -> None:
    too_many = api.post("/api/changes/gate/", {"ci_ids": list(range(1, 10_002))}, format="json")
    assert too_many.status_code == 400 and "ci_ids" in too_many.json()
    long_name = api.post("/api/changes/gate/", {"ci_ids": [1], "reconciler": "x" * 51}, format="json")
    assert long_name.status_code == 400 and "reconciler" in long_name.json()
