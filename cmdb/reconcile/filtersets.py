from cmdb.api.filters import BaseFilterSet

from . import models


class ReconcileRunFilterSet(BaseFilterSet):
    class Meta:
        model = models.ReconcileRun
        fields = ["reconciler", "scope", "dry_run", "user", "job", "schedule", "plan", "drift_count", "failed_count",
                  "remaining_drift"]
        # Status and timings are the run's job's; the filters keep the names they had on the run.
        related_paths = {"status": "job__status", "started": "job__started", "finished": "job__finished"}


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
