"""The reaper: running jobs whose worker stopped renewing the lease are failed or retried.

A worker killed mid-job (SIGKILL, OOM killer, a machine gone) leaves its job
``running`` with a lease (:mod:`cmdb.jobs.heartbeat`) that nobody renews.  Once the
lease has expired, :func:`jobs_reap`:

1. locks the expired running jobs in one query (``SELECT … FOR UPDATE SKIP LOCKED``:
   two reapers never handle the same job, and a heartbeat that arrives meanwhile
   waits and then finds the job no longer held);
2. decides per job from the retry policy stored on it when it was queued: another
   attempt (``pending``, ``attempt + 1``, the log kept with a line saying why), or
   ``failed`` with "Worker lost: <worker> … last heard of <time>" and ``finished``;
3. writes all of them in one bulk ``UPDATE``, and marks the database queue's task rows
   of the dead workers failed in one more (they would otherwise stay ``RUNNING``
   forever and never age out);
4. after the commit, queues each retried attempt on the backend its job came from
   (after the policy's delay), and tells RQ that the lost executions are dead
   (their ``StartedJobRegistry`` entries expire now and RQ's own cleanup moves them to
   the ``FailedJobRegistry`` as ``AbandonedJobError``, as its worker maintenance would
   a few minutes later).  Neither backend runs a lost task again by itself: we never
   set RQ's own retries, and the database queue only runs ``READY`` rows.

Who runs it: the worker holding the scheduler lease, every scheduler tick
(:func:`reap_if_scheduler`), and every ``cmdb worker --burst`` before it runs the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models.functions import Now
from django.dispatch import Signal
from django.utils import timezone

from .leases import lease_holder
from .models import Job, JobStatus
from .registry import job_dispatch

logger = logging.getLogger(__name__)

#: How a lost worker's job error starts (metrics count failures by it).
WORKER_LOST = "Worker lost"

#: Sent inside the reaper's transaction with ``jobs`` (the jobs just failed as worker lost; each has its
#: ``error``), so records that follow a job's state (a reconcile run) end with it instead of staying running.
jobs_lost = Signal()


class WorkerLost(Exception):
    """Named as the exception of a queue backend's task whose worker was lost."""


@dataclass(frozen=True)
class ReapResult:
    failed: tuple[int, ...] = ()
    retried: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.failed or self.retried)

    def line(self) -> str:
        return f"{len(self.failed)} job(s) failed as worker lost, {len(self.retried)} queued for another attempt"


def lost_message(job: Job) -> str:
    """Why the job was taken from its worker: who ran it and when it was last heard of."""
    heard = timezone.localtime(job.heartbeat).isoformat(timespec="seconds") if job.heartbeat else "never"
    expired = timezone.localtime(job.lease_expires).isoformat(timespec="seconds") if job.lease_expires else "?"
    return (f"{WORKER_LOST}: {job.worker or 'its worker'} stopped renewing the job's lease (last heard of {heard}, "
            f"lease expired {expired}); attempt {job.attempt} of {job.max_attempts}.")


def jobs_reap() -> ReapResult:
    """Fail or re-queue every running job whose lease has expired; returns their ids."""
    now = timezone.now()
    lost_tasks: dict[str, list[str]] = {}
    failed: list[Job] = []
    retried: list[Job] = []
    notes: list[str] = []
    with transaction.atomic():
        expired = list(Job.objects.select_for_update(skip_locked=True)
                       .filter(status=JobStatus.RUNNING, lease_expires__lt=Now()).order_by("pk"))
        if not expired:
            return ReapResult()
        for job in expired:
            message = lost_message(job)
            if job.task_id:
                lost_tasks.setdefault(job.backend, []).append(job.task_id)
            job.lease_expires = None
            if job.attempt < job.max_attempts:
                job.attempt += 1
                job.status = JobStatus.PENDING
                job.task_id = ""  # the new attempt's task id is written when it is queued
                wait = f" in {job.retry_delay:g} s" if job.retry_delay else ""
                job.log = [*job.log, _line("warning", f"{message} Retrying{wait}: attempt {job.attempt}.")]
                retried.append(job)
                notes.append(f"job {job.pk} ({job.name}): {message} Queued again{wait} as attempt {job.attempt}.")
            else:
                job.status = JobStatus.FAILED
                job.finished = now
                job.duration = (now - job.started) / dt.timedelta(seconds=1) if job.started else None
                job.error = message
                job.log = [*job.log, _line("error", message)]
                failed.append(job)
                notes.append(f"job {job.pk} ({job.name}): {message} Failed.")
        Job.objects.bulk_update(expired, ["status", "attempt", "task_id", "lease_expires", "finished", "duration",
                                          "error", "log"])
        _fail_database_tasks(lost_tasks.get("DatabaseBackend", []), now)
        if failed:
            jobs_lost.send(sender=Job, jobs=failed)
        transaction.on_commit(lambda: _requeue(retried, now))
    _settle_rq_tasks(lost_tasks.get("RQBackend", []))
    for note in notes:
        logger.warning("%s", note)
    return ReapResult(failed=tuple(j.pk for j in failed), retried=tuple(j.pk for j in retried))


def reap_if_scheduler(holder: str) -> ReapResult | None:
    """Reap when this worker holds the scheduler lease (one reaper polling, not every worker); else None."""
    from .scheduler import SCHEDULER_LEASE

    if lease_holder(SCHEDULER_LEASE) != holder:
        return None
    return jobs_reap()


def _line(level: str, message: str) -> dict[str, Any]:
    return {"time": timezone.now().isoformat(), "level": level, "message": message}


def _requeue(jobs: list[Job], now: dt.datetime) -> None:
    for job in jobs:
        run_after = now + dt.timedelta(seconds=job.retry_delay) if job.retry_delay else None
        job_dispatch(job.pk, attempt=job.attempt, backend=job.backend, run_after=run_after)


def _fail_database_tasks(task_ids: list[str], now: dt.datetime) -> None:
    """The database queue's rows of lost tasks: ``FAILED`` like a task that raised (one UPDATE)."""
    if not task_ids or not apps.is_installed("django_tasks_db"):
        return
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    ids = [_uuid(value) for value in task_ids]
    DBTaskResult.objects.filter(id__in=[i for i in ids if i], status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED, finished_at=now, return_value=None,
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback=f"{WorkerLost.__qualname__}: the worker stopped renewing the job's lease (see the cmdb job record)",
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _settle_rq_tasks(task_ids: list[str]) -> None:
    """Expire the lost executions in RQ's ``StartedJobRegistry`` and let RQ's cleanup fail them.

    Best effort: should Redis be unreachable now, RQ's worker maintenance does the same once the
    dead work horse's own heartbeat has expired."""
    if not task_ids:
        return
    try:
        import django_rq
        from django_tasks_rq import Job as RQJob
        from rq.registry import StartedJobRegistry
        from rq.timeouts import TimerDeathPenalty
        from rq.utils import as_text, parse_composite_key

        from .tasks import execute_job

        queue = django_rq.get_queue(execute_job.queue_name, job_class=RQJob)
        # The timer penalty works outside the main thread (the scheduler loop runs the reaper in a thread).
        registry = StartedJobRegistry(queue=queue, job_class=RQJob, death_penalty_class=TimerDeathPenalty)
        lost = set(task_ids)
        entries = {entry: 0 for entry in queue.connection.zrange(registry.key, 0, -1)
                   if parse_composite_key(as_text(entry))[0] in lost}
        if entries:
            queue.connection.zadd(registry.key, entries, xx=True)
        registry.cleanup()
    except Exception:
        logger.warning("could not mark %d lost RQ job(s) failed; RQ's own maintenance will", len(task_ids),
                       exc_info=True)
