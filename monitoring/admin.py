from django.contrib import admin

from .models import ExporterType, Incident, Monitor


@admin.register(ExporterType)
class ExporterTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "port", "scheme", "metrics_path")


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    list_display = ("ci", "exporter_type", "enabled", "port")
    list_select_related = ("ci", "exporter_type")
    raw_id_fields = ("ci",)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("alertname", "status", "severity", "ci", "started_at", "ended_at")
    list_filter = ("status", "severity")
    raw_id_fields = ("ci",)
    readonly_fields = ("fingerprint", "labels", "annotations", "impacted_services")
