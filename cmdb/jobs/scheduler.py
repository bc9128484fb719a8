"""The scheduler: cron expressions from the database turned into jobs.

Any number of workers run :func:`scheduler_tick` every few seconds.  Only the
one holding the ``scheduler`` lease evaluates schedules; should two ever
overlap (a lease that expired mid-tick), the unique ``(schedule, tick)`` row
still lets only one of them start the tick's job.  Only the latest due tick
runs; ticks missed while no scheduler was alive are not replayed.
"""

from __future__ import annotations

import datetime as dt

from croniter import CroniterBadCronError, croniter
from django.db import IntegrityError, transaction
from django.utils import timezone

from .leases import lease_acquire
from .models import Job, Schedule, ScheduleTick
from .registry import job_enqueue

SCHEDULER_LEASE = "jobs.scheduler"


def cron_error(expression: str) -> str | None:
    """A message if ``expression`` is not a valid five-field cron expression."""
    if not isinstance(expression, str) or len(expression.split()) != 5:
        return "Give five fields: minute hour day-of-month month day-of-week."
    try:
        croniter(expression)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        return f"Invalid cron expression: {exc}"
    return None


def _local(now: dt.datetime) -> dt.datetime:
    return timezone.localtime(now)


def next_tick(expression: str, after: dt.datetime) -> dt.datetime:
    return croniter(expression, _local(after)).get_next(dt.datetime)


def due_tick(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The latest tick at or before ``now`` that has not started a job yet."""
    # croniter's get_prev excludes ``now`` itself; a tiny nudge makes an exact tick count.
    tick = croniter(schedule.cron, _local(now) + dt.timedelta(microseconds=1)).get_prev(dt.datetime)
    since = schedule.last_tick or schedule.created
    if since is not None and tick <= since:
        return None
    return tick


def scheduler_tick(*, holder: str, now: dt.datetime | None = None, ttl: float = 60,
                   use_lease: bool = True) -> list[Job]:
    """Start the jobs of all due schedules; returns them (empty if another scheduler holds the lease)."""
    now = now or timezone.now()
    if use_lease and not lease_acquire(SCHEDULER_LEASE, holder, ttl=ttl, now=now):
        return []
    started: list[Job] = []
    for schedule in Schedule.objects.filter(enabled=True):
        tick = due_tick(schedule, now)
        if tick is None:
            continue
        try:
            with transaction.atomic():
                row = ScheduleTick.objects.create(schedule=schedule, tick=tick)
                record = job_enqueue(schedule.job_name, kwargs=schedule.kwargs, schedule=schedule)
                ScheduleTick.objects.filter(pk=row.pk).update(job=record)
                Schedule.objects.filter(pk=schedule.pk).update(last_tick=tick)
        except IntegrityError:
            continue  # another scheduler took this tick
        started.append(record)
    return started
