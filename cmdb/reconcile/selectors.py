"""Read use cases of the reconcile app (for the API, the CI page and metrics)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cmdb.users.permissions import restrict

from .models import CIDrift, Plan, PlanItem, ReconcileRun


def drift_for_ci(ci_id: int, *, user: Any) -> list[dict[str, Any]]:
    """The latest drift of every reconciler for one CI, as the CI page shows it (one query)."""
    rows = restrict(CIDrift.objects.filter(ci_id=ci_id), user).order_by("reconciler")
    return [
        {"reconciler": d.reconciler, "status": d.status, "drift_items": d.drift_items, "items": d.items,
         "message": d.message, "checked": d.checked, "drifted_since": d.drifted_since, "run_id": d.run_id}
        for d in rows
    ]


def run_plan(run: ReconcileRun, *, user: Any) -> QuerySet[PlanItem]:
    """The items of the run's plan the user may see (tenant-scoped through each item's CI)."""
    return restrict(run.actions, user).order_by("index")


def plan_items(plan: Plan, *, user: Any) -> QuerySet[PlanItem]:
    """The plan's items the user may see (tenant-scoped through each item's CI)."""
    return restrict(PlanItem.objects.filter(plan=plan), user).order_by("index")


def plan_superseded(plan: Plan) -> Plan | None:
    """A newer plan of the same reconciler, scope, options and requester whose fingerprint differs, if any: the real
    system or the CMDB changed since ``plan`` was made, so applying it would be refused (one query)."""
    # Same requester too: another user's tenant scope reaches other targets, so their plan differs anyway.
    return (Plan.objects.filter(reconciler=plan.reconciler, scope=plan.scope, options=plan.options,
                                created_by_id=plan.created_by_id, created__gte=plan.created, pk__gt=plan.pk)
            .exclude(fingerprint=plan.fingerprint).order_by("-pk").first())


def plan_text(actions: QuerySet[PlanItem] | list[PlanItem]) -> str:
    """The whole plan as one readable text: a header per item, then its diff."""
    parts = []
    for a in actions:
        verb = {"create": "+", "delete": "-", "update": "~"}.get(a.operation, " ")
        parts.append(f"{verb} [{a.target}] {a.resource} ({a.outcome})")
        if a.diff:
            parts.append(a.diff.rstrip("\n"))
    return "\n".join(parts) + ("\n" if parts else "")
