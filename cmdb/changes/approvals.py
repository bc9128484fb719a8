"""Approvals: which approver groups must decide on a change, quorum, rejection, standard changes.

A group applies to a change when its tenant (if any) is the change's tenant and its services
(if any) include a service the change impacts (the services impact analysis of the change's CIs
finds, plus changed CIs that are services themselves).  A group with neither is a CAB for every
change.  Each applicable group needs ``quorum`` approvals of its members; one rejection by a
member of an applicable group rejects the change.  When no group applies, one approval by a user
who may change the change is enough.  Nobody approves their own change.

Only decisions made since the change was last submitted count: a change that went back to
``submitted`` (a stale plan, a new plan attached) is approved afresh.

Approving a change approves exactly its plans: each :class:`ChangePlan` stores the fingerprint of
its plan at that moment, and the gate and the apply refuse anything else.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import transaction
from django.db.models import Q

from cmdb.core.context import change_logging

from .models import (
    Approval,
    ApprovalDecision,
    ApprovalGroup,
    Change,
    ChangePlan,
    ChangePlanStatus,
    ChangeState,
    ChangeTransition,
    ChangeType,
)


class ApprovalRefused(ValueError):
    """A decision that may not be recorded (wrong state, not an approver, own change, no comment)."""


def impacted_service_ids(change: Change) -> set[int]:
    """Primary keys of the services ``change`` impacts (down or degraded) or changes directly."""
    from cmdb.services.impact import UnknownCI, impact_of
    from cmdb.services.models import Service

    ci_ids = list(change.cis.values_list("pk", flat=True))
    if not ci_ids:
        return set()
    found = set(Service.objects.filter(ci_id__in=ci_ids).values_list("pk", flat=True))
    for mode in ("down", "degraded"):
        with contextlib.suppress(UnknownCI):
            found |= {s["id"] for s in impact_of(ci_ids, mode=mode).services}
    return found


def applicable_groups(change: Change) -> list[ApprovalGroup]:
    """The approver groups that must decide on ``change`` (see the module docstring)."""
    services = impacted_service_ids(change)
    groups = (ApprovalGroup.objects.filter(Q(tenant__isnull=True) | Q(tenant_id=change.tenant_id))
              .prefetch_related("services", "members").order_by("name"))
    out = []
    for group in groups:
        wanted = {s.pk for s in group.services.all()}
        if wanted and not (wanted & services):
            continue
        out.append(group)
    return out


def submitted_at(change: Change) -> Any:
    """When the change last entered ``submitted`` (decisions before that are from an earlier round)."""
    return (ChangeTransition.objects.filter(change=change, to_state=ChangeState.SUBMITTED)
            .order_by("-at", "-id").values_list("at", flat=True).first())


def current_approvals(change: Change) -> list[Approval]:
    since = submitted_at(change)
    qs = Approval.objects.filter(change=change).select_related("user", "group")
    if since is not None:
        qs = qs.filter(last_updated__gte=since)
    return list(qs.order_by("created", "id"))


def status(change: Change, groups: list[ApprovalGroup] | None = None) -> dict[str, Any]:
    """Per applicable group: quorum, approvals so far, rejections; and whether the change is decided."""
    groups = applicable_groups(change) if groups is None else groups
    decisions = current_approvals(change)
    rows = []
    for group in groups:
        mine = [a for a in decisions if a.group_id == group.pk]
        approved = sorted({a.user.get_username() for a in mine if a.decision == ApprovalDecision.APPROVE})
        rejected = sorted({a.user.get_username() for a in mine if a.decision == ApprovalDecision.REJECT})
        rows.append({"group": group.pk, "name": group.name, "quorum": group.quorum, "approved_by": approved,
                     "rejected_by": rejected, "satisfied": len(approved) >= group.quorum})
    loose = [a for a in decisions if a.group_id is None]
    rejected = any(r["rejected_by"] for r in rows) or any(a.decision == ApprovalDecision.REJECT for a in loose)
    if groups:
        approved = all(r["satisfied"] for r in rows)
    else:
        approved = any(a.decision == ApprovalDecision.APPROVE for a in loose)
    return {"groups": rows, "without_group": [{"user": a.user.get_username(), "decision": a.decision,
                                               "comment": a.comment} for a in loose],
            "rejected": rejected, "approved": approved and not rejected}


def _may_change(user: Any, change: Change) -> bool:
    from cmdb.users.permissions import restrict

    return restrict(Change.objects.filter(pk=change.pk), user, "change").exists()


def decide(change: Change, user: Any, decision: str, comment: str = "") -> list[Approval]:
    """Record ``user``'s ``decision`` (approve or reject) with ``comment``; approves or rejects the change when
    that settles it.  :class:`ApprovalRefused` says why a decision is not accepted."""
    from .transitions import transition

    if decision not in ApprovalDecision.values:
        raise ApprovalRefused(f"decision must be one of {', '.join(ApprovalDecision.values)}.")
    if decision == ApprovalDecision.REJECT and not comment.strip():
        raise ApprovalRefused("A rejection needs a comment saying why.")
    with change_logging(user=user, source="api"), transaction.atomic():
        change = Change.objects.select_for_update().get(pk=change.pk)
        if change.state != ChangeState.SUBMITTED:
            raise ApprovalRefused(f"Change {change.pk} is {change.state}; only submitted changes are decided on.")
        if change.requester_id is not None and change.requester_id == user.pk:
            raise ApprovalRefused("Nobody approves or rejects their own change.")
        groups = applicable_groups(change)
        mine = [g for g in groups if any(m.pk == user.pk for m in g.members.all())]
        if groups and not mine:
            names = ", ".join(g.name for g in groups)
            raise ApprovalRefused(f"You are not a member of an approver group of this change ({names}).")
        if not groups and not _may_change(user, change):
            raise ApprovalRefused("No approver group applies to this change; it needs a user who may change it.")
        recorded = []
        for group in mine or [None]:
            approval, _ = Approval.objects.update_or_create(
                change=change, group=group, user=user, defaults={"decision": decision, "comment": comment.strip()})
            recorded.append(approval)
        state = status(change, groups)
        if state["rejected"]:
            transition(change, ChangeState.REJECTED, user=user, system=True,
                       reason=f"rejected by {user.get_username()}: {comment.strip()}")
        elif state["approved"]:
            approve_plans(change)
            who = ", ".join(sorted({n for r in state["groups"] for n in r["approved_by"]})
                            or [user.get_username()])
            transition(change, ChangeState.APPROVED, user=user, system=True,
                       reason=f"approved by {who}" + (f": {comment.strip()}" if comment.strip() else ""))
    return recorded


def approve_plans(change: Change) -> int:
    """Freeze the fingerprint of every plan of ``change``: exactly these plans are what is approved."""
    rows = list(ChangePlan.objects.filter(change=change).select_related("plan"))
    for row in rows:
        row.approved_fingerprint = row.plan.fingerprint
        row.status = ChangePlanStatus.APPROVED
        row.save(update_fields=["approved_fingerprint", "status", "last_updated"])
    return len(rows)


# --- standard changes -------------------------------------------------------------------------------------------


def template_problems(change: Change) -> list[str]:
    """Why a standard change is not within its template's limits (empty: it is, and is pre-approved)."""
    template = change.template
    if template is None:
        return ["a standard change is made from a template."]
    problems = []
    cis = list(change.cis.values_list("pk", "kind", "name"))
    if template.allowed_kinds:
        bad = [f"{name} ({kind})" for _pk, kind, name in cis if kind not in template.allowed_kinds]
        if bad:
            problems.append(f"template {template.name!r} allows CI kinds {', '.join(template.allowed_kinds)}, "
                            f"not {', '.join(bad)}.")
    allowed = set(template.allowed_cis.values_list("pk", flat=True))
    if allowed:
        bad = [name for pk, _kind, name in cis if pk not in allowed]
        if bad:
            problems.append(f"template {template.name!r} does not cover CI {', '.join(bad)}.")
    if change.window_start and change.window_end and change.window_end - change.window_start > template.max_duration:
        problems.append(f"the window ({change.window_end - change.window_start}) is longer than template "
                        f"{template.name!r} allows ({template.max_duration}).")
    if template.allowed_reconcilers:
        bad = sorted(set(ChangePlan.objects.filter(change=change).values_list("plan__reconciler", flat=True))
                     - set(template.allowed_reconcilers))
        if bad:
            problems.append(f"template {template.name!r} allows plans of {', '.join(template.allowed_reconcilers)}, "
                            f"not {', '.join(bad)}.")
    return problems


def preapprove(change: Change, *, user: Any = None) -> None:
    """A submitted standard change within its template's limits is approved by the template."""
    from .transitions import transition

    change = Change.objects.get(pk=change.pk)
    if change.type != ChangeType.STANDARD or change.state != ChangeState.SUBMITTED or template_problems(change):
        return
    approve_plans(change)
    transition(change, ChangeState.APPROVED, user=user, system=True,
               reason=f"standard change pre-approved by template {change.template.name!r}")
