"""Plans from reconcilers on a change: attach, approve (by fingerprint), apply, record outcomes.

A change carries stored reconcile plans (:class:`cmdb.reconcile.models.Plan`).  Approving the
change stores each plan's fingerprint on its :class:`ChangePlan`; :func:`apply_change` (by hand,
``POST /api/changes/changes/<id>/apply/``, or by the ``changes.tick`` job at the window's start)
starts the change and applies exactly those plans through the reconcile framework, which plans
afresh first and refuses a plan whose fingerprint no longer matches.  A stale first plan (nothing
applied yet) sends the change back to ``submitted``: re-plan and re-approve.  Per-item outcomes and
the verify result (drift left) are copied to the change's plans, and the change ends ``completed``
(every plan applied, nothing left) or ``failed`` by itself.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from cmdb.core.context import change_logging
from cmdb.jobs.models import JobStatus
from cmdb.reconcile.models import Plan, PlanItem

from .models import AUTHORIZED_STATES, Change, ChangePlan, ChangePlanStatus, ChangeState


class PlanRefused(ValueError):
    """A plan that may not be attached, or a change that may not be applied now."""


#: Where attaching or detaching a plan is possible; from approved/scheduled it means re-approval.
EDITABLE = (ChangeState.DRAFT, ChangeState.SUBMITTED, ChangeState.APPROVED, ChangeState.SCHEDULED)


def _resubmit(change: Change, user: Any, reason: str) -> None:
    from .transitions import transition

    if change.state in (ChangeState.APPROVED, ChangeState.SCHEDULED):
        transition(change, ChangeState.SUBMITTED, user=user, reason=reason)


def attach(change: Change, plan: Plan, *, user: Any = None) -> ChangePlan:
    """Put ``plan`` on ``change``; the CIs its items touch join the change's CIs.  An approved change goes
    back to ``submitted`` (what is approved is exactly the plans it had)."""
    with change_logging(user=user, source="api"), transaction.atomic():
        change = Change.objects.select_for_update().get(pk=change.pk)
        if change.state not in EDITABLE:
            raise PlanRefused(f"Change {change.pk} is {change.state}: plans are attached to open changes before "
                              "they start.")
        if ChangePlan.objects.filter(change=change, plan=plan).exists():
            raise PlanRefused(f"Plan {plan.pk} is already on change {change.pk}.")
        row = ChangePlan.objects.create(change=change, plan=plan)
        ci_ids = set(PlanItem.objects.filter(plan=plan, ci__isnull=False).values_list("ci_id", flat=True))
        if ci_ids:
            change.cis.add(*ci_ids)
        _resubmit(change, user, f"plan {plan.pk} ({plan.reconciler}, {plan.scope}) attached: re-approve")
    return row


def detach(change_plan: ChangePlan, *, user: Any = None) -> None:
    with change_logging(user=user, source="api"), transaction.atomic():
        change = Change.objects.select_for_update().get(pk=change_plan.change_id)
        if change.state not in EDITABLE:
            raise PlanRefused(f"Change {change.pk} is {change.state}: its plans can no longer be changed.")
        plan_id = change_plan.plan_id
        change_plan.delete()
        _resubmit(change, user, f"plan {plan_id} detached: re-approve")


def replan(change_plan: ChangePlan, *, user: Any = None) -> ChangePlan:
    """Plan again (a dry run of the same reconciler, scope and options, in this process) and put the new
    plan in place of ``change_plan``; the change needs approving again."""
    from cmdb.reconcile.services import run_execute, run_request

    old = change_plan.plan
    run = run_request(reconciler=old.reconciler, scope=old.scope, dry_run=True, options=old.options, user=user,
                      enqueue=False)
    run = run_execute(run)
    if run.plan_id is None:
        raise PlanRefused(f"Re-planning plan {old.pk} made no plan: {run.error or run.status}")
    fresh = Plan.objects.get(pk=run.plan_id)
    change = change_plan.change
    with change_logging(user=user, source="api"), transaction.atomic():
        change_plan.delete()
        row = ChangePlan.objects.create(change=change, plan=fresh, message=f"re-plan of plan {old.pk}")
        change = Change.objects.get(pk=change.pk)
        _resubmit(change, user, f"plan {old.pk} re-planned as plan {fresh.pk}: re-approve")
    return row


def due_changes(now: Any = None) -> list[Change]:
    """Scheduled changes whose window has started and not ended: the tick starts and applies them."""
    now = now or timezone.now()
    return list(Change.objects.filter(state=ChangeState.SCHEDULED, window_start__lte=now, window_end__gt=now)
                .order_by("window_start", "pk"))


def apply_change(change: Change, *, user: Any = None, log: Any = None) -> Change:
    """Start ``change`` (approved or scheduled, inside its window) and apply its approved plans in order.

    Never leaves the change ``in_progress`` because of a plan: it ends completed, failed, or (a stale
    plan before anything was applied) back in submitted.  :class:`PlanRefused` when it may not start.
    """
    from .transitions import TransitionRefused, transition

    change = Change.objects.get(pk=change.pk)
    if change.state not in AUTHORIZED_STATES or change.state == ChangeState.IN_PROGRESS:
        raise PlanRefused(f"Change {change.pk} is {change.state}; only approved or scheduled changes are applied.")
    rows = list(ChangePlan.objects.filter(change=change).select_related("plan").order_by("pk"))
    bad = [r for r in rows if r.status != ChangePlanStatus.APPROVED or r.approved_fingerprint != r.plan.fingerprint]
    if bad:
        raise PlanRefused("Plans " + ", ".join(str(r.plan_id) for r in bad) + " are not the approved ones: "
                          "re-plan and re-approve.")
    try:
        if change.state == ChangeState.APPROVED:
            change = transition(change, ChangeState.SCHEDULED, user=user, system=True, reason="applied by hand")
        change = transition(change, ChangeState.IN_PROGRESS, user=user, system=True,
                            reason="applying its plans" if rows else "started")
    except TransitionRefused as exc:
        raise PlanRefused(str(exc)) from exc
    if not rows:
        return change  # work by hand: the implementer completes it
    applied_any = False
    for row in rows:
        error = _apply_one(row, user=user, log=log)
        row.refresh_from_db()
        if row.status == ChangePlanStatus.STALE and not applied_any:
            return _back_to_submitted(change, row, user)
        applied_any = True
        if row.status != ChangePlanStatus.APPLIED:
            return _end(change, user, ok=False, why=f"plan {row.plan_id} failed: {row.message or error}"[:2000])
    left = sum(r.remaining_drift or 0 for r in ChangePlan.objects.filter(change=change))
    if left:
        return _end(change, user, ok=False, why=f"verify found {left} changes still needed")
    return _end(change, user, ok=True, why=f"{len(rows)} plan(s) applied and verified")


def _apply_one(row: ChangePlan, *, user: Any, log: Any) -> str:
    """Apply one approved plan through the reconcile framework (in this process) and copy its outcomes.

    Returns the run's error ("" when it completed); the row's status says how it ended."""
    from cmdb.reconcile.services import RunRefused, apply_request, run_execute

    try:
        run = apply_request(row.plan, user=user, enqueue=False)
    except RunRefused as exc:
        # The scope reaches no CI the implementer may change any more: record a run-less failure.
        ChangePlan.objects.filter(pk=row.pk).update(status=ChangePlanStatus.FAILED, message=str(exc),
                                                    applied_at=timezone.now())
        return str(exc)
    run = run_execute(run, log=log)
    items = list(PlanItem.objects.filter(plan=row.plan).order_by("index").values(
        "index", "target", "resource", "operation", "outcome", "message"))
    stale = run.status == JobStatus.FAILED and "no longer matches" in (run.error or "")
    if stale:
        status = ChangePlanStatus.STALE
    elif run.status == JobStatus.COMPLETED:
        status = ChangePlanStatus.APPLIED
    else:
        status = ChangePlanStatus.FAILED
    ChangePlan.objects.filter(pk=row.pk).update(
        status=status, run=run, applied_at=timezone.now(), outcomes=items if not stale else [],
        remaining_drift=run.remaining_drift, message=(run.error or "")[:4000], last_updated=timezone.now())
    return run.error or ""


def _back_to_submitted(change: Change, row: ChangePlan, user: Any) -> Change:
    from .transitions import transition

    return transition(change, ChangeState.SUBMITTED, user=user, system=True,
                      reason=f"plan {row.plan_id} is stale (the CMDB or the real system moved): re-plan and "
                             f"re-approve.\n{row.message}")


def _end(change: Change, user: Any, *, ok: bool, why: str) -> Change:
    from .transitions import transition

    return transition(change, ChangeState.COMPLETED if ok else ChangeState.FAILED, user=user, system=True,
                      reason=why)
