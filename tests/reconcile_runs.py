"""Foreground reconcile runs for tests: a dry run of one reconciler over a scope, and the apply of its plan.

Both go through the same request/execute path as the API and the scheduler (cmdb/reconcile/services.py),
only without the queue, so a test reads the finished run at once.
"""

from __future__ import annotations

from typing import Any


def dry_run(reconciler: str, scope: str) -> Any:
    """Plan ``reconciler`` over ``scope`` and return the finished run (its ``plan`` is stored)."""
    from cmdb.reconcile.services import run_execute, run_request

    return run_execute(run_request(reconciler=reconciler, scope=scope, enqueue=False))


def apply(plan: Any) -> Any:
    """Apply a stored plan's items and return the finished run."""
    from cmdb.reconcile.services import apply_request, run_execute

    return run_execute(apply_request(plan, enqueue=False))
