"""Change-management jobs: the tick that starts due changes, and applying one change in a worker.

``changes.tick`` (every minute, on the schedule ``cmdb setup`` creates, :func:`ensure_tick_schedule`):
starts every scheduled change whose window has begun (applying its approved plans, or only starting
it when it carries none), re-assesses pending changes the CMDB moved under, and records unauthorized
changes.  ``changes.apply`` applies one change by hand (``POST /api/changes/changes/<id>/apply/``).
"""

from __future__ import annotations

from typing import Any

from cmdb.jobs.registry import JobContext, job

#: The built-in schedule of ``changes.tick``.
SCHEDULE_NAME = "Change management: due changes"


def ensure_tick_schedule() -> str:
    """Create the every-minute ``changes.tick`` schedule unless it exists (``cmdb setup`` and ``cmdb changes
    schedule`` call this).  Not a migration: an approved change must start at its window in a real
    instance, but the tests' database starts without schedules."""
    from cmdb.core.context import change_logging
    from cmdb.jobs.models import Schedule

    if Schedule.objects.filter(name=SCHEDULE_NAME).exists():
        return f"schedule {SCHEDULE_NAME!r} exists"
    with change_logging(source="cli"):
        Schedule(name=SCHEDULE_NAME, job_name="changes.tick", cron="* * * * *",
                 description="Start scheduled changes at their window, re-assess, find unauthorized changes"
                 ).validated_save()
    return f"schedule {SCHEDULE_NAME!r} created"


def _apply_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = {k: "Unknown argument; use change_id." for k in kwargs if k != "change_id"}
    if not isinstance(kwargs.get("change_id"), int) or isinstance(kwargs.get("change_id"), bool):
        errors["change_id"] = "Give the id of a change."
    return errors


@job("changes.apply", validate=_apply_errors)
def apply_job(ctx: JobContext, *, change_id: int) -> dict[str, Any]:
    """Start the change and apply its approved plans (as the job's user); fails when it may not start."""
    from .models import Change
    from .plans import apply_change

    user = ctx.job.user if ctx.job.user_id else None
    change = apply_change(Change.objects.get(pk=change_id), user=user, log=ctx.log)
    ctx.log(f"change {change.pk}: {change.state}")
    return {"change_id": change.pk, "state": change.state}


@job("changes.tick")
def tick_job(ctx: JobContext) -> dict[str, Any]:
    return tick(log=ctx.log)


def tick(log: Any = None) -> dict[str, Any]:
    """One pass over due changes, stale assessments and unauthorized changes (see the module docstring)."""
    from .plans import PlanRefused, apply_change, due_changes
    from .unauthorized import scan

    log = log or (lambda message, level="info": None)
    started: dict[int, str] = {}
    for change in due_changes():
        try:
            done = apply_change(change, user=change.implementer, log=log)
            started[change.pk] = done.state
            log(f"change {change.pk}: {done.state}")
        except PlanRefused as exc:
            started[change.pk] = f"refused: {exc}"
            log(f"change {change.pk} not started: {exc}", level="error")
    refreshed = _refresh_pending()
    found = scan()
    return {"changes": started, "reassessed": refreshed, "unauthorized": found}


def _refresh_pending() -> int:
    """Re-assess the pending changes whose assessment predates the current dependency graph."""
    from . import assessment

    return int(assessment.refresh_pending() or 0)
