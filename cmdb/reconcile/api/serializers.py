from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer

from .. import models
from ..base import reconcilers


class ReconcileRunSerializer(BaseModelSerializer):
    user = serializers.CharField(read_only=True)
    fast_computed = {"user": (("user__username",), lambda v, c: v[0])}

    class Meta:
        model = models.ReconcileRun
        fields = ["id", "url", "display", "reconciler", "scope", "dry_run", "status", "user", "tenant", "job",
                  "schedule", "created", "started", "finished", "duration", "targets", "drift_count", "applied_count",
                  "failed_count", "remaining_drift", "summary", "error"]
        read_only_fields = ["status", "tenant", "job", "schedule", "started", "finished", "duration", "targets",
                            "drift_count", "applied_count", "failed_count", "remaining_drift", "summary", "error"]
        brief_fields = ["id", "url", "display", "reconciler", "scope", "dry_run", "status"]

    def validate_reconciler(self, value: str) -> str:
        known = reconcilers()
        if value not in known:
            raise serializers.ValidationError(f"Unknown reconciler; known: {', '.join(sorted(known))}.")
        return value

    def validate_scope(self, value: str) -> str:
        if not value or len(value) > 200:
            raise serializers.ValidationError("Give a scope such as all, ci:12, site:zittau, tenant:physics.")
        return value


class ReconcileActionSerializer(BaseModelSerializer):
    class Meta:
        model = models.ReconcileAction
        fields = ["id", "url", "display", "run", "index", "ci", "target", "operation", "resource", "diff", "data",
                  "result", "message"]
        brief_fields = ["id", "url", "display", "operation", "target", "result"]


class CIDriftSerializer(BaseModelSerializer):
    class Meta:
        model = models.CIDrift
        fields = ["id", "url", "display", "reconciler", "ci", "run", "status", "drift_items", "items", "message",
                  "checked", "drifted_since"]
        brief_fields = ["id", "url", "display", "reconciler", "status", "drift_items"]
