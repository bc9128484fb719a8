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
