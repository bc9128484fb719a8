from cmdb.api.filters import BaseFilterSet

from . import models


class ReconcileRunFilterSet(BaseFilterSet):
    class Meta:
        model = models.ReconcileRun
        fields = ["reconciler", "scope", "dry_run", "status", "user", "job", "schedule", "started", "finished",
                  "drift_count", "failed_count", "remaining_drift"]


class ReconcileActionFilterSet(BaseFilterSet):
    class Meta:
        model = models.ReconcileAction
        fields = ["run", "ci", "target", "operation", "resource", "result"]


class CIDriftFilterSet(BaseFilterSet):
    class Meta:
        model = models.CIDrift
        fields = ["reconciler", "ci", "run", "status", "drift_items", "checked"]
