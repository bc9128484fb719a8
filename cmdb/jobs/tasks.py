"""The one django-tasks task: it carries a job id (and which attempt) from the queue to :func:`job_run`."""

from __future__ import annotations

import os
import socket

from django_tasks import task

from .interrupts import worker_signals_kept
from .registry import job_run


@task()
def execute_job(job_id: int, attempt: int | None = None) -> str:
    # ``attempt`` is None only for messages queued by a version without attempts.
    with worker_signals_kept():  # ansible-runner, for one, replaces the worker's SIGTERM/SIGINT handlers
        return job_run(job_id, attempt=attempt, worker=f"{socket.gethostname()}:{os.getpid()}")
