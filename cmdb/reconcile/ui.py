"""Web UI hooks of the reconcile framework: menu entry for runs, drift panel on every CI page."""

from __future__ import annotations

from typing import Any

from cmdb.ui.registry import register_link, register_panel


def _drift_panel(request: Any, obj: Any) -> str | None:
    from cmdb.reconcile.views import ci_drift_panel

    ci_id = getattr(obj, "ci_id", None)
    return ci_drift_panel(request, ci_id) if ci_id else None


register_link("Automation", "Reconcile runs", "reconcile:run_list", "reconcile.reconcilerun")
register_panel("*", _drift_panel)
