"""Virtualization clusters and virtual machines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from cmdb.core.models.base import CIModel, OrganizationalModel, PrimaryModel
from cmdb.dcim.models import mac_validator, normalize_mac


class ClusterType(OrganizationalModel):
    """E.g. VMware vSphere, Proxmox VE, KubeVirt."""


class ClusterGroup(OrganizationalModel):
    """E.g. "Zittau production", "VDI"."""


class Cluster(CIModel):
    """A virtualization cluster; a CI whose hosts form a redundancy group."""

    name = models.CharField(max_length=100)
    type = models.ForeignKey(ClusterType, on_delete=models.PROTECT, related_name="clusters")
    group = models.ForeignKey(ClusterGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="clusters")
    site = models.ForeignKey("dcim.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="clusters")

    search_fields = ("name", "description", "comments")

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="virtualization_cluster_unique_group_name"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(group__isnull=True), name="virtualization_cluster_unique_name"
            ),
        ]


class VirtualMachine(CIModel):
    """A virtual machine on a cluster, optionally pinned to a host device."""

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    name = models.CharField(max_length=64)
    site = models.ForeignKey(
        "dcim.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="virtual_machines"
    )
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="virtual_machines"
    )
    device = models.ForeignKey(
        "dcim.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="virtual_machines"
    )
    role = models.ForeignKey("dcim.DeviceRole", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    platform = models.ForeignKey("dcim.Platform", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    serial = models.CharField(max_length=50, blank=True, db_index=True)
    primary_ip4 = models.OneToOneField(
        "ipam.IPAddress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    primary_ip6 = models.OneToOneField(
        "ipam.IPAddress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    vcpus = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))]
    )
    memory = models.PositiveIntegerField(null=True, blank=True, help_text="MB")
    disk = models.PositiveIntegerField(null=True, blank=True, help_text="GB")
    local_context_data = models.JSONField(null=True, blank=True)

    search_fields = ("name", "serial", "description", "comments")

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(fields=["cluster", "tenant", "name"], name="virtualization_vm_unique_name_tenant"),
            models.UniqueConstraint(
                fields=["cluster", "name"], condition=Q(tenant__isnull=True), name="virtualization_vm_unique_name"
            ),
        ]
        indexes = [models.Index(fields=["name", "id"])]  # the default ordering of VM lists

    def clean(self) -> None:
        super().clean()
        self.fill_site()
        errors = {}
        if self.local_context_data is not None and not isinstance(self.local_context_data, dict):
            errors["local_context_data"] = "Local context data must be a JSON object."
        if not self.site_id and not self.cluster_id:
            errors["cluster"] = "A virtual machine needs a site or a cluster."
        if self.cluster_id and self.site_id and self.cluster.site_id and self.cluster.site_id != self.site_id:
            errors["site"] = f"The cluster is at {self.cluster.site}, not at {self.site}."
        if self.device_id and self.cluster_id and self.device.cluster_id != self.cluster_id:
            errors["device"] = f"{self.device} is not a host of cluster {self.cluster}."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_site()
        super().save(*args, **kwargs)

    def fill_site(self) -> None:
        if self.cluster_id and not self.site_id:
            self.site_id = self.cluster.site_id

    @property
    def config_context(self) -> dict[str, Any]:
        """Config contexts of this object merged by weight, local context data on top."""
        from cmdb.extras.configcontexts import render_for

        return render_for(self)


class VMInterface(PrimaryModel):
    """A virtual network interface of a VM."""

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    virtual_machine = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="interfaces")
    name = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    mac_address = models.CharField(max_length=17, blank=True, validators=[mac_validator], db_index=True)
    mtu = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65536)]
    )

    tenant_path = "virtual_machine__tenant"
    search_fields = ("name", "mac_address", "description")

    class Meta:
        ordering = ("virtual_machine", "name")
        verbose_name = "VM interface"
        constraints = [
            models.UniqueConstraint(fields=["virtual_machine", "name"], name="virtualization_vminterface_unique")
        ]

    @property
    def change_log_parent(self) -> VirtualMachine:
        return self.virtual_machine

    def clean(self) -> None:
        super().clean()
        self.mac_address = normalize_mac(self.mac_address)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.mac_address = normalize_mac(self.mac_address)
        super().save(*args, **kwargs)
