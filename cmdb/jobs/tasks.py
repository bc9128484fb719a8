"""The one django-tasks task: it carries a job id from the queue to :func:`job_run`."""

from __future__ import annotations

import os
import socket

from django_tasks import task

from .registry import job_run


@task()
def execute_job(job_id: int) -> str:
    return job_run(job_id, worker=f"{socket.gethostname()}:{os.getpid()}")
