"""Web UI hooks of monitoring: incidents in the menu."""

from __future__ import annotations

from cmdb.ui.registry import register, register_link
from monitoring import filtersets, models

register_link("Monitoring", "Incidents", "monitoring:incident-list", "monitoring.incident")

# Exporter types and monitors get the standard pages (list, detail, edit, import, export).

register(models.ExporterType, filterset=filtersets.ExporterTypeFilterSet,
         columns=["name", "port", "scheme", "metrics_path", "description"], group="Monitoring")
register(models.Monitor, filterset=filtersets.MonitorFilterSet,
         columns=["ci", "exporter_type", "enabled", "port", "description"], group="Monitoring")
