"""The CI registry: one row per configuration item of any kind."""

from __future__ import annotations

from django.db import models

from cmdb.core.choices import Criticality, LifecycleStatus


class ConfigurationItem(models.Model):
    """One row per CI, whatever its kind.

    Relationship edges, impact analysis, metrics and staleness reports walk
    this narrow table instead of a dozen typed tables; the typed table that
    owns the row (``kind`` names it, e.g. ``dcim.device``) keeps the details.
    """

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    kind = models.CharField(max_length=50, db_index=True)
    name = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.ACTIVE)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="cis")
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM)
    owner = models.ForeignKey("tenancy.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_seen = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)

    #: For tenant-scoped permissions (``restrict``): without it the registry would show every tenant's CIs.
    tenant_path = "tenant"

    class Meta:
        verbose_name = "configuration item"
        indexes = [models.Index(fields=["kind", "status"]), models.Index(fields=["tenant", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"
