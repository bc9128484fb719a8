"""Change requests and what surrounds them: templates, approver groups, approvals, plans, freezes.

A :class:`Change` moves through the states of :class:`ChangeState` only through
:mod:`cmdb.changes.transitions` (which change-logs who and why).  What it will do to the real
world is one or more stored reconcile plans (:class:`ChangePlan`); approving the change approves
exactly those plans, by fingerprint.  The assessment columns (``assessment``, ``risk_score``,
``blast_radius`` ...) are written by :mod:`cmdb.changes.assessment`; collisions between changes
whose windows overlap and whose blast radii intersect are :class:`ChangeCollision` rows.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from cmdb.core.models import ChangeLoggedModel
from cmdb.core.scope import SHARED


class CIIdsField(models.BinaryField):
    """A set of CI ids stored as the bytes of a sorted integer array (:func:`cmdb.changes.collisions.encode`).

    Why not JSON or ``bigint[]``: the collision check reads the radii of up to 10,000 changes at
    once; bytes are read on PostgreSQL and SQLite alike with one ``np.frombuffer`` each, where a
    JSON list of ~2 million ids cost seconds to convert and parse.  In Python the value is a plain
    list of ints (what callers and tests assign and compare); lists, tuples and numpy arrays are
    accepted on write.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", list)
        super().__init__(*args, **kwargs)  # BinaryField: not editable unless asked

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("default") is list:
            del kwargs["default"]
        return name, path, args, kwargs

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        from .collisions import encode

        if not isinstance(value, bytes | memoryview) and value is not None:
            value = encode(value)
        return super().get_db_prep_value(value, connection, prepared)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[int]:
        from .collisions import decode

        return decode(value).tolist()

    def to_python(self, value: Any) -> Any:
        from .collisions import decode

        if isinstance(value, str):  # serialized (value_to_string): base64 of the encoded bytes
            return decode(super().to_python(value)).tolist()
        if isinstance(value, bytes | memoryview):
            return decode(value).tolist()
        return value

    def value_to_string(self, obj: Any) -> str:
        import base64

        from .collisions import encode

        return base64.b64encode(encode(self.value_from_object(obj))).decode("ascii")

class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class ChangeState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"


#: States a change can still move on from (and that a freeze, a collision or the gate care about).
OPEN_STATES = (ChangeState.DRAFT, ChangeState.SUBMITTED, ChangeState.APPROVED, ChangeState.SCHEDULED,
               ChangeState.IN_PROGRESS)
#: States in which a change authorizes work on its CIs during its window.
AUTHORIZED_STATES = (ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IN_PROGRESS)


class ChangeTemplate(ChangeLoggedModel):
    """A standard change: pre-approved when a change made from it stays within its limits."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    #: CI kinds (``dcim.device``) a change from this template may touch; empty = any kind.
    allowed_kinds = models.JSONField(default=list, blank=True)
    #: Individual CIs a change from this template may touch; empty = any CI (of the allowed kinds).
    allowed_cis = models.ManyToManyField("core.ConfigurationItem", blank=True, related_name="+")
    max_duration = models.DurationField(help_text="Longest window a change from this template may have")
    rollback_plan = models.TextField(blank=True)
    #: Reconcilers whose plans such a change may carry; empty = any.
    allowed_reconcilers = models.JSONField(default=list, blank=True)

    tenant_scope = SHARED
    search_fields = ("name", "description")

    class Meta:
        ordering = ("name",)


class Change(ChangeLoggedModel):
    """A change request: what, when, who, how to roll back, and its assessed impact."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=ChangeType.choices, default=ChangeType.NORMAL)
    state = models.CharField(max_length=12, choices=ChangeState.choices, default=ChangeState.DRAFT,
                             db_index=True, editable=False)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    implementer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=63, default="UTC", help_text="IANA time zone the window is planned in")
    rollback_plan = models.TextField(blank=True)
    template = models.ForeignKey(ChangeTemplate, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="changes")
    emergency_reason = models.TextField(blank=True)
    cis = models.ManyToManyField("core.ConfigurationItem", blank=True, related_name="+",
                                 help_text="The CIs the change touches")
    # Written by cmdb.changes.assessment (never by the API).
    assessment = models.JSONField(default=dict, blank=True, editable=False)
    risk_score = models.FloatField(null=True, blank=True, editable=False)
    assessed_at = models.DateTimeField(null=True, blank=True, editable=False)
    assessment_token = models.BigIntegerField(null=True, blank=True, editable=False,
                                              help_text="Services graph token the assessment was computed at")
    #: Registry ids of every CI the change may impact (its CIs and what depends on them).
    blast_radius = CIIdsField(blank=True)
    # Written by the transitions.
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)

    display_field = "title"
    tenant_path = "tenant"
    search_fields = ("title", "description")
    snapshot_exclude = frozenset({"created", "last_updated", "assessment", "blast_radius"})

    class Meta:
        ordering = ("-window_start", "-id")
        indexes = [models.Index(fields=["state", "window_start"], name="changes_state_window")]
        constraints = [
            models.CheckConstraint(condition=models.Q(window_end__gt=models.F("window_start"))
                                   | models.Q(window_start__isnull=True) | models.Q(window_end__isnull=True),
                                   name="changes_change_window_order"),
        ]

    def __str__(self) -> str:
        return f"CHG{self.pk}: {self.title}" if self.pk else self.title


class ChangeTransition(ChangeLoggedModel):
    """One state transition of a change: who moved it, from where to where, and why.

    Written in the same change-logged transaction as the change's new state, so the audit chain
    holds both the state's before/after and this row's reason.
    """

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=12, choices=ChangeState.choices)
    to_state = models.CharField(max_length=12, choices=ChangeState.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    display_field = "to_state"
    tenant_path = "change__tenant"
    search_fields = ("reason",)

    class Meta:
        ordering = ("change", "at", "id")

    def __str__(self) -> str:
        return f"change {self.change_id}: {self.from_state} -> {self.to_state}"


class ChangeCollision(models.Model):
    """Two open changes whose windows overlap and whose blast radii share CIs (``change_a.id < change_b.id``)."""

    change_a = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="+")
    change_b = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="+")
    shared_ci_ids = models.JSONField(default=list)
    detected_at = models.DateTimeField()

    display_field = "pk"
    tenant_path = "change_a__tenant"
    search_fields = ()

    class Meta:
        ordering = ("change_a", "change_b")
        constraints = [
            models.UniqueConstraint(fields=["change_a", "change_b"], name="changes_collision_unique"),
            models.CheckConstraint(condition=models.Q(change_a__lt=models.F("change_b")),
                                   name="changes_collision_ordered"),
        ]

    def __str__(self) -> str:
        return f"collision of change {self.change_a_id} and {self.change_b_id}"


class ApprovalGroup(ChangeLoggedModel):
    """Approvers (a CAB) for the changes of one tenant, of some services, or (neither) of every change."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    quorum = models.PositiveSmallIntegerField(default=1, help_text="Approvals of members needed")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               help_text="Approves changes of this tenant")
    services = models.ManyToManyField("services.Service", blank=True, related_name="+",
                                      help_text="Approves changes that impact these services")

    tenant_path = "tenant"
    search_fields = ("name", "description")

    class Meta:
        ordering = ("name",)
        constraints = [models.CheckConstraint(condition=models.Q(quorum__gte=1), name="changes_group_quorum_min")]


class ApprovalDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Approval(ChangeLoggedModel):
    """One approver's decision on one change, for one group (None: no group applied to the change)."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="approvals")
    group = models.ForeignKey(ApprovalGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=ApprovalDecision.choices)
    comment = models.TextField(blank=True)

    display_field = "decision"
    tenant_path = "change__tenant"
    search_fields = ("comment",)

    class Meta:
        ordering = ("change", "created", "id")
        constraints = [
            models.UniqueConstraint(fields=["change", "group", "user"], name="changes_approval_unique"),
            models.UniqueConstraint(fields=["change", "user"], condition=models.Q(group__isnull=True),
                                    name="changes_approval_unique_nogroup"),
        ]


class ChangePlanStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    STALE = "stale", "Stale (re-plan and re-approve)"


class ChangePlan(ChangeLoggedModel):
    """A stored reconcile plan a change carries; approval freezes its fingerprint."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="plans")
    plan = models.ForeignKey("reconcile.Plan", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=ChangePlanStatus.choices, default=ChangePlanStatus.PENDING)
    #: The plan's fingerprint when the change was approved: exactly this is authorized.
    approved_fingerprint = models.CharField(max_length=64, blank=True)
    run = models.ForeignKey("reconcile.ReconcileRun", on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="+", help_text="The run that applied the plan")
    applied_at = models.DateTimeField(null=True, blank=True)
    #: Per item: index, target, resource, operation, outcome, message.
    outcomes = models.JSONField(default=list, blank=True)
    #: Verify result: remaining drift after the apply (None: not verified).
    remaining_drift = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)

    display_field = "pk"
    tenant_path = "change__tenant"
    search_fields = ("message",)

    class Meta:
        ordering = ("change", "id")
        constraints = [models.UniqueConstraint(fields=["change", "plan"], name="changes_changeplan_unique")]

    def __str__(self) -> str:
        return f"plan #{self.plan_id} of change {self.change_id}"


class Freeze(ChangeLoggedModel):
    """A period in which changes of some types to CIs of chosen services, tenants or sites are blocked.

    With no service, tenant or site it covers every CI.
    """

    name = models.CharField(max_length=100)
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.TextField(blank=True)
    services = models.ManyToManyField("services.Service", blank=True, related_name="+")
    tenants = models.ManyToManyField("tenancy.Tenant", blank=True, related_name="+")
    sites = models.ManyToManyField("dcim.Site", blank=True, related_name="+")
    blocks_types = models.JSONField(default=list, blank=True,
                                    help_text='Change types blocked, by default ["normal"]')

    tenant_scope = SHARED
    search_fields = ("name", "reason")

    class Meta:
        ordering = ("start", "id")
        constraints = [models.CheckConstraint(condition=models.Q(end__gt=models.F("start")),
                                              name="changes_freeze_end_after_start")]

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not self.blocks_types:
            self.blocks_types = [ChangeType.NORMAL.value]
        super().save(*args, **kwargs)


class UnauthorizedSource(models.TextChoices):
    RECONCILE = "reconcile", "Drift found by a reconcile run"
    DISCOVERY = "discovery", "Change found by discovery"


class UnauthorizedChange(models.Model):
    """A change to a CI that no approved, in-window change covers."""

    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=UnauthorizedSource.choices)
    #: What found it: ``reconcile:ansible run 12`` or ``discovery:<source>``; one row per (CI, source, ref).
    source_ref = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    detected_at = models.DateTimeField(db_index=True)
    acknowledged = models.BooleanField(default=False, db_index=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    display_field = "source_ref"
    tenant_path = "ci__tenant"
    search_fields = ("source_ref",)

    class Meta:
        ordering = ("-detected_at", "-id")
        constraints = [models.UniqueConstraint(fields=["ci", "source", "source_ref"], name="changes_unauth_unique")]

    def __str__(self) -> str:
        return f"unauthorized change of CI {self.ci_id} ({self.source_ref})"
