"""What change management listens to: the reconcile framework's question before every apply."""

from __future__ import annotations

from typing import Any


def apply_requested(sender: Any = None, *, reconciler: str, plan: Any, items: list[Any], user: Any = None,
                    run: Any = None, **kwargs: Any) -> dict[str, Any] | None:
    """Ask the gate when the plan touches CIs of at least ``CHANGES_GATE_MIN_CRITICALITY`` (None: no opinion)."""
    from .gate import decide_for_apply

    return decide_for_apply(plan=plan, items=items, user=user, reconciler=reconciler)


def connect() -> None:
    from cmdb.core.hooks import reconcile_apply_requested

    reconcile_apply_requested.connect(apply_requested, dispatch_uid="changes.gate")
