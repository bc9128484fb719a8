"""Jobs end to end on both real backends: enqueue, a worker runs them, records tell the story."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.jobs.models import Job
from cmdb.jobs.registry import job_enqueue, registered_jobs
from cmdb.jobs.worker import backend_kind, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_runs_jobs_and_records_them(task_backend: str, make_user: Any) -> None:
    assert backend_kind() == task_backend
    alice = make_user("alice")
    ok = job_enqueue("jobs.echo", kwargs={"message": "hi there"}, user=alice)
    bad = job_enqueue("jobs.echo", kwargs={"message": "boom", "fail": True})
    assert Job.objects.get(pk=ok.pk).task_id  # dispatched to the queue at commit
    assert Job.objects.get(pk=ok.pk).status == "pending"

    run_tasks(holder="test-worker", burst=True, fork=False)

    ok, bad = Job.objects.get(pk=ok.pk), Job.objects.get(pk=bad.pk)
    assert ok.status == "completed"
    assert ok.result == {"message": "hi there"}
    assert [line["message"] for line in ok.log] == ["hi there"]
    assert ok.user == alice
    assert ok.duration is not None and ok.duration >= 0
    assert ok.started <= ok.finished
    assert ok.backend in ("DatabaseBackend", "RQBackend")
    # One job's failure is recorded on it and does not stop the other.
    assert bad.status == "failed"
    assert "asked to fail: boom" in bad.error
    assert bad.log[-1]["level"] == "error"


def test_a_job_delivered_twice_runs_once(task_backend: str) -> None:
    from cmdb.jobs.registry import job_run

    record = job_enqueue("jobs.echo", kwargs={"message": "once"})
    run_tasks(holder="w1", burst=True, fork=False)
    assert job_run(record.pk) == "skipped"
    assert len(Job.objects.get(pk=record.pk).log) == 1


def test_unknown_job_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown job"):
        job_enqueue("no.such.job")
    assert "reconcile.run" in registered_jobs()  # apps' jobs modules are discovered


def test_worker_command_burst_runs_queued_jobs(settings: Any) -> None:
    from django.core.management import call_command

    from tests.jobs.conftest import DB_TASKS

    settings.TASKS = DB_TASKS
    record = job_enqueue("jobs.echo", kwargs={"message": "from the command"})
    call_command("worker", "--burst", verbosity=0)
    assert Job.objects.get(pk=record.pk).status == "completed"


def test_an_unreachable_queue_fails_the_job_record(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}  # nothing listens on port 1
    record = job_enqueue("jobs.echo")
    record.refresh_from_db()
    assert record.status == "failed" and "Could not queue the job" in record.error


def test_log_progress_writes_are_throttled(django_assert_max_num_queries: Any) -> None:
    """A job logging a line per report writes its progress at most once per interval, not per line."""
    from cmdb.jobs.registry import JobContext

    record = Job.objects.create(name="jobs.echo", status="running")  # a context exists only for a running job
    ctx = JobContext(record, flush_interval=3600)
    with django_assert_max_num_queries(1):
        for i in range(200):
            ctx.log(f"line {i}")
    assert [line["message"] for line in Job.objects.get(pk=record.pk).log] == ["line 0"]
    assert len(ctx.lines) == 200  # all kept; job_run writes them when the job ends


def test_sleep_job_holds_a_worker_for_its_seconds(settings: Any) -> None:
    from tests.jobs.conftest import DB_TASKS

    settings.TASKS = DB_TASKS
    record = job_enqueue("jobs.sleep", kwargs={"seconds": 0.2})
    for bad in ({"seconds": -0.1}, {"seconds": 3600.5}, {"seconds": float("inf")}, {"seconds": float("nan")},
                {"seconds": 10**400}, {"seconds": None}, {"x": 1}):
        with pytest.raises(ValueError, match=r"Invalid arguments for jobs\.sleep"):
            job_enqueue("jobs.sleep", kwargs=bad)
    run_tasks(holder="w", burst=True, fork=False)
    record.refresh_from_db()
    assert record.status == "completed" and record.result == {"slept": 0.2}, record.error
    assert [line["message"] for line in record.log] == ["sleeping 0.2 s"]
    assert record.heartbeat is not None and record.lease_expires is None  # claimed with a lease, released at the end
