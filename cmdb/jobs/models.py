"""Job records, schedules and leases.

``Job`` is our record of one execution (status, log lines, duration, who or
which schedule started it); the queue itself belongs to the task library
(django-tasks with its database or RQ backend).  A running job holds a lease
(``lease_expires``) that its worker renews with a heartbeat; the reaper
(:mod:`cmdb.jobs.reaper`) fails or retries jobs whose worker stopped renewing.  ``Schedule`` rows are cron
expressions as data.  ``ScheduleTick`` has one row per (schedule, tick) so
that, whatever happens to the scheduler lease, a tick can start at most one
job.  ``Lease`` is a named, expiring lock in the database, shared by the
scheduler and the reconcile framework.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from cmdb.core.models import ChangeLoggedModel
from cmdb.core.scope import ADMIN_ONLY, owned_by


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    #: The job chose not to do its work (:class:`cmdb.jobs.registry.JobSkipped`), e.g. another
    #: reconcile run of the same scope held the lease.
    SKIPPED = "skipped", "Skipped"


#: The statuses of a job that has ended.
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.SKIPPED)


class Schedule(ChangeLoggedModel):
    """Run a registered job whenever a cron expression ticks (in the server's time zone)."""

    name = models.CharField(max_length=100, unique=True)
    job_name = models.CharField(max_length=100, help_text="A registered job, e.g. reconcile.ansible")
    kwargs = models.JSONField(default=dict, blank=True, help_text="Keyword arguments for the job")
    cron = models.CharField(max_length=100, help_text="Cron expression, e.g. */15 * * * *")
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    #: The last tick that started a job; written by the scheduler only (not change-logged).
    last_tick = models.DateTimeField(null=True, blank=True, editable=False)

    #: A schedule runs its job with no user behind it (whatever the job may touch), so only
    #: administrators create, change or even read schedules.
    tenant_scope = ADMIN_ONLY
    search_fields = ("name", "job_name", "description")
    snapshot_exclude = frozenset({"created", "last_updated", "last_tick"})

    class Meta:
        ordering = ("name",)

    def clean(self) -> None:
        super().clean()
        from .registry import job_kwargs_errors, kwargs_error_text, registered_jobs
        from .scheduler import cron_error

        errors: dict[str, str] = {}
        error = cron_error(self.cron)
        if error:
            errors["cron"] = error
        if self.job_name not in registered_jobs():
            errors["job_name"] = f"Unknown job {self.job_name!r}; known: {', '.join(sorted(registered_jobs()))}."
        if not isinstance(self.kwargs, dict):
            errors["kwargs"] = "Job arguments must be a JSON object."
        elif self.job_name in registered_jobs():
            problems = job_kwargs_errors(self.job_name, self.kwargs)
            if problems:
                errors["kwargs"] = kwargs_error_text(problems)
        if errors:
            raise ValidationError(errors)

    @property
    def next_run(self) -> Any:
        from .scheduler import next_tick

        return next_tick(self.cron, timezone.now()) if self.enabled else None


class Job(models.Model):
    """One execution of a registered job function."""

    name = models.CharField(max_length=100, db_index=True)
    kwargs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    schedule = models.ForeignKey(Schedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    #: The tenant of the user who started it, when that user works for exactly one tenant: the
    #: job (arguments, log, result) is then also visible to that tenant's other administrators.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    task_id = models.CharField(max_length=64, blank=True, help_text="Id of the task in the queue backend")
    backend = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds")
    log = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    #: Attempts after lost workers: the retry policy in force when the job was queued (see registry.Retry).
    attempt = models.PositiveIntegerField(default=1, help_text="Which attempt this is (1, or more after a lost worker)")
    max_attempts = models.PositiveIntegerField(default=1, help_text="Attempts allowed when workers are lost")
    retry_delay = models.FloatField(default=0, help_text="Seconds a retried attempt waits in the queue")
    #: Written by the running worker's heartbeat thread, in the database's clock (no skew between machines).
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="When the worker running it was last heard of")
    lease_expires = models.DateTimeField(null=True, blank=True,
                                         help_text="A running job not renewed by then has lost its worker")

    display_field = "name"
    tenant_scope = owned_by("user", tenant="tenant")
    search_fields = ("name",)

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class ScheduleTick(models.Model):
    """The job a schedule started for one tick; the unique pair de-duplicates concurrent schedulers."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="ticks")
    tick = models.DateTimeField()
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    tenant_scope = ADMIN_ONLY

    class Meta:
        ordering = ("-tick",)
        constraints = [models.UniqueConstraint(fields=["schedule", "tick"], name="jobs_scheduletick_unique")]

    def __str__(self) -> str:
        return f"schedule {self.schedule_id} at {self.tick.isoformat()}"


class Lease(models.Model):
    """A named lock that expires: whoever holds it must renew it before ``expires``."""

    name = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=200)
    acquired = models.DateTimeField()
    expires = models.DateTimeField()

    tenant_scope = ADMIN_ONLY

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires:%Y-%m-%d %H:%M:%S}"
