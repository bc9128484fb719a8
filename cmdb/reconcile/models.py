"""Reconcile runs, their plans and per-CI drift.

A run's plan is a list of :class:`ReconcileAction` rows written once when the
plan is made (operation, target, diff); apply fills in only the result
columns.  :class:`CIDrift` keeps the latest verdict per (reconciler, CI) so a
CI page can show drift without reading run history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cmdb.core.scope import owned_by


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (another run holds the lease)"


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


class ReconcileRun(models.Model):
    reconciler = models.CharField(max_length=50, db_index=True)
    scope = models.CharField(max_length=200, default="all")
    dry_run = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    schedule = models.ForeignKey("jobs.Schedule", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    #: As for jobs: the starting user's tenant when they work for exactly one, so that tenant's
    #: other administrators see the run too.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    targets = models.PositiveIntegerField(default=0, help_text="Hosts or objects in scope")
    drift_count = models.PositiveIntegerField(default=0, help_text="Plan items (changes needed) found")
    applied_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0, help_text="Failed or unreachable targets")
    remaining_drift = models.PositiveIntegerField(null=True, blank=True, help_text="Drift left after verify")
    summary = models.JSONField(default=dict, blank=True, help_text="Per-target outcome")
    error = models.TextField(blank=True)

    display_field = "reconciler"
    tenant_scope = owned_by("user", tenant="tenant")
    search_fields = ("reconciler", "scope")

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return f"{self.reconciler} {'dry run' if self.dry_run else 'apply'} #{self.pk} ({self.scope})"


class ReconcileAction(models.Model):
    """One immutable plan item of a run, plus the outcome of applying it."""

    run = models.ForeignKey(ReconcileRun, on_delete=models.CASCADE, related_name="actions")
    index = models.PositiveIntegerField()
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="+")
    target = models.CharField(max_length=200, help_text="Host or object the action is about")
    operation = models.CharField(max_length=10, help_text="create, update, delete or noop")
    resource = models.CharField(max_length=300, help_text="What changes (task, file, field)")
    diff = models.TextField(blank=True, help_text="Human-readable diff")
    data = models.JSONField(default=dict, blank=True)
    result = models.CharField(max_length=20, choices=ActionResult.choices, default=ActionResult.PLANNED)
    message = models.TextField(blank=True)

    display_field = "resource"
    tenant_path = "ci__tenant"
    search_fields = ("target", "resource")

    class Meta:
        ordering = ("run", "index")
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="reconcile_action_unique_index")]

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
