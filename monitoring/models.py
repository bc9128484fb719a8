"""Which CIs Prometheus scrapes (exporter types, monitors) and the incidents alerts open.

Monitoring is enabled per CI and exporter: a :class:`Monitor` row says "scrape
this CI with the node exporter" (port from its :class:`ExporterType`, or its
own).  A separate table instead of a tag or custom field keeps the service
discovery one indexed join, lets one CI carry several exporters, and gives the
rows their own change log and tenant scope (through the CI).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from cmdb.core.models.base import ChangeLoggedModel, OrganizationalModel

port_validators = [MinValueValidator(1), MaxValueValidator(65535)]


class ExporterType(OrganizationalModel):
    """A kind of Prometheus exporter (node, SNMP, blackbox ...) and where it listens by default."""

    port = models.PositiveIntegerField(validators=port_validators)
    scheme = models.CharField(max_length=5, default="http", choices=[("http", "http"), ("https", "https")])
    metrics_path = models.CharField(
        max_length=200, default="/metrics", validators=[RegexValidator(r"^/\S*$", "Start the path with '/'.")]
    )


class Monitor(ChangeLoggedModel):
    """Monitoring enabled on one CI with one exporter: one target in the service discovery."""

    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="monitors")
    exporter_type = models.ForeignKey(ExporterType, on_delete=models.PROTECT, related_name="monitors")
    enabled = models.BooleanField(default=True)
    port = models.PositiveIntegerField(null=True, blank=True, validators=port_validators,
                                       help_text="Overrides the exporter type's port.")
    description = models.CharField(max_length=200, blank=True)

    tenant_path = "ci__tenant"
    display_field = "pk"
    #: What ``str()`` shows, as columns the API's fast reader fetches with the page (cmdb.api.fastread).
    display_columns = ("ci_id", "exporter_type_id")
    search_fields = ("description",)

    class Meta:
        ordering = ("ci", "exporter_type")
        constraints = [models.UniqueConstraint(fields=["ci", "exporter_type"], name="monitoring_monitor_unique")]

    @staticmethod
    def display_of(ci_id: int, exporter_type_id: int) -> str:
        return f"monitor {ci_id}/{exporter_type_id}"

    def __str__(self) -> str:
        return self.display_of(self.ci_id, self.exporter_type_id)


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Incident(ChangeLoggedModel):
    """An alert from Alertmanager recorded against the CI it names (label ``ci_id``).

    Alertmanager's ``fingerprint`` identifies the alert; while an incident for a
    fingerprint is open, repeated notifications update it, and the resolved
    notification closes it.
    """

    fingerprint = models.CharField(max_length=64, db_index=True)
    alertname = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    severity = models.CharField(max_length=50, blank=True)
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="incidents")
    summary = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    generator_url = models.CharField(max_length=1000, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    last_notified = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=1)
    impacted_services = models.JSONField(default=list, blank=True,
                                         help_text="Services impacted when the incident opened: [{ci_id, name}].")

    tenant_path = "ci__tenant"
    display_field = "alertname"
    search_fields = ("alertname", "summary", "fingerprint")

    class Meta:
        ordering = ("-started_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], condition=Q(status="open"),
                                    name="monitoring_incident_one_open_per_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.alertname} #{self.pk}" if self.pk else self.alertname
