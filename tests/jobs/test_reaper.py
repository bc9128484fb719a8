"""The reaper on both real queue backends: a job whose lease expired is failed "worker lost" or retried.

A worker that "dies" here is one that did exactly what a real worker does before running the job
— the backend's own claim (django-tasks-db's ``claim``; RQ's execution preparation, which puts the
job into RQ's ``StartedJobRegistry``) and our ``job_claim`` — and then nothing more, so its lease
runs out.  The same with a real process killed by SIGKILL is in ``test_worker_lost.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cmdb.jobs import registry
from cmdb.jobs.heartbeat import JobHeartbeat, job_claim
from cmdb.jobs.models import Job
from cmdb.jobs.reaper import WORKER_LOST, jobs_reap
from cmdb.jobs.registry import JobContext, Retry, job_enqueue, job_run
from cmdb.jobs.worker import run_tasks

from .conftest import DB_TASKS, assert_task_failed_in_backend

pytestmark = pytest.mark.django_db(transaction=True)

DEAD = "deadhost:4242"


def _pick_up_and_die(job_id: int, backend: str, *, log: list[dict[str, Any]] | None = None) -> str:
    """Take the job as a worker would, then stop: the lease is left to expire.  Returns the task id."""
    record = Job.objects.get(pk=job_id)
    assert record.task_id, "dispatched to the queue at commit"
    if backend == "database":
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.get(id=record.task_id).claim("dead-worker")
    else:
        import django_rq
        from django_tasks_rq import Job as RQJob
        from rq import SimpleWorker

        queue = django_rq.get_queue("default", job_class=RQJob)
        worker = SimpleWorker([queue], connection=queue.connection, job_class=RQJob, name=f"dead-{uuid.uuid4().hex}")
        rq_job, _queue = worker.dequeue_job_and_maintain_ttl(None)
        assert rq_job.id == record.task_id
        worker.prepare_execution(rq_job)
        worker.prepare_job_execution(rq_job, remove_from_intermediate_queue=True)
        assert rq_job.id in queue.started_job_registry.get_job_ids(cleanup=False)
    assert job_claim(job_id, attempt=record.attempt, worker=DEAD, ttl=60)
    if log is not None:
        Job.objects.filter(pk=job_id).update(log=log)
    return record.task_id


def _expire(job_id: int) -> None:
    Job.objects.filter(pk=job_id).update(lease_expires=timezone.now() - dt.timedelta(seconds=1))


def test_an_expired_lease_fails_the_job_as_worker_lost(task_backend: str) -> None:
    record = job_enqueue("jobs.echo", kwargs={"message": "never finished"})
    task_id = _pick_up_and_die(record.pk, task_backend, log=[{"time": "t", "level": "info", "message": "half way"}])
    assert jobs_reap().failed == ()  # the lease is still live: nothing to do
    _expire(record.pk)

    result = jobs_reap()

    assert result.failed == (record.pk,) and result.retried == ()
    job = Job.objects.get(pk=record.pk)
    assert job.status == "failed" and job.finished is not None and job.lease_expires is None
    assert job.error.startswith(f"{WORKER_LOST}: {DEAD} stopped renewing the job's lease (last heard of ")
    assert "attempt 1 of 1" in job.error
    assert [line["message"] for line in job.log] == ["half way", job.error]  # the log is kept
    assert job.log[-1]["level"] == "error"
    assert_task_failed_in_backend(task_id, task_backend)
    # Reaped once: nothing left, and no worker runs the lost task again.
    assert not jobs_reap()
    run_tasks(holder="next-worker", burst=True, fork=False)
    assert Job.objects.get(pk=record.pk).status == "failed"


def test_a_retry_policy_queues_attempt_two_which_completes(task_backend: str) -> None:
    record = job_enqueue("jobs.echo", kwargs={"message": "second time lucky"}, retry=Retry(attempts=2))
    assert (record.attempt, record.max_attempts) == (1, 2)
    first_task = _pick_up_and_die(record.pk, task_backend,
                                  log=[{"time": "t", "level": "info", "message": "attempt one was here"}])
    _expire(record.pk)

    assert jobs_reap().retried == (record.pk,)

    job = Job.objects.get(pk=record.pk)
    assert job.status == "pending" and job.attempt == 2 and job.finished is None and not job.error
    assert job.task_id and job.task_id != first_task  # a new message for attempt 2, on the same backend
    assert job.backend == {"database": "DatabaseBackend", "rq": "RQBackend"}[task_backend]
    assert job.log[0]["message"] == "attempt one was here"
    assert job.log[1]["level"] == "warning" and job.log[1]["message"].startswith(f"{WORKER_LOST}: {DEAD}")
    assert job.log[1]["message"].endswith("Retrying: attempt 2.")
    assert_task_failed_in_backend(first_task, task_backend)

    run_tasks(holder="next-worker", burst=True, fork=False)

    job = Job.objects.get(pk=record.pk)
    assert job.status == "completed" and job.attempt == 2, job.error
    assert job.result == {"message": "second time lucky"} and job.worker != DEAD
    assert [line["message"] for line in job.log][-1] == "second time lucky"
    assert job.log[0]["message"] == "attempt one was here"
    # Late or duplicate deliveries of either attempt's message run nothing.
    assert job_run(record.pk, attempt=1) == "skipped"
    assert job_run(record.pk, attempt=2) == "skipped"


def test_exhausted_attempts_fail_the_job(task_backend: str) -> None:
    record = job_enqueue("jobs.echo", retry=Retry(attempts=2))
    _pick_up_and_die(record.pk, task_backend)
    _expire(record.pk)
    assert jobs_reap().retried == (record.pk,)
    second_task = _pick_up_and_die(record.pk, task_backend)  # attempt 2's worker dies too
    _expire(record.pk)

    assert jobs_reap().failed == (record.pk,)

    job = Job.objects.get(pk=record.pk)
    assert job.status == "failed" and job.attempt == 2 and "attempt 2 of 2" in job.error
    assert [line["level"] for line in job.log] == ["warning", "error"]
    assert_task_failed_in_backend(second_task, task_backend)


def test_a_retry_waits_its_delay_in_the_queue(task_backend: str) -> None:
    record = job_enqueue("jobs.echo", retry=Retry(attempts=2, delay=3600))
    _pick_up_and_die(record.pk, task_backend)
    _expire(record.pk)
    assert jobs_reap().retried == (record.pk,)
    job = Job.objects.get(pk=record.pk)
    assert job.log[-1]["message"].endswith("Retrying in 3600 s: attempt 2.")
    # The backend holds the new message back for an hour: an immediate worker finds nothing to run.
    if task_backend == "database":
        from django_tasks_db.models import DBTaskResult

        assert DBTaskResult.objects.get(id=job.task_id).run_after > timezone.now() + dt.timedelta(minutes=59)
    else:
        import django_rq

        assert job.task_id in django_rq.get_queue("default").scheduled_job_registry.get_job_ids()
    run_tasks(holder="next-worker", burst=True, fork=False)
    assert Job.objects.get(pk=record.pk).status == "pending"


@pytest.fixture
def blocking_job(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A job (registered for this test only) that signals it started and then waits to be released."""
    started, release = threading.Event(), threading.Event()

    def block(ctx: JobContext) -> str:
        ctx.log("waiting")
        started.set()
        assert release.wait(60), "never released"
        ctx.log("released")
        return "done"

    monkeypatch.setitem(registry._JOBS, "tests.block", block)
    yield "tests.block", started, release
    release.set()


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _retrying(fn: Callable[[], Any]) -> Any:
    """SQLite's shared in-memory test database refuses a writer while another thread writes ("table is
    locked") instead of waiting; a reaper refused that way tries again on its next tick: so do we."""
    for attempt in range(10):
        try:
            return fn()
        except Exception as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == 9:
                raise
            time.sleep(0.05)
    return None


def test_a_live_heartbeat_is_not_reaped(blocking_job: Any, settings: Any) -> None:
    """While the job runs, its heartbeat keeps moving the lease forward, so the reaper leaves it alone."""
    name, started, release = blocking_job
    settings.JOBS_HEARTBEAT_TTL = 1.5  # a beat every 0.5 s
    record = Job.objects.create(name=name)
    thread, out = _in_thread(lambda: job_run(record.pk, attempt=1, worker="live:1"))
    assert started.wait(30)
    first = Job.objects.get(pk=record.pk)
    assert first.status == "running" and first.heartbeat is not None and first.lease_expires > first.heartbeat
    deadline = time.monotonic() + 30
    while Job.objects.get(pk=record.pk).heartbeat == first.heartbeat and time.monotonic() < deadline:
        time.sleep(0.1)
    renewed = Job.objects.get(pk=record.pk)
    assert renewed.heartbeat > first.heartbeat and renewed.lease_expires > first.lease_expires
    assert not _retrying(jobs_reap)
    release.set()
    thread.join(30)
    job = Job.objects.get(pk=record.pk)
    assert out == ["completed"] and job.status == "completed" and job.result == "done" and job.lease_expires is None


def test_a_renewal_keeps_an_overdue_job_alive() -> None:
    """The reaper compares with the lease, not with the start: one beat after an overdue moment saves it."""
    record = Job.objects.create(name="jobs.echo", status="pending")
    assert job_claim(record.pk, attempt=1, worker="slow:1", ttl=60)
    _expire(record.pk)
    assert JobHeartbeat(record.pk, 1, ttl=60).beat()
    assert not jobs_reap()
    assert Job.objects.get(pk=record.pk).status == "running"


def test_a_reaped_attempt_records_nothing_when_its_worker_comes_back(blocking_job: Any) -> None:
    """A worker that was only stalled past its lease finds its job taken: its log and result do not land."""
    name, started, release = blocking_job
    record = Job.objects.create(name=name)
    thread, out = _in_thread(lambda: job_run(record.pk, attempt=1, worker="stalled:1"))
    assert started.wait(30)
    _expire(record.pk)
    assert _retrying(jobs_reap).failed == (record.pk,)
    release.set()
    thread.join(30)
    job = Job.objects.get(pk=record.pk)
    assert out == ["lost"]
    assert job.status == "failed" and job.error.startswith(WORKER_LOST) and job.result is None
    assert "released" not in [line["message"] for line in job.log]
    assert not JobHeartbeat(record.pk, 1, ttl=60).beat()  # its heartbeat, too, no longer holds the job


def test_reaping_is_bulk_sql() -> None:
    """Ten times the lost jobs, the same statements: no query per job to fail them."""
    def lost(n: int) -> list[int]:
        ids = []
        for i in range(n):
            job = Job.objects.create(name="jobs.echo", status="pending", log=[{"message": f"l{i}"}])
            assert job_claim(job.pk, attempt=1, worker=f"w{i}", ttl=60)
            _expire(job.pk)
            ids.append(job.pk)
        return ids

    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            jobs_reap()
        return len(queries.captured_queries)

    lost(2)
    few = statements()
    ids = lost(20)
    assert statements() == few
    assert set(Job.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"failed"}


def test_retry_policy_is_declared_with_the_job_and_validated(settings: Any) -> None:
    from cmdb.jobs.registry import job, job_retry_policy

    settings.TASKS = DB_TASKS

    @job("tests.retrying", retry=Retry(attempts=3, delay=5))
    def retrying(ctx: JobContext) -> None:
        return None

    try:
        assert job_retry_policy("tests.retrying") == Retry(attempts=3, delay=5)
        record = job_enqueue("tests.retrying")
        assert (record.max_attempts, record.retry_delay) == (3, 5)
        assert job_retry_policy("jobs.echo") == Retry(attempts=1)
    finally:
        registry._JOBS.pop("tests.retrying")
        registry._RETRY.pop("tests.retrying")
    for bad in ({"attempts": 0}, {"attempts": 1.5}, {"delay": -1}, {"delay": float("nan")}, {"delay": 10**400}):
        with pytest.raises(ValueError, match="Retry"):
            Retry(**bad)
