"""Retention: finished job records do not pile up forever.

A schedule every 5 minutes writes 100,000 job rows a year, each with its log lines (a
JSON column on the row), so finished jobs older than ``JOBS_RETENTION_DAYS`` (30; 0
keeps everything) are deleted in bulk, together with the old ``ScheduleTick`` rows and
the database queue's own finished task results.  Kept whatever their age: pending and
running jobs (they are not history yet) and the latest job of every schedule (the
schedule's page keeps showing how its last run went).  A job left running by a dead worker
does not stay forever: the reaper (:mod:`cmdb.jobs.reaper`) fails it once its lease has
expired, and from then on it ages out like the others.

Who runs it: every worker's scheduler loop calls :func:`housekeeping` after its tick;
only the scheduler-lease holder acts, and a second lease makes it run at most once per
``HOUSEKEEPING_INTERVAL`` across all workers.  ``jobs.purge`` (``cmdb job run jobs.purge``
or a schedule) runs it on demand.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from .leases import lease_acquire, lease_holder
from .models import FINISHED, Job, ScheduleTick

HOUSEKEEPING_LEASE = "jobs.housekeeping"
HOUSEKEEPING_INTERVAL = 3600.0
#: Rows per DELETE: bounded transactions and lock times on a large backlog.
BATCH = 2000


@dataclass(frozen=True)
class PurgeResult:
    jobs: int = 0
    ticks: int = 0
    task_results: int = 0

    def line(self) -> str:
        return f"deleted {self.jobs} job(s), {self.ticks} schedule tick(s), {self.task_results} queue result(s)"


def retention_days() -> int:
    return int(getattr(settings, "JOBS_RETENTION_DAYS", 30))


def jobs_purge(*, days: int | None = None, now: dt.datetime | None = None, batch: int = BATCH) -> PurgeResult:
    """Delete finished jobs (and old ticks, old queue results) older than ``days``; returns the counts.

    A fixed number of statements per batch, whatever the number of rows: the ids, then
    Django's delete of those ids (references from other apps are set to NULL, or deleted with the
    job, by a fixed number of statements per referencing table: a reconcile run is its job's
    reconcile details and goes with it)."""
    days = retention_days() if days is None else days
    if days <= 0:
        return PurgeResult()
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    latest = (Job.objects.filter(schedule__isnull=False).order_by().values("schedule_id")
              .annotate(last=Max("pk")).values("last"))
    old = (Job.objects.filter(status__in=FINISHED, finished__lt=cutoff)
           .exclude(pk__in=latest).order_by("pk"))
    jobs = _delete_in_batches(old, batch)
    ticks = _delete_in_batches(ScheduleTick.objects.filter(tick__lt=cutoff).order_by("pk"), batch)
    return PurgeResult(jobs=jobs, ticks=ticks, task_results=_purge_task_results(cutoff, batch))


def _delete_in_batches(queryset: QuerySet[Any], batch: int) -> int:
    """Delete ``queryset``'s rows ``batch`` ids at a time, each batch in its own transaction.

    ``only("pk")``: Django's delete loads the rows it deletes (for signals and references),
    and a job's log or a task's traceback is never needed for that."""
    model = queryset.model
    deleted = 0
    while ids := list(queryset.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            model._default_manager.filter(pk__in=ids).only("pk").delete()
        deleted += len(ids)
    return deleted


def _purge_task_results(cutoff: dt.datetime, batch: int) -> int:
    """The database queue keeps a row per task; finished ones past the cutoff are no longer needed."""
    if not apps.is_installed("django_tasks_db"):
        return 0
    from django_tasks_db.models import DBTaskResult

    return _delete_in_batches(DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).order_by("pk"), batch)


def housekeeping(holder: str, *, now: dt.datetime | None = None) -> PurgeResult | None:
    """Purge when this worker is the scheduler and the last purge is an interval ago; else None."""
    from .scheduler import SCHEDULER_LEASE

    now = now or timezone.now()
    if retention_days() <= 0 or lease_holder(SCHEDULER_LEASE, now) != holder:
        return None
    # A fresh holder name each time: the lease is taken only once the previous one expired.
    if not lease_acquire(HOUSEKEEPING_LEASE, f"{holder}:{uuid.uuid4().hex[:8]}", ttl=HOUSEKEEPING_INTERVAL, now=now):
        return None
    return jobs_purge(now=now)
