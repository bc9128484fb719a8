"""Plans from reconcilers on a change: approval approves exactly them, the change applies them at its window
(the tick) or by hand, a stale plan is refused and sends the change back for re-planning and re-approval,
per-item outcomes and the verify result attach, and the change ends completed or failed by itself.

The Ansible test runs the real baseline playbook against localhost (each host manages its own folder under
tmp, as tests/playbooks/test_reconciler.py does)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from cmdb.changes.approvals import decide
from cmdb.changes.jobs import tick
from cmdb.changes.models import ChangePlan, ChangeState, ChangeTransition
from cmdb.changes.plans import PlanRefused, apply_change, attach, replan
from cmdb.changes.transitions import transition
from cmdb.reconcile.models import Plan, ReconcileRun
from cmdb.reconcile.services import run_execute
from tests import factories as f

from .helpers import make_change

pytestmark = pytest.mark.django_db(transaction=True)
S = ChangeState


def _plan(reconciler: str, scope: str, user: Any = None) -> Plan:
    run = run_execute(ReconcileRun.objects.create(reconciler=reconciler, scope=scope, dry_run=True, user=user))
    assert run.plan_id is not None, run.error
    return Plan.objects.get(pk=run.plan_id)


def _approve(change: Any, requester: Any, approver: Any) -> Any:
    transition(change, S.SUBMITTED, user=requester)
    decide(change, approver, "approve", "go")
    change.refresh_from_db()
    assert change.state == S.APPROVED
    return change


def test_a_folder_plan_approved_applied_by_hand_and_completed(folder: Path, settings: Any, make_user: Any) -> None:
    settings.CHANGES_GATE_MIN_CRITICALITY = "low"  # every CI is gated: the change must authorize the apply
    rita, root = make_user("rita"), make_user("root", superuser=True)
    web, db = f.device("web01"), f.device("db01")
    plan = _plan("folder", f"ci:{web.ci_id},{db.ci_id}")
    assert plan.items.count() == 2
    change = make_change(requester=rita, title="Files for web01 and db01")
    attach(change, plan, user=rita)
    assert set(change.cis.values_list("pk", flat=True)) == {web.ci_id, db.ci_id}  # the plan's CIs joined
    with pytest.raises(PlanRefused, match="only approved or scheduled"):
        apply_change(change, user=root)
    _approve(change, rita, root)
    row = ChangePlan.objects.get(change=change)
    assert row.status == "approved" and row.approved_fingerprint == plan.fingerprint

    done = apply_change(change, user=root)
    assert done.state == S.COMPLETED, ChangeTransition.objects.filter(change=change).last().reason
    row.refresh_from_db()
    assert row.status == "applied" and row.remaining_drift == 0 and row.run.applies_plan
    assert sorted((o["target"], o["outcome"]) for o in row.outcomes) == sorted(
        [(p.name, "ok") for p in folder.iterdir()])
    assert ChangeTransition.objects.filter(change=change).last().reason == "1 plan(s) applied and verified"


def test_a_stale_plan_is_refused_then_replanned_and_reapproved(folder: Path, make_user: Any) -> None:
    rita, root = make_user("rita"), make_user("root", superuser=True)
    web = f.device("web01")
    plan = _plan("folder", f"ci:{web.ci_id}")
    change = make_change(web, requester=rita)
    attach(change, plan, user=rita)
    _approve(change, rita, root)
    # The real system moves after the approval: someone writes the file by hand.
    folder.mkdir(parents=True, exist_ok=True)
    (folder / plan.items.get().target).write_text("written by hand\n")

    back = apply_change(change, user=root)
    assert back.state == S.SUBMITTED
    row = ChangePlan.objects.get(change=change)
    assert row.status == "stale" and "no longer matches" in row.message
    reason = ChangeTransition.objects.filter(change=change).last().reason
    assert reason.startswith(f"plan {plan.pk} is stale (the CMDB or the real system moved): re-plan and re-approve.")
    assert (folder / plan.items.get().target).read_text() == "written by hand\n"  # nothing applied
    with pytest.raises(PlanRefused, match="only approved or scheduled"):
        apply_change(back, user=root)

    fresh = replan(row, user=root)
    assert fresh.plan_id != plan.pk and fresh.status == "pending"
    assert fresh.plan.items.get().operation == "update"
    change.refresh_from_db()
    assert change.state == S.SUBMITTED
    decide(change, root, "approve", "re-approved after the re-plan")
    change.refresh_from_db()
    done = apply_change(change, user=root)
    assert done.state == S.COMPLETED
    assert (folder / plan.items.get().target).read_text().startswith("web01 (dcim.device)")


def test_a_failed_item_fails_the_change(folder: Path, make_user: Any) -> None:
    rita, root = make_user("rita"), make_user("root", superuser=True)
    web = f.device("web01")
    plan = _plan("folder", f"ci:{web.ci_id}")
    change = make_change(web, requester=rita)
    attach(change, plan, user=rita)
    _approve(change, rita, root)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / plan.items.get().target).mkdir()  # a directory where the file goes: writing fails
    # The observation changed too (a directory is not a file it reads), so first check the plan is not stale.
    done = apply_change(change, user=root)
    row = ChangePlan.objects.get(change=change)
    assert done.state == S.FAILED, row.message
    assert row.status == "failed" and row.outcomes[0]["outcome"] == "failed"


@pytest.mark.skipif(shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None,
                    reason="ansible-playbook (ansible-core) is not installed in this environment")
def test_an_ansible_plan_against_localhost_approved_applied_at_its_window_verified_completed(
        tmp_path: Path, settings: Any, make_user: Any) -> None:
    settings.CHANGES_GATE_MIN_CRITICALITY = "low"
    rita, root = make_user("rita"), make_user("root", superuser=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    web = f.device("web01", description="web01 server", local_context_data={**local, "cmdb_root": str(tmp_path)})
    plan = _plan("ansible", "name:web01")
    assert plan.items.filter(resource="Write the message of the day").exists()
    assert not (tmp_path / "etc/motd").exists()  # a plan changes nothing

    change = make_change(web, requester=rita, title="Baseline web01", implementer=root)
    attach(change, plan, user=rita)
    _approve(change, rita, root)
    transition(change, S.SCHEDULED, user=root, reason="tonight")
    result = tick()  # the window has started: the tick applies the change
    assert result["changes"] == {change.pk: "completed"}, ChangeTransition.objects.filter(change=change).last()
    change.refresh_from_db()
    assert change.state == S.COMPLETED and change.started_at and change.finished_at
    row = ChangePlan.objects.get(change=change)
    assert row.status == "applied" and row.remaining_drift == 0
    assert row.outcomes and {o["outcome"] for o in row.outcomes} == {"ok"}
    assert (tmp_path / "etc/motd").read_text().startswith("web01 — managed by the CMDB")
    assert json.loads((tmp_path / "etc/cmdb.json").read_text())["ci_id"] == web.ci_id
    states = list(ChangeTransition.objects.filter(change=change).order_by("at", "pk").values_list("to_state",
                                                                                                  flat=True))
    assert states == ["submitted", "approved", "scheduled", "in_progress", "completed"]
    assert tick()["changes"] == {}  # nothing due any more
