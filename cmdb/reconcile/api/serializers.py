from typing import Any

from rest_framework import serializers

from cmdb.api.fields import ChoiceField
from cmdb.api.serializers import BaseModelSerializer

from .. import models
from ..base import reconcilers
from ..scope import SCOPE_HELP


class ReconcileRunSerializer(BaseModelSerializer):
    user = serializers.CharField(read_only=True)
    options = serializers.JSONField(required=False, help_text=(
        "Values of the reconciler's declared options (GET /api/reconcile/reconcilers/ lists them)"))
    scope = serializers.CharField(required=False, max_length=200, help_text=SCOPE_HELP)
    fast_computed = {"user": (("user__username",), lambda v, c: v[0])}

    class Meta:
        model = models.ReconcileRun
        fields = ["id", "url", "display", "reconciler", "scope", "dry_run", "options", "plan", "applies_plan",
                  "status", "user", "tenant", "job", "schedule", "created", "started", "finished", "duration",
                  "targets", "drift_count", "applied_count", "failed_count", "remaining_drift", "summary", "error"]
        read_only_fields = ["plan", "applies_plan", "status", "tenant", "job", "schedule", "started", "finished",
                            "duration", "targets", "drift_count", "applied_count", "failed_count", "remaining_drift",
                            "summary", "error"]
        brief_fields = ["id", "url", "display", "reconciler", "scope", "dry_run", "status"]

    def validate_reconciler(self, value: str) -> str:
        known = reconcilers()
        if value not in known:
            raise serializers.ValidationError(f"Unknown reconciler; known: {', '.join(sorted(known))}.")
        return value


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
