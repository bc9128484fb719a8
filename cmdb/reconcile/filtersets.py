from cmdb.api.filters import BaseFilterSet

from . import models


class ReconcileRunFilterSet(BaseFilterSet):
    class Meta:
        model = models.ReconcileRun
        fields = ["reconciler", "scope", "dry_run", "status", "user", "job", "schedule", "plan", "started", "finished",
                  "drift_count", "failed_count", "remaining_drift"]


class PlanFilterSet(BaseFilterSet):
    class Meta:
        model = models.Plan
        fields = ["reconciler", "scope", "fingerprint", "created_by", "created"]


class PlanItemFilterSet(BaseFilterSet):
    class Meta:
        model = models.PlanItem
        fields = ["plan", "ci", "target", "operation", "resource", "outcome"]


class CIDriftFilterSet(BaseFilterSet):
    class Meta:
        model = models.CIDrift
        fields = ["reconciler", "ci", "run", "status", "drift_items", "checked"]
