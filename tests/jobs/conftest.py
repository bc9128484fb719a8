"""Fixtures for running jobs on each real backend: the embedded database queue and RQ on Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.fixture(params=["database", "rq"])
def task_backend(request: Any) -> Iterator[str]:
    """Run the test once with each queue backend (RQ needs REDIS_URL; CI sets it)."""
    if request.param == "database":
        with override_settings(TASKS=DB_TASKS):
            yield "database"
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("RQ backend needs REDIS_URL (a running Redis)")
    with override_settings(TASKS=RQ_TASKS, RQ_QUEUES={"default": {"URL": url}}):
        import django_rq

        queue = django_rq.get_queue("default")
        queue.empty()
        yield "rq"
        queue.empty()


def assert_task_failed_in_backend(task_id: str, backend: str) -> None:
    """A lost worker's task is failed in the backend's own books: not left running, not run again."""
    if backend == "database":
        from django_tasks_db.models import DBTaskResult

        task = DBTaskResult.objects.get(id=task_id)
        assert task.status == "FAILED" and task.exception_class_path == "cmdb.jobs.reaper.WorkerLost"
        assert task.finished_at is not None
    else:
        import django_rq
        from django_tasks_rq import Job as RQJob
        from rq.job import JobStatus

        queue = django_rq.get_queue("default", job_class=RQJob)
        assert task_id not in queue.started_job_registry.get_job_ids(cleanup=False)
        assert task_id in queue.failed_job_registry.get_job_ids()
        assert RQJob.fetch(task_id, connection=queue.connection).get_status() == JobStatus.FAILED
