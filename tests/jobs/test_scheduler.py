"""Schedules as data: exactly one job per tick, however many schedulers run; leases expire."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from cmdb.jobs.leases import lease_acquire, lease_holder
from cmdb.jobs.models import Job, Schedule, ScheduleTick
from cmdb.jobs.scheduler import SCHEDULER_LEASE, cron_error, due_tick, scheduler_tick
from cmdb.jobs.worker import run_tasks

from .conftest import DB_TASKS

pytestmark = pytest.mark.django_db(transaction=True)


def _schedule(cron: str = "*/5 * * * *", **extra: Any) -> Schedule:
    s = Schedule(name=extra.pop("name", "echo"), job_name="jobs.echo", cron=cron,
                 kwargs={"message": "tick"}, **extra)
    s.validated_save()
    # Created in the past so the first tick after "now" is due.
    Schedule.objects.filter(pk=s.pk).update(created=timezone.now() - dt.timedelta(days=1))
    return Schedule.objects.get(pk=s.pk)


def _concurrently(n: int, fn: Any) -> list[Any]:
    """Run ``fn(i)`` in ``n`` threads (own database connections) released at the same instant.

    SQLite's shared in-memory test database may refuse a concurrent writer with "table is
    locked" instead of waiting; a scheduler whose tick fails that way ticks again on its next
    loop (the worker loop logs and retries), which is what happens here: the same call again,
    up to five times.  (Once, both threads were refused on a loaded machine and neither ticked.)
    """
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            for attempt in range(5):
                try:
                    results[i] = fn(i)
                    return
                except OperationalError as exc:
                    if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == 4:
                        raise
                    time.sleep(0.05 * (attempt + 1 + i))  # the next loop of that worker
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_cron_validation() -> None:
    assert cron_error("*/5 * * * *") is None
    assert cron_error("61 * * * *")
    assert cron_error("* * *")
    s = Schedule(name="x", job_name="nope", cron="bad")
    with pytest.raises(Exception) as exc:
        s.validated_save()
    assert {"cron", "job_name"} <= set(exc.value.message_dict)


def test_two_schedulers_start_exactly_one_job_per_tick(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    schedule = _schedule()
    # One minute past a five-minute tick, so "+30 s" stays within the same tick.
    floor = timezone.now().replace(second=0, microsecond=0)
    now = floor - dt.timedelta(minutes=floor.minute % 5) + dt.timedelta(minutes=1)
    started = _concurrently(2, lambda i: scheduler_tick(holder=f"worker-{i}", now=now))
    assert sorted(len(s) for s in started) == [0, 1]
    assert ScheduleTick.objects.filter(schedule=schedule).count() == 1
    assert Job.objects.filter(schedule=schedule).count() == 1
    # Same tick again: nothing new.  The next tick (5 minutes on): exactly one more.
    assert scheduler_tick(holder="worker-0", now=now + dt.timedelta(seconds=30)) == []
    later = now + dt.timedelta(minutes=5)
    _concurrently(2, lambda i: scheduler_tick(holder=f"worker-{i}", now=later, ttl=600))
    assert Job.objects.filter(schedule=schedule).count() == 2
    run_tasks(holder="w", burst=True)
    assert set(Job.objects.filter(schedule=schedule).values_list("status", flat=True)) == {"completed"}


def test_ticks_are_deduplicated_even_without_the_lease(settings: Any) -> None:
    """If two schedulers ever overlap (lease expired mid-tick), the (schedule, tick) row still wins."""
    settings.TASKS = DB_TASKS
    schedule = _schedule(cron="* * * * *")
    now = timezone.now()
    _concurrently(3, lambda i: scheduler_tick(holder=f"w{i}", now=now, use_lease=False))
    assert Job.objects.filter(schedule=schedule).count() == 1


def test_disabled_and_not_yet_due_schedules_do_not_run(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    _schedule(name="off", enabled=False)
    fresh = Schedule(name="fresh", job_name="jobs.echo", cron="0 3 * * *")
    fresh.validated_save()
    assert due_tick(fresh, timezone.now()) is None  # created after the last 03:00
    assert scheduler_tick(holder="w", now=timezone.now()) == []


def test_a_killed_schedulers_lease_expires_and_the_next_tick_proceeds(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    schedule = _schedule(cron="* * * * *")
    # Worker A takes the lease for 1 s and dies without releasing it.
    assert lease_acquire(SCHEDULER_LEASE, "worker-a", ttl=1)
    assert scheduler_tick(holder="worker-b", ttl=1) == []
    assert lease_holder(SCHEDULER_LEASE) == "worker-a"
    time.sleep(1.2)
    started = scheduler_tick(holder="worker-b", ttl=30)
    assert len(started) == 1 and started[0].schedule_id == schedule.pk
    assert lease_holder(SCHEDULER_LEASE) == "worker-b"


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").split(":")[0] not in ("postgres", "postgresql"),
                    reason="a second process shares the test database only on PostgreSQL (SQLite tests run in memory)")
def test_a_killed_worker_process_loses_the_lease(settings: Any) -> None:
    """A real ``cmdb worker --scheduler-only`` process takes the lease, is killed with SIGKILL, and
    another scheduler takes over once the lease (three intervals) has run out."""
    settings.TASKS = DB_TASKS
    schedule = _schedule(cron="* * * * *")
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CMDB_TASK_BACKEND": "database"}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "cmdb"), "worker", "--scheduler-only",
                               "--interval", "1", "--verbosity", "0"], env=env)
    try:
        deadline = time.monotonic() + 60
        while lease_holder(SCHEDULER_LEASE) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        holder = lease_holder(SCHEDULER_LEASE)
        assert holder is not None and holder != "survivor"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    # The dead worker's lease is still live for up to 3 s: this scheduler must wait.
    assert Job.objects.filter(schedule=schedule).count() <= 1  # the dead worker may have started this minute's
    started_before = Job.objects.filter(schedule=schedule).count()
    if lease_holder(SCHEDULER_LEASE) == holder:
        assert scheduler_tick(holder="survivor", ttl=30) == []
    time.sleep(3.2)
    later = timezone.now() + dt.timedelta(minutes=1)  # the next tick
    started = scheduler_tick(holder="survivor", now=later, ttl=30)
    assert lease_holder(SCHEDULER_LEASE, now=later) == "survivor"
    assert len(started) == 1 and Job.objects.filter(schedule=schedule).count() == started_before + 1
