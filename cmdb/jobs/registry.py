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
carries the job id (and the attempt) to a worker (:mod:`cmdb.jobs.tasks`).

A job whose worker dies is failed with "worker lost" (:mod:`cmdb.jobs.reaper`),
unless it declares that it may run again::

    @job("discovery.network", retry=Retry(attempts=3, delay=60))

A job ends ``completed`` when its function returns, ``failed`` when it raises.  To end
``failed`` with a message instead of a traceback, raise :class:`JobFailed`; to end
``skipped`` (the work is already in hand elsewhere, e.g. another run holds the lease),
raise :class:`JobSkipped`.  Both may carry the job's ``result``.

A job may also run in the foreground (a command for cron or an operator): record it with
:func:`job_create` and run it here with :func:`job_run`, which then writes status, timings,
worker and error exactly as a queue worker would, so every run has the same record.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from .heartbeat import JobHeartbeat, heartbeat_ttl, held, job_claim
from .models import Job, JobStatus

logger = logging.getLogger(__name__)

JobFunction = Callable[..., Any]
#: ``validate(kwargs)`` → ``{argument: message}``, empty when the arguments are acceptable.
KwargsValidator = Callable[[dict[str, Any]], dict[str, str]]
_JOBS: dict[str, JobFunction] = {}
_VALIDATORS: dict[str, KwargsValidator] = {}


@dataclass(frozen=True)
class Retry:
    """What happens when the worker running a job is lost (killed, its machine gone, its lease expired).

    ``attempts`` counts all runs, the first included: ``Retry(attempts=3)`` runs the job at most
    twice more after lost workers, each time ``delay`` seconds after the loss was noticed.  Only
    lost workers are retried: an exception raised by the job is its result (and would most likely
    be raised again).  Declare it only for jobs that may safely run again after a partial run."""

    attempts: int = 1
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or not 1 <= self.attempts <= 100:
            raise ValueError("Retry attempts must be a whole number from 1 to 100.")
        if isinstance(self.delay, bool) or not isinstance(self.delay, int | float) or not 0 <= self.delay <= 86400:
            raise ValueError("Retry delay must be 0 to 86400 seconds.")


class JobEnded(Exception):
    """Base of the ways a job function ends other than returning; ``result`` is stored as the job's result."""

    status = "failed"

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


class JobFailed(JobEnded):
    """The job failed for a reason it can state: the job's error is ``message``, not a traceback."""

    status = "failed"


class JobSkipped(JobEnded):
    """The job chose not to do its work (another run holds the lease, say): it ends ``skipped``."""

    status = "skipped"


NO_RETRY = Retry()
_RETRY: dict[str, Retry] = {}


def job(name: str, *, validate: KwargsValidator | None = None,
        retry: Retry | None = None) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn(ctx, **kwargs)`` under ``name`` (unique across apps).

    ``validate`` checks arguments before they are stored (a schedule, an enqueued job), so a
    schedule with bad arguments — or with a secret that must not sit in the database — is refused
    when it is saved rather than failing at 3 a.m.  ``retry`` is the job's :class:`Retry` policy
    for lost workers (default: none, the job fails with "worker lost")."""

    def register(fn: JobFunction) -> JobFunction:
        existing = _JOBS.get(name)
        if existing is not None and existing.__qualname__ != fn.__qualname__:
            raise ValueError(f"Job name {name!r} is already taken by {existing.__module__}.{existing.__qualname__}")
        _JOBS[name] = fn
        if validate is not None:
            _VALIDATORS[name] = validate
        if retry is not None:
            _RETRY[name] = retry
        return fn

    return register


def registered_jobs() -> dict[str, JobFunction]:
    return dict(_JOBS)


def job_retry_policy(name: str) -> Retry:
    return _RETRY.get(name, NO_RETRY)


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
    #: Called with (message, level) for every line as well: a foreground run echoes its log.
    echo: Callable[[str, str], None] | None = None
    #: ``progress(step)`` as the job moves on (the CLI draws its progress bar from it); a no-op in workers.
    progress: Callable[[str], None] = field(default=lambda step: None)
    #: Seconds between progress writes of the log (the job's end always writes it all).
    flush_interval: float = 1.0
    _flushed: float = field(default=-1e9, repr=False)

    def log(self, message: str, level: str = "info") -> None:
        self.lines.append({"time": timezone.now().isoformat(), "level": level, "message": str(message)})
        if self.echo is not None:
            self.echo(str(message), level)
        # The API shows progress while the job runs, but a job logging a line per report (a discovery
        # scan of a /16) must not rewrite its growing log thousands of times: at most once a second.
        now = time.monotonic()
        if now - self._flushed >= self.flush_interval:
            self._flushed = now
            # Only while this attempt holds the job: a reaped attempt must not overwrite the log.
            held(self.job.pk, self.job.attempt).update(log=self.lines)


def job_enqueue(name: str, *, kwargs: dict[str, Any] | None = None, user: Any = None, schedule: Any = None,
                retry: Retry | None = None) -> Job:
    """Record a pending job and hand its id to the task queue once the transaction commits.

    ``retry`` overrides the job's declared policy for this run (e.g. a run that must not repeat)."""
    record = job_create(name, kwargs=kwargs, user=user, schedule=schedule, retry=retry)
    transaction.on_commit(lambda: job_dispatch(record.pk))
    return record


def job_create(name: str, *, kwargs: dict[str, Any] | None = None, user: Any = None, schedule: Any = None,
               retry: Retry | None = None, validate: bool = True) -> Job:
    """Record a pending job without queueing it: :func:`job_enqueue` queues it, a foreground command
    runs it with :func:`job_run`.  ``validate=False`` only for arguments checked already (or filled in
    just after, such as the id of the record the job is for)."""
    if name not in _JOBS:
        raise ValueError(f"Unknown job {name!r}.")
    errors = job_kwargs_errors(name, kwargs or {}) if validate else {}
    if errors:
        raise ValueError(f"Invalid arguments for {name}: {kwargs_error_text(errors)}")
    from cmdb.users.permissions import sole_tenant

    policy = retry or job_retry_policy(name)
    starter = user if getattr(user, "is_authenticated", False) else None
    return Job.objects.create(
        name=name, kwargs=kwargs or {}, user=starter, schedule=schedule,
        tenant_id=sole_tenant(starter),  # visible to the starter's fellow tenant admins too
        max_attempts=policy.attempts, retry_delay=policy.delay,
    )


def job_dispatch(job_id: int, *, attempt: int = 1, backend: str = "", run_after: dt.datetime | None = None) -> None:
    """Queue attempt ``attempt`` of a pending job (after ``run_after``, if given).

    ``backend`` names the class of the backend a retried job came from (``Job.backend``); the
    retry goes to the configured backend of that class, so a job queued on RQ is retried on RQ."""
    from .tasks import execute_job

    task = execute_job
    alias = _backend_alias(backend)
    if alias:
        task = task.using(backend=alias)
    if run_after is not None:
        task = task.using(run_after=run_after)
    kind = type(task.get_backend()).__name__
    try:
        result = task.enqueue(job_id, attempt)
    except Exception as exc:  # e.g. Redis unreachable: the record says so instead of staying pending forever
        Job.objects.filter(pk=job_id, status=JobStatus.PENDING, attempt=attempt).update(
            status=JobStatus.FAILED, backend=kind, finished=timezone.now(),
            error=f"Could not queue the job: {type(exc).__name__}: {exc}")
        return
    Job.objects.filter(pk=job_id, attempt=attempt).update(task_id=str(result.id)[:64], backend=kind)


def _backend_alias(class_name: str) -> str | None:
    """The alias of a configured task backend of class ``class_name`` (None: use the default)."""
    if not class_name:
        return None
    from django.conf import settings
    from django_tasks import task_backends

    for alias in getattr(settings, "TASKS", {}):
        if type(task_backends[alias]).__name__ == class_name:
            return str(alias)
    return None


def job_run(job_id: int, *, attempt: int | None = None, worker: str = "",
            echo: Callable[[str, str], None] | None = None, progress: Callable[[str], None] | None = None) -> str:
    """Execute a pending job in this process; the worker task calls this, and so do foreground
    commands (``echo`` and ``progress``: see :class:`JobContext`).  Returns the final status.

    ``skipped``: the job was not pending with this attempt (a message delivered twice runs once),
    or the job itself ended :class:`JobSkipped`;
    ``lost``: the job ran, but its lease was taken meanwhile (see :mod:`cmdb.jobs.heartbeat`)."""
    ttl = heartbeat_ttl()
    if not job_claim(job_id, attempt=attempt, worker=worker, ttl=ttl):
        return "skipped"
    record = Job.objects.get(pk=job_id)
    started = record.started
    ctx = JobContext(record, lines=list(record.log or []), echo=echo)  # a retried attempt continues the log
    if progress is not None:
        ctx.progress = progress
    if record.attempt > 1:
        ctx.log(f"attempt {record.attempt} of {record.max_attempts} on {worker or 'this worker'}")
    fn = _JOBS.get(record.name)
    status, result, error = "completed", None, ""
    with JobHeartbeat(job_id, record.attempt, ttl):
        try:
            if fn is None:
                raise LookupError(f"No job named {record.name!r} is registered in this worker.")
            result = fn(ctx, **record.kwargs)
        except JobEnded as exc:
            status, result, error = exc.status, exc.result, exc.message
            reason = exc.message.strip().splitlines()[-1] if exc.message.strip() else ""  # a traceback's last line
            ctx.lines.append({"time": timezone.now().isoformat(), "level": "error" if status == "failed" else "info",
                              "message": f"{status}: {reason}"})
        except Exception as exc:  # a job's failure is data, not a worker crash
            import traceback

            status, error = "failed", traceback.format_exc()
            ctx.lines.append({"time": timezone.now().isoformat(), "level": "error",
                              "message": f"{type(exc).__name__}: {exc}"})
    finished = timezone.now()
    written = held(job_id, record.attempt).update(
        status=status, result=_jsonable(result), error=error, finished=finished, log=ctx.lines,
        duration=(finished - started) / dt.timedelta(seconds=1), lease_expires=None,
    )
    if not written:
        logger.error("job %s attempt %s ended %s after it was reaped as worker lost; the outcome is not recorded",
                     job_id, record.attempt, status)
        return "lost"
    return status


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value
