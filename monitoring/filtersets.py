from cmdb.api.filters import BaseFilterSet

from . import models


class ExporterTypeFilterSet(BaseFilterSet):
    class Meta:
        model = models.ExporterType
        fields = ["name", "slug", "port", "scheme", "metrics_path", "description"]


class MonitorFilterSet(BaseFilterSet):
    class Meta:
        model = models.Monitor
        fields = ["ci", "exporter_type", "enabled", "port", "description"]
        related_paths = {"kind": "ci__kind", "tenant": "ci__tenant"}


class IncidentFilterSet(BaseFilterSet):
    class Meta:
        model = models.Incident
        fields = ["fingerprint", "alertname", "status", "severity", "ci", "started_at", "ended_at"]
        related_paths = {"tenant": "ci__tenant"}
