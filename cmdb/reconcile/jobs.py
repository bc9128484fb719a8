"""Reconcile runs as jobs, so they can be queued, scheduled and watched like any other."""

from __future__ import annotations

from typing import Any

from cmdb.jobs.registry import JobContext, JobFailed, JobSkipped, job

_RUN_ARGS = {"reconciler", "scope", "dry_run", "options"}


def _run_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    """A requested run (``run_id``, validated when it was requested) or a schedule's arguments:
    a known reconciler, a scope that parses and matches a CI, declared options with good values."""
    if "run_id" in kwargs:
        extra = set(kwargs) - {"run_id"}
        errors = {k: "Unknown argument next to run_id." for k in extra}
        if not isinstance(kwargs["run_id"], int) or isinstance(kwargs["run_id"], bool):
            errors["run_id"] = "Give the id of a requested run."
        return errors
    from .services import run_errors

    errors = {k: f"Unknown argument; use {', '.join(sorted(_RUN_ARGS))}." for k in kwargs if k not in _RUN_ARGS}
    dry_run = kwargs.get("dry_run", True)
    if not isinstance(dry_run, bool):
        errors["dry_run"] = "Give true or false."
    errors.update(run_errors(reconciler=kwargs.get("reconciler"), scope=kwargs.get("scope", "all"),
                             options=kwargs.get("options"), dry_run=dry_run is not False, user=None))
    return errors


@job("reconcile.run", validate=_run_kwargs_errors)
def reconcile_run_job(ctx: JobContext, *, run_id: int | None = None, reconciler: str = "",
                      scope: str = "all", dry_run: bool = True,
                      options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute a requested run (``run_id``) or, from a schedule, a new one for (reconciler, scope, options).

    The job's status is the run's: a run that failed (an error, a stale plan, a denied apply, a target
    that failed) fails its job with the reason as the error; a run that found the lease held ends
    ``skipped``."""
    from .models import ReconcileRun
    from .services import run_drive

    if run_id is not None:
        run = ReconcileRun.objects.get(pk=run_id)
    else:
        run = ReconcileRun.objects.create(reconciler=reconciler, scope=scope, dry_run=dry_run, options=options or {},
                                          job=ctx.job, schedule=ctx.job.schedule)
    end = run_drive(run, log=ctx.log, progress=ctx.progress)
    run.refresh_from_db(fields=["plan", "drift_count", "remaining_drift", "failed_count"])
    ctx.log(f"run {run.pk}: {end.status}, {run.drift_count} changes planned, {run.failed_count} targets failed")
    result = {"run_id": run.pk, "plan_id": run.plan_id, "status": end.status, "drift_count": run.drift_count,
              "remaining_drift": run.remaining_drift, "failed_count": run.failed_count}
    if end.status == "skipped":
        raise JobSkipped(end.error, result=result)
    if end.status == "failed":
        # The job fails with the run: a run that could not start or was refused is not "completed".
        raise JobFailed(end.error, result=result)
    return result
