"""The monitoring app's own contribution to /metrics (and the reference example of the registry contract)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from cmdb.users.permissions import restrict

from .models import Incident, IncidentStatus, Monitor


def collect(user: Any = None) -> Iterable[Metric]:
    """Open incidents by severity and monitored targets by exporter: two queries, tenant-scoped."""
    incidents = Incident.objects.filter(status=IncidentStatus.OPEN)
    monitors = Monitor.objects.filter(enabled=True)
    if user is not None:
        incidents, monitors = restrict(incidents, user), restrict(monitors, user)
    open_family = GaugeMetricFamily("cmdb_incidents_open", "Open incidents from Alertmanager, by severity.",
                                    labels=["severity"])
    for severity, n in incidents.order_by().values_list("severity").annotate(n=Count("id")):
        open_family.add_metric([severity], n)
    yield open_family
    targets = GaugeMetricFamily("cmdb_monitoring_targets", "CIs with monitoring enabled, by exporter type.",
                                labels=["exporter"])
    for slug, n in monitors.order_by().values_list("exporter_type__slug").annotate(n=Count("id")):
        targets.add_metric([slug], n)
    yield targets
