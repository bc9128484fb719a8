"""Declaring and enqueueing jobs: the public interface other apps use.

Declare a job in the module your app declares as ``jobs_module`` on its AppConfig
(cmdb/core/domains.py; imported at start-up)::

    from cmdb.jobs.registry import JobContext, job

    @job("discovery.network")
    def network_discovery(ctx: JobContext, *, prefix: str) -> dict:
        ctx.log(f"scanning {prefix}")
        return {"found": 3}

Enqueue it (from a service, a view, a command)::

    from cmdb.jobs.registry import job_enqueue
    record = job_enqueue("discovery.network", kwargs={"prefix": "10.0.0.0/24"}, user=request.user)

Schedule it as data: create a :class:`cmdb.jobs.models.Schedule` (API
``/api/jobs/schedules/``) with ``job_name`` and a cron expression.

Every run is a :class:`cmdb.jobs.models.Job` row; the queue is django-tasks
(database backend by default, RQ when ``REDIS_URL`` is set), which only
carries the job id to a worker (:mod:`cmdb.jobs.tasks`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Job

JobFunction = Callable[..., Any]
#: ``validate(kwargs)`` → ``{argument: message}``, empty when the arguments are acceptable.
KwargsValidator = Callable[[dict[str, Any]], dict[str, str]]
_JOBS: dict[str, JobFunction] = {}
_VALIDATORS: dict[str, KwargsValidator] = {}


def job(name: str, *, validate: KwargsValidator | None = None) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn(ctx, **kwargs)`` under ``name`` (unique across apps).

    ``validate`` checks arguments before they are stored (a schedule, an enqueued job), so a
    schedule with bad arguments — or with a secret that must not sit in the database — is refused
    when it is saved rather than failing at 3 a.m."""

    def register(fn: JobFunction) -> JobFunction:
        existing = _JOBS.get(name)
        if existing is not None and existing.__qualname__ != fn.__qualname__:
            raise ValueError(f"Job name {name!r} is already taken by {existing.__module__}.{existing.__qualname__}")
        _JOBS[name] = fn
        if validate is not None:
            _VALIDATORS[name] = validate
        return fn

    return register


def registered_jobs() -> dict[str, JobFunction]:
    return dict(_JOBS)


def job_kwargs_errors(name: str, kwargs: Any) -> dict[str, str]:
    """Problems with ``kwargs`` for job ``name`` (empty if none, or if the job declares no validator)."""
    if not isinstance(kwargs, dict):
        return {"kwargs": "Job arguments must be a JSON object."}
    validate = _VALIDATORS.get(name)
    return dict(validate(kwargs)) if validate is not None else {}


def kwargs_error_text(errors: dict[str, str]) -> str:
    return "; ".join(f"{key}: {message}" for key, message in sorted(errors.items()))


@dataclass
class JobContext:
    """What a running job gets: its record and a logger that stores lines on it."""

    job: Job
    lines: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds between progress writes of the log (the job's end always writes it all).
    flush_interval: float = 1.0
    _flushed: float = field(default=-1e9, repr=False)

    def log(self, message: str, level: str = "info") -> None:
        self.lines.append({"time": timezone.now().isoformat(), "level": level, "message": str(message)})
        # The API shows progress while the job runs, but a job logging a line per report (a discovery
        # scan of a /16) must not rewrite its growing log thousands of times: at most once a second.
        now = time.monotonic()
        if now - self._flushed >= self.flush_interval:
            self._flushed = now
            Job.objects.filter(pk=self.job.pk).update(log=self.lines)


def job_enqueue(name: str, *, kwargs: dict[str, Any] | None = None, user: Any = None, schedule: Any = None) -> Job:
    """Record a pending job and hand its id to the task queue once the transaction commits."""
    if name not in _JOBS:
        raise ValueError(f"Unknown job {name!r}.")
    errors = job_kwargs_errors(name, kwargs or {})
    if errors:
        raise ValueError(f"Invalid arguments for {name}: {kwargs_error_text(errors)}")
    from cmdb.users.permissions import sole_tenant

    starter = user if getattr(user, "is_authenticated", False) else None
    record = Job.objects.create(
        name=name, kwargs=kwargs or {}, user=starter, schedule=schedule,
        tenant_id=sole_tenant(starter),  # visible to the starter's fellow tenant admins too
    )
    transaction.on_commit(lambda: _dispatch(record.pk))
    return record


def _dispatch(job_id: int) -> None:
    from .tasks import execute_job

    backend = type(execute_job.get_backend()).__name__
    try:
        result = execute_job.enqueue(job_id)
    except Exception as exc:  # e.g. Redis unreachable: the record says so instead of staying pending forever
        Job.objects.filter(pk=job_id).update(status="failed", backend=backend, finished=timezone.now(),
                                             error=f"Could not queue the job: {type(exc).__name__}: {exc}")
        return
    Job.objects.filter(pk=job_id).update(task_id=str(result.id)[:64], backend=backend)


def job_run(job_id: int, *, worker: str = "") -> str:
    """Execute a pending job in this process; the worker task calls this.  Returns the final status."""
    # Claim it: a job delivered twice (a retried queue message) runs once.
    now = timezone.now()
    if not Job.objects.filter(pk=job_id, status="pending").update(status="running", started=now, worker=worker[:100]):
        return "skipped"
    record = Job.objects.get(pk=job_id)
    ctx = JobContext(record)
    fn = _JOBS.get(record.name)
    status, result, error = "completed", None, ""
    try:
        if fn is None:
            raise LookupError(f"No job named {record.name!r} is registered in this worker.")
        result = fn(ctx, **record.kwargs)
    except Exception as exc:  # a job's failure is data, not a worker crash
        import traceback

        status, error = "failed", traceback.format_exc()
        ctx.lines.append({"time": timezone.now().isoformat(), "level": "error",
                          "message": f"{type(exc).__name__}: {exc}"})
    finished = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=status, result=_jsonable(result), error=error, finished=finished, log=ctx.lines,
        duration=(finished - now) / dt.timedelta(seconds=1),
    )
    return status


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value
