from typing import Any

from rest_framework import serializers

from cmdb.api.fields import ChoiceField
from cmdb.api.serializers import BaseModelSerializer
from cmdb.jobs.models import JobStatus

from .. import models
from ..base import reconcilers
from ..scope import SCOPE_HELP
from .options import ReconcileOptionsField, options_errors_by_name

_STATUS_LABELS = {value: str(label) for value, label in JobStatus.choices}


def _iso(values: list[Any], ctx: Any) -> str | None:
    return values[0].isoformat() if values[0] is not None else None


class ReconcileRunSerializer(BaseModelSerializer):
    """A run; ``status``, ``started``, ``finished``, ``duration``, ``error`` and ``worker`` are its job's
    (read through the one-to-one ``job``, in the list's single query)."""

    user = serializers.CharField(read_only=True)
    options = ReconcileOptionsField(required=False)
    scope = serializers.CharField(required=False, max_length=200, help_text=SCOPE_HELP)
    status = ChoiceField(source="job.status", choices=JobStatus.choices, read_only=True,
                         help_text="The run's job's status")
    started = serializers.DateTimeField(source="job.started", read_only=True, allow_null=True)
    finished = serializers.DateTimeField(source="job.finished", read_only=True, allow_null=True)
    duration = serializers.FloatField(source="job.duration", read_only=True, allow_null=True, help_text="Seconds")
    error = serializers.CharField(source="job.error", read_only=True)
    worker = serializers.CharField(source="job.worker", read_only=True, help_text="Who ran it (a worker, or "
                                   "foreground:<host>:<pid> for a command run in the foreground)")
    fast_computed = {
        "user": (("user__username",), lambda v, c: v[0]),
        "status": (("job__status",), lambda v, c: {"value": v[0], "label": _STATUS_LABELS.get(v[0], v[0])}
                   if v[0] else None),
        "started": (("job__started",), _iso),
        "finished": (("job__finished",), _iso),
        "duration": (("job__duration",), lambda v, c: v[0]),
        "error": (("job__error",), lambda v, c: v[0]),
        "worker": (("job__worker",), lambda v, c: v[0]),
    }

    class Meta:
        model = models.ReconcileRun
        fields = ["id", "url", "display", "reconciler", "scope", "dry_run", "options", "plan", "applies_plan",
                  "status", "user", "tenant", "job", "schedule", "created", "started", "finished", "duration",
                  "worker", "targets", "drift_count", "applied_count", "failed_count", "remaining_drift", "summary",
                  "error"]
        read_only_fields = ["plan", "applies_plan", "tenant", "job", "schedule", "targets", "drift_count",
                            "applied_count", "failed_count", "remaining_drift", "summary"]
        brief_fields = ["id", "url", "display", "reconciler", "scope", "dry_run", "status"]

    def validate_reconciler(self, value: str) -> str:
        known = reconcilers()
        if value not in known:
            raise serializers.ValidationError(f"Unknown reconciler; known: {', '.join(sorted(known))}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Options checked against the reconciler's declarations: a 400 with one message per bad option,
        each naming it (``{"options": ["prune: Give a bool ...", "colour: Unknown option ..."]}``)."""
        problems = options_errors_by_name(attrs.get("reconciler", ""), attrs.get("options"))
        if problems:
            raise serializers.ValidationError({"options": problems})
        return attrs


class PlanItemSerializer(BaseModelSerializer):
    #: The name clients of the former ``ReconcileAction`` read.
    result = ChoiceField(source="outcome", choices=models.ActionResult.choices, read_only=True)

    class Meta:
        model = models.PlanItem
        fields = ["id", "url", "display", "plan", "index", "ci", "target", "operation", "resource", "diff", "data",
                  "outcome", "result", "message"]
        brief_fields = ["id", "url", "display", "operation", "target", "outcome"]


class PlanSerializer(BaseModelSerializer):
    created_by = serializers.CharField(read_only=True)
    fast_computed = {"created_by": (("created_by__username",), lambda v, c: v[0])}

    class Meta:
        model = models.Plan
        fields = ["id", "url", "display", "reconciler", "scope", "options", "fingerprint", "targets", "created_by",
                  "tenant", "created"]
        brief_fields = ["id", "url", "display", "reconciler", "scope", "fingerprint"]


class CIDriftSerializer(BaseModelSerializer):
    class Meta:
        model = models.CIDrift
        fields = ["id", "url", "display", "reconciler", "ci", "run", "status", "drift_items", "items", "message",
                  "checked", "drifted_since"]
        brief_fields = ["id", "url", "display", "reconciler", "status", "drift_items"]


def describe_reconcilers() -> list[dict[str, Any]]:
    """Every reconciler with its kinds and declared options (for the API, the run form and the CLI)."""
    return [{"name": name, "summary": cls.summary, "kinds": list(cls.kinds),
             "options": [o.describe() for o in cls.options]}
            for name, cls in sorted(reconcilers().items())]
