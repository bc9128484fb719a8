"""What the reconcile app listens to: its runs end with their jobs when a worker is lost."""

from __future__ import annotations

from typing import Any

from django.utils import timezone


def runs_of_lost_jobs(sender: Any = None, *, jobs: list[Any], **kwargs: Any) -> None:
    """A reconcile job whose worker died fails its run too, instead of leaving it running: one UPDATE for
    all of them (the run's error is its job's, read in the same statement).

    The run's lease needs nothing: the dead worker stopped renewing it, so it expires by itself."""
    from django.db.models import OuterRef, Subquery

    from cmdb.jobs.models import Job

    from .models import ReconcileRun, RunStatus

    ReconcileRun.objects.filter(job_id__in=[j.pk for j in jobs],
                                status__in=[RunStatus.PENDING, RunStatus.RUNNING]).update(
        status=RunStatus.FAILED, finished=timezone.now(),
        error=Subquery(Job.objects.filter(pk=OuterRef("job_id")).values("error")[:1]))


def connect() -> None:
    from cmdb.jobs.reaper import jobs_lost

    jobs_lost.connect(runs_of_lost_jobs, dispatch_uid="reconcile.runs_of_lost_jobs")
