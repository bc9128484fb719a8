"""Retention of job records: old finished jobs go in bulk; running, pending and each schedule's last job stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cmdb.jobs.leases import lease_acquire
from cmdb.jobs.models import Job, Schedule, ScheduleTick
from cmdb.jobs.reaper import jobs_reap
from cmdb.jobs.registry import job_enqueue
from cmdb.jobs.retention import HOUSEKEEPING_LEASE, housekeeping, jobs_purge
from cmdb.jobs.scheduler import SCHEDULER_LEASE
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.models import ReconcileRun

from .conftest import DB_TASKS

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _job(name: str, *, age_days: float, status: str = "completed", schedule: Schedule | None = None) -> Job:
    at = NOW - dt.timedelta(days=age_days)
    job = Job.objects.create(name=name, status=status, schedule=schedule, log=[{"message": "x" * 200}])
    finished = at if status in ("completed", "failed") else None
    Job.objects.filter(pk=job.pk).update(created=at, started=at, finished=finished)
    return job


def _history() -> dict[str, Any]:
    schedule = Schedule.objects.create(name="nightly", job_name="jobs.echo", cron="0 2 * * *")
    jobs = {
        "old_done": _job("jobs.echo", age_days=40),
        "old_failed": _job("jobs.echo", age_days=35, status="failed"),
        "old_running": _job("jobs.echo", age_days=40, status="running"),
        "old_pending": _job("jobs.echo", age_days=40, status="pending"),
        "recent": _job("jobs.echo", age_days=2),
        "sched_older": _job("jobs.echo", age_days=50, schedule=schedule),
        "sched_last": _job("jobs.echo", age_days=45, schedule=schedule),  # the schedule's latest: kept
    }
    tick = ScheduleTick.objects.create(schedule=schedule, tick=NOW - dt.timedelta(days=50), job=jobs["sched_older"])
    run = ReconcileRun.objects.create(reconciler="ansible", scope="all", job=jobs["old_done"])
    return {"schedule": schedule, "jobs": jobs, "tick": tick, "run": run}


def _statements(fn: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries.captured_queries)


def test_purge_deletes_old_finished_jobs_and_keeps_the_rest() -> None:
    h = _history()
    result = jobs_purge(days=30, now=NOW)
    assert result.jobs == 3 and result.ticks == 1
    left = set(Job.objects.values_list("pk", flat=True))
    assert left == {h["jobs"][k].pk for k in ("old_running", "old_pending", "recent", "sched_last")}
    # A reconcile run is its job's reconcile details (the job holds its status): it goes with the job.
    assert not ReconcileRun.objects.filter(pk=h["run"].pk).exists()
    assert not ScheduleTick.objects.exists()
    assert jobs_purge(days=30, now=NOW).jobs == 0  # nothing more to do


def test_purge_is_bulk_sql() -> None:
    """Ten times the old rows, the same statements: nothing is deleted or read row by row."""
    def history(n: int) -> None:
        schedule = Schedule.objects.create(name=f"s{n}", job_name="jobs.echo", cron="0 2 * * *")
        for i in range(n):
            job = _job("jobs.echo", age_days=31 + i)
            ScheduleTick.objects.create(schedule=schedule, tick=NOW - dt.timedelta(days=31 + i), job=job)
            ReconcileRun.objects.create(reconciler="ansible", scope=f"s{n}-{i}", job=job)
        _job("jobs.echo", age_days=40, schedule=schedule)

    history(3)
    few = _statements(lambda: jobs_purge(days=30, now=NOW))
    history(30)
    many = _statements(lambda: jobs_purge(days=30, now=NOW))
    assert many == few
    assert Job.objects.count() == 2 and not ScheduleTick.objects.exists() and not ReconcileRun.objects.exists()


def test_purge_in_batches_and_zero_days_keeps_everything(settings: Any) -> None:
    for i in range(7):
        _job("jobs.echo", age_days=40 + i)
    settings.JOBS_RETENTION_DAYS = 0
    assert jobs_purge(now=NOW).jobs == 0 and Job.objects.count() == 7
    settings.JOBS_RETENTION_DAYS = 30
    assert jobs_purge(now=NOW, batch=3).jobs == 7 and not Job.objects.exists()


def test_housekeeping_runs_on_the_scheduler_at_most_hourly(settings: Any) -> None:
    settings.JOBS_RETENTION_DAYS = 30
    _job("jobs.echo", age_days=40)
    assert lease_acquire(SCHEDULER_LEASE, "other-worker", ttl=60, now=NOW)
    assert housekeeping("this-worker", now=NOW) is None  # not the scheduler: nothing done
    assert Job.objects.count() == 1
    assert lease_acquire(SCHEDULER_LEASE, "this-worker", ttl=60, now=NOW + dt.timedelta(seconds=61))
    done = housekeeping("this-worker", now=NOW + dt.timedelta(seconds=62))
    assert done is not None and done.jobs == 1 and not Job.objects.exists()
    _job("jobs.echo", age_days=40)
    assert housekeeping("this-worker", now=NOW + dt.timedelta(seconds=90)) is None  # within the hour
    assert Job.objects.count() == 1
    from cmdb.jobs.models import Lease

    assert Lease.objects.filter(name=HOUSEKEEPING_LEASE).exists()


@pytest.mark.django_db(transaction=True)
def test_purge_job_through_the_worker(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    _job("jobs.echo", age_days=10)
    with pytest.raises(ValueError, match="days: Give a whole number"):
        job_enqueue("jobs.purge", kwargs={"days": 0})
    record = job_enqueue("jobs.purge", kwargs={"days": 7})
    assert (record.max_attempts, record.retry_delay) == (3, 60)  # its declared policy for lost workers
    run_tasks(holder="test-worker", burst=True, fork=False)
    record.refresh_from_db()
    assert record.status == "completed", record.error
    assert record.result["jobs"] == 1
    assert record.log[0]["message"].startswith("retention 7 day(s): deleted 1 job(s)")


def test_a_job_left_running_by_a_dead_worker_is_reaped_and_then_ages_out() -> None:
    job = _job("jobs.echo", age_days=40, status="running")
    Job.objects.filter(pk=job.pk).update(worker="gone:1", heartbeat=NOW - dt.timedelta(days=40),
                                         lease_expires=NOW - dt.timedelta(days=40) + dt.timedelta(seconds=60))
    assert jobs_purge(days=30, now=NOW).jobs == 0  # running: kept, as long as nobody has reaped it
    assert jobs_reap().failed == (job.pk,)
    assert jobs_purge(days=30, now=timezone.now()).jobs == 0  # finished just now
    assert jobs_purge(days=30, now=timezone.now() + dt.timedelta(days=31)).jobs == 1
    assert not Job.objects.exists()
