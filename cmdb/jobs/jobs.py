"""Built-in jobs."""

from __future__ import annotations

import time
from typing import Any

from .registry import JobContext, Retry, job

#: ``jobs.sleep`` holds a worker at most this long.
SLEEP_MAX_SECONDS = 3600


@job("jobs.echo")
def echo(ctx: JobContext, *, message: str = "hello", fail: bool = False) -> dict[str, Any]:
    """Log a message (and optionally fail): checks a worker end to end, e.g. ``cmdb job run jobs.echo``."""
    ctx.log(message)
    if fail:
        raise RuntimeError(f"asked to fail: {message}")
    return {"message": message}


def _sleep_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = {k: "Unknown argument; use seconds." for k in kwargs if k != "seconds"}
    seconds = kwargs.get("seconds", 1)
    # Comparisons, not float(): NaN fails them, and an integer of 400 digits must not overflow a float.
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= SLEEP_MAX_SECONDS:
        errors["seconds"] = f"Give a number of seconds from 0 to {SLEEP_MAX_SECONDS}."
    return errors


@job("jobs.sleep", validate=_sleep_kwargs_errors)
def sleep(ctx: JobContext, *, seconds: float = 1) -> dict[str, Any]:
    """Hold a worker for ``seconds``: shows that workers take jobs and keep them alive (the job's
    heartbeat advances while it sleeps); the tests kill a worker in the middle of one."""
    ctx.log(f"sleeping {seconds:g} s")
    time.sleep(seconds)
    return {"slept": seconds}


def _purge_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = {k: "Unknown argument; use days." for k in kwargs if k != "days"}
    if "days" in kwargs and (not isinstance(kwargs["days"], int) or kwargs["days"] < 1):
        errors["days"] = "Give a whole number of days, at least 1."
    return errors


# Deleting what is old is idempotent: a purge whose worker died simply runs again (a minute later).
@job("jobs.purge", validate=_purge_kwargs_errors, retry=Retry(attempts=3, delay=60))
def purge(ctx: JobContext, *, days: int | None = None) -> dict[str, Any]:
    """Delete finished jobs older than ``days`` (default ``JOBS_RETENTION_DAYS``), see :mod:`.retention`."""
    from .retention import jobs_purge, retention_days

    result = jobs_purge(days=days)
    ctx.log(f"retention {days or retention_days()} day(s): {result.line()}")
    return {"jobs": result.jobs, "ticks": result.ticks, "task_results": result.task_results}
