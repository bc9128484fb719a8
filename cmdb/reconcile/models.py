"""Reconcile plans, runs and per-CI drift.

A :class:`Plan` is the unit of work: the items (operation, target, diff) a reconciler found for a
scope, written once with a fingerprint of the desired state and observation they came from.
Applying a plan executes exactly its items and fills in only their outcome columns; a plan whose
fingerprint no longer matches a fresh plan is refused ("re-plan").  A :class:`ReconcileRun` makes
a plan (dry run) or makes and applies one, or applies a stored one.  :class:`CIDrift` keeps the
latest verdict per (reconciler, CI) so a CI page can show drift without reading run history.

A run has one record shape with every other job: its :class:`~cmdb.jobs.models.Job` (one to one,
always present, queued or run in the foreground) is the only holder of status, timings, worker and
error; the run keeps what is reconcile-specific (scope, options, plan, counts, per-target summary).
A run goes when its job is purged (``JOBS_RETENTION_DAYS``); its plan and the drift verdicts stay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models, transaction

from cmdb.core.scope import owned_by


class ActionResult(models.TextChoices):
    PLANNED = "planned", "Planned"
    OK = "ok", "Applied"
    FAILED = "failed", "Failed"
    UNREACHABLE = "unreachable", "Unreachable"
    SKIPPED = "skipped", "Skipped"


class DriftStatus(models.TextChoices):
    IN_SYNC = "in_sync", "In sync"
    DRIFTED = "drifted", "Drifted"
    FAILED = "failed", "Failed"
    UNREACHABLE = "unreachable", "Unreachable"


class Plan(models.Model):
    """What a reconciler would change for a scope, frozen: apply executes exactly these items."""

    reconciler = models.CharField(max_length=50, db_index=True)
    scope = models.CharField(max_length=200, default="all")
    options = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of desired state and observation")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    targets = models.PositiveIntegerField(default=0, help_text="Hosts or objects in scope")

    display_field = "reconciler"
    tenant_scope = owned_by("created_by", tenant="tenant")
    search_fields = ("reconciler", "scope")

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return f"plan #{self.pk} of {self.reconciler} ({self.scope})"


class ReconcileRun(models.Model):
    """One reconcile run: the reconcile details of its job (status, timings, worker and error are the job's)."""

    #: The job name every run is recorded under.
    JOB_NAME = "reconcile.run"

    reconciler = models.CharField(max_length=50, db_index=True)
    scope = models.CharField(max_length=200, default="all")
    dry_run = models.BooleanField(default=True)
    options = models.JSONField(default=dict, blank=True, help_text="Values of the reconciler's declared options")
    plan = models.ForeignKey(Plan, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs",
                             help_text="The plan this run made, or the stored plan it applied")
    #: Set when the run was asked to apply a stored plan (rather than to plan afresh).
    applies_plan = models.BooleanField(default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="reconcile_run",
                               help_text="The job record: status, timings, worker and error of this run")
    schedule = models.ForeignKey("jobs.Schedule", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    #: As for jobs: the starting user's tenant when they work for exactly one, so that tenant's
    #: other administrators see the run too.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    targets = models.PositiveIntegerField(default=0, help_text="Hosts or objects in scope")
    drift_count = models.PositiveIntegerField(default=0, help_text="Plan items (changes needed) found")
    applied_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0, help_text="Failed or unreachable targets")
    remaining_drift = models.PositiveIntegerField(null=True, blank=True, help_text="Drift left after verify")
    summary = models.JSONField(default=dict, blank=True, help_text="Per-target outcome")

    display_field = "reconciler"
    tenant_scope = owned_by("user", tenant="tenant")
    search_fields = ("reconciler", "scope")

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return f"{self.reconciler} {'dry run' if self.dry_run else 'apply'} #{self.pk} ({self.scope})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A new run without a job gets its pending ``reconcile.run`` job here, so no run lacks one:
        whoever records a run (API, CLI, schedule, a test) gets the same shape.  The job is only
        recorded, not queued: :func:`cmdb.reconcile.services.run_request` queues it, a foreground
        run executes it in its own process."""
        if self.job_id is not None or self.pk is not None:
            super().save(*args, **kwargs)
            return
        from cmdb.jobs.registry import job_create

        with transaction.atomic():
            job = job_create(self.JOB_NAME, user=self.user, schedule=self.schedule, validate=False)
            self.job = job
            if self.tenant_id is None:
                self.tenant_id = job.tenant_id
            super().save(*args, **kwargs)
            job.kwargs = {"run_id": self.pk}
            type(job).objects.filter(pk=job.pk).update(kwargs=job.kwargs)

    # The run's status, timings and error are its job's (select_related("job") when listing runs).

    @property
    def status(self) -> str:
        return self.job.status

    def get_status_display(self) -> str:
        return self.job.get_status_display()

    @property
    def started(self) -> dt.datetime | None:
        return self.job.started

    @property
    def finished(self) -> dt.datetime | None:
        return self.job.finished

    @property
    def duration(self) -> float | None:
        return self.job.duration

    @property
    def error(self) -> str:
        return self.job.error

    @property
    def worker(self) -> str:
        return self.job.worker

    @property
    def actions(self) -> models.QuerySet[PlanItem]:
        """The items of this run's plan (with their outcomes when the run applied it)."""
        return PlanItem.objects.filter(plan_id=self.plan_id) if self.plan_id else PlanItem.objects.none()


class PlanItem(models.Model):
    """One immutable item of a plan, plus the outcome of applying it."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField()
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="+")
    target = models.CharField(max_length=200, help_text="Host or object the action is about")
    operation = models.CharField(max_length=10, help_text="create, update, delete or noop")
    resource = models.CharField(max_length=300, help_text="What changes (task, file, field)")
    diff = models.TextField(blank=True, help_text="Human-readable diff")
    data = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20, choices=ActionResult.choices, default=ActionResult.PLANNED)
    message = models.TextField(blank=True)

    display_field = "resource"
    tenant_path = "ci__tenant"
    search_fields = ("target", "resource")

    class Meta:
        ordering = ("plan", "index")
        constraints = [models.UniqueConstraint(fields=["plan", "index"], name="reconcile_planitem_unique_index")]

    def __str__(self) -> str:
        return f"{self.operation} {self.target}: {self.resource}"


class CIDrift(models.Model):
    """The latest drift verdict of one reconciler for one CI."""

    reconciler = models.CharField(max_length=50)
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ReconcileRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=20, choices=DriftStatus.choices, db_index=True)
    drift_items = models.PositiveIntegerField(default=0)
    items = models.JSONField(default=list, blank=True, help_text="resource, operation and diff of each item")
    message = models.TextField(blank=True)
    checked = models.DateTimeField()
    drifted_since = models.DateTimeField(null=True, blank=True)

    display_field = "reconciler"
    tenant_path = "ci__tenant"
    search_fields = ("reconciler",)

    class Meta:
        ordering = ("reconciler", "ci")
        constraints = [models.UniqueConstraint(fields=["reconciler", "ci"], name="reconcile_cidrift_unique")]

    def __str__(self) -> str:
        return f"{self.reconciler} drift of CI {self.ci_id}: {self.drift_items}"
