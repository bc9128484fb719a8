"""Reconcile runs as jobs, so they can be queued, scheduled and watched like any other."""

from __future__ import annotations

from typing import Any

from cmdb.jobs.registry import JobContext, job


@job("reconcile.run")
def reconcile_run_job(ctx: JobContext, *, run_id: int | None = None, reconciler: str = "",
                      scope: str = "all", dry_run: bool = True) -> dict[str, Any]:
    """Execute a requested run (``run_id``) or, from a schedule, a new one for (reconciler, scope)."""
    from .models import ReconcileRun
    from .services import run_execute

    if run_id is not None:
        run = ReconcileRun.objects.get(pk=run_id)
    else:
        run = ReconcileRun.objects.create(reconciler=reconciler, scope=scope, dry_run=dry_run, job=ctx.job,
                                          schedule=ctx.job.schedule)
    run = run_execute(run, log=ctx.log)
    ctx.log(f"run {run.pk}: {run.status}, {run.drift_count} changes planned, {run.failed_count} targets failed")
    if run.status == "failed" and run.error:
        ctx.log(run.error.strip().splitlines()[-1], level="error")
    return {"run_id": run.pk, "status": run.status, "drift_count": run.drift_count,
            "remaining_drift": run.remaining_drift, "failed_count": run.failed_count}
