"""Read use cases of the reconcile app (for the API, the CI page and metrics)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cmdb.users.permissions import restrict

from .models import CIDrift, ReconcileAction, ReconcileRun


def drift_for_ci(ci_id: int, *, user: Any) -> list[dict[str, Any]]:
    """The latest drift of every reconciler for one CI, as the CI page shows it (one query)."""
    rows = restrict(CIDrift.objects.filter(ci_id=ci_id), user).order_by("reconciler")
    return [
        {"reconciler": d.reconciler, "status": d.status, "drift_items": d.drift_items, "items": d.items,
         "message": d.message, "checked": d.checked, "drifted_since": d.drifted_since, "run_id": d.run_id}
        for d in rows
    ]


def run_plan(run: ReconcileRun, *, user: Any) -> QuerySet[ReconcileAction]:
    """The run's plan items the user may see (tenant-scoped through each item's CI)."""
    return restrict(ReconcileAction.objects.filter(run=run), user).order_by("index")


def plan_text(actions: QuerySet[ReconcileAction] | list[ReconcileAction]) -> str:
    """The whole plan as one readable text: a header per item, then its diff."""
    parts = []
    for a in actions:
        verb = {"create": "+", "delete": "-", "update": "~"}.get(a.operation, " ")
        parts.append(f"{verb} [{a.target}] {a.resource} ({a.result})")
        if a.diff:
            parts.append(a.diff.rstrip("\n"))
    return "\n".join(parts) + ("\n" if parts else "")
