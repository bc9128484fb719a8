"""What the reconcile app listens to: its runs end with their jobs when a worker is lost."""

from __future__ import annotations

from typing import Any

from django.utils import timezone


def runs_of_lost_jobs(sender: Any = None, *, jobs: list[Any], **kwargs: Any) -> None:
    """A reconcile job whose worker died fails its run too (one UPDATE per job), instead of leaving it running.

    The run's lease needs nothing: the dead worker stopped renewing it, so it expires by itself."""
    from .models import ReconcileRun, RunStatus

    now = timezone.now()
    for job in jobs:
        ReconcileRun.objects.filter(job_id=job.pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]).update(
            status=RunStatus.FAILED, error=job.error, finished=now)


def connect() -> None:
    from cmdb.jobs.reaper import jobs_lost

    jobs_lost.connect(runs_of_lost_jobs, dispatch_uid="reconcile.runs_of_lost_jobs")
