"""The lease of a running job: claimed with the job, renewed by a heartbeat thread.

A worker that takes a job (:func:`job_claim`) writes ``heartbeat`` and
``lease_expires`` in the same ``UPDATE`` that marks it running, so a running job
never lacks a lease.  While the job function runs, :class:`JobHeartbeat` renews the
lease every ``ttl / 3`` seconds from a thread with its own database connection: two
missed beats are tolerated, the third lets the lease run out and the reaper
(:mod:`cmdb.jobs.reaper`) declares the worker lost.  Every timestamp comes from the
database's clock, so workers and the reaper on different machines never compare
skewed clocks.

The pair (``status = running``, ``attempt``) fences the worker: once the reaper has
failed or re-queued a job, the old worker's renewals, log writes and final result
match no row, so a worker that was only stalled — not dead — cannot overwrite what
happened since.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from types import TracebackType
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import DateTimeField, ExpressionWrapper, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from .models import Job, JobStatus

logger = logging.getLogger(__name__)

#: A lease shorter than this would need beats faster than a busy database can take.
MIN_TTL = 1.0


def heartbeat_ttl() -> float:
    """Seconds a running job's lease lasts without a heartbeat (setting ``JOBS_HEARTBEAT_TTL``)."""
    return max(float(getattr(settings, "JOBS_HEARTBEAT_TTL", 60)), MIN_TTL)


def lease_fields(ttl: float) -> dict[str, Any]:
    """``heartbeat`` = now and ``lease_expires`` = now + ttl, both in the database's clock."""
    return {
        "heartbeat": Now(),
        "lease_expires": ExpressionWrapper(Now() + dt.timedelta(seconds=ttl), output_field=DateTimeField()),
    }


def held(job_id: int, attempt: int) -> QuerySet[Job]:
    """The job's row as long as this attempt still holds it (not reaped, not finished)."""
    return Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempt=attempt)


def job_claim(job_id: int, *, attempt: int | None, worker: str, ttl: float) -> bool:
    """Mark a pending job running with a fresh lease; False if it is not pending (any more).

    ``attempt`` is the attempt the queue message was sent for: a message delivered twice, or
    the late message of an attempt that has since been retried, claims nothing.  ``None``
    (a message queued before attempts existed) claims whatever attempt is pending."""
    pending = Job.objects.filter(pk=job_id, status=JobStatus.PENDING)
    if attempt is not None:
        pending = pending.filter(attempt=attempt)
    return bool(pending.update(status=JobStatus.RUNNING, started=timezone.now(), worker=worker[:100],
                               **lease_fields(ttl)))


class JobHeartbeat:
    """Renew a running job's lease every ``ttl / 3`` seconds while the ``with`` block runs.

    ``lost`` is set when a renewal finds the job no longer held by this attempt (the reaper
    took it after the worker stalled longer than the lease): the job function keeps running
    (a thread cannot be stopped safely) but nothing it writes through the job record lands."""

    def __init__(self, job_id: int, attempt: int, ttl: float) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.ttl = ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def beat(self) -> bool:
        """Renew once; False if this attempt no longer holds the job."""
        return bool(held(self.job_id, self.attempt).update(**lease_fields(self.ttl)))

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.ttl / 3):
                try:
                    if not self.beat():
                        self.lost.set()
                        logger.error("job %s attempt %s: lease lost (the job was reaped as worker lost); "
                                     "its result will not be recorded", self.job_id, self.attempt)
                        return
                except Exception:  # a database hiccup: the next beat may still be in time
                    logger.warning("job %s: heartbeat failed; retrying", self.job_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
