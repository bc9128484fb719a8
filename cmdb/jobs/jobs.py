"""Built-in jobs."""

from __future__ import annotations

from typing import Any

from .registry import JobContext, job


@job("jobs.echo")
def echo(ctx: JobContext, *, message: str = "hello", fail: bool = False) -> dict[str, Any]:
    """Log a message (and optionally fail): checks a worker end to end, e.g. ``cmdb job run jobs.echo``."""
    ctx.log(message)
    if fail:
        raise RuntimeError(f"asked to fail: {message}")
    return {"message": message}


def _purge_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = {k: "Unknown argument; use days." for k in kwargs if k != "days"}
    if "days" in kwargs and (not isinstance(kwargs["days"], int) or kwargs["days"] < 1):
        errors["days"] = "Give a whole number of days, at least 1."
    return errors


@job("jobs.purge", validate=_purge_kwargs_errors)
def purge(ctx: JobContext, *, days: int | None = None) -> dict[str, Any]:
    """Delete finished jobs older than ``days`` (default ``JOBS_RETENTION_DAYS``), see :mod:`.retention`."""
    from .retention import jobs_purge, retention_days

    result = jobs_purge(days=days)
    ctx.log(f"retention {days or retention_days()} day(s): {result.line()}")
    return {"jobs": result.jobs, "ticks": result.ticks, "task_results": result.task_results}
