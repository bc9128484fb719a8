"""Places and hardware: sites, locations, racks, device types, devices, interfaces."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from cmdb.core.choices import LifecycleStatus
from cmdb.core.models.base import (
    ChangeLoggedModel,
    CIModel,
    OrganizationalModel,
    PrimaryModel,
    validate_not_self_parent,
)
from cmdb.core.scope import SHARED

from .choices import InterfaceType, RackFace

mac_validator = RegexValidator(
    r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$", "Enter a MAC address such as 00:1a:2b:3c:4d:5e."
)


def normalize_mac(value: str) -> str:
    return value.replace("-", ":").upper() if value else value


class Site(PrimaryModel):
    """A campus or other place with its own address (Zittau, Görlitz)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    status = models.CharField(max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.ACTIVE)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="sites")
    facility = models.CharField(max_length=50, blank=True)
    time_zone = models.CharField(max_length=63, blank=True)
    physical_address = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)

    tenant_path = "tenant"
    search_fields = ("name", "slug", "facility", "description", "physical_address")

    class Meta:
        ordering = ("name",)


class Location(PrimaryModel):
    """A building, floor or room inside a site; locations nest."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="locations")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    status = models.CharField(max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.ACTIVE)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    facility = models.CharField(max_length=50, blank=True)

    tenant_path = "tenant"
    search_fields = ("name", "slug", "facility", "description")

    class Meta:
        ordering = ("site", "name")
        constraints = [
            models.UniqueConstraint(fields=["site", "parent", "name"], name="dcim_location_unique_parent_name"),
            models.UniqueConstraint(
                fields=["site", "name"], condition=Q(parent__isnull=True), name="dcim_location_unique_root_name"
            ),
            models.UniqueConstraint(fields=["site", "slug"], name="dcim_location_unique_slug"),
        ]

    def clean(self) -> None:
        super().clean()
        validate_not_self_parent(self)
        if self.parent_id and self.site_id and self.parent.site_id != self.site_id:
            raise ValidationError({"parent": "The parent location must be in the same site."})


class Rack(CIModel):
    """A rack; a CI because power or cooling failures take out everything in it."""

    name = models.CharField(max_length=100)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="racks")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="racks")
    facility_id = models.CharField(max_length=50, blank=True, null=True)
    serial = models.CharField(max_length=50, blank=True)
    asset_tag = models.CharField(max_length=50, blank=True, null=True, unique=True)
    u_height = models.PositiveSmallIntegerField(default=42, validators=[MinValueValidator(1), MaxValueValidator(100)])

    search_fields = ("name", "facility_id", "serial", "asset_tag", "description")

    class Meta:
        ordering = ("site", "name")
        constraints = [
            models.UniqueConstraint(fields=["site", "location", "name"], name="dcim_rack_unique_location_name"),
            models.UniqueConstraint(
                fields=["site", "name"], condition=Q(location__isnull=True), name="dcim_rack_unique_site_name"
            ),
            models.CheckConstraint(condition=Q(u_height__gte=1), name="dcim_rack_u_height_positive"),
        ]

    def clean(self) -> None:
        super().clean()
        if self.location_id and self.site_id and self.location.site_id != self.site_id:
            raise ValidationError({"location": "The location must belong to the rack's site."})


class Manufacturer(OrganizationalModel):
    """A hardware or software vendor."""


class DeviceType(PrimaryModel):
    """A hardware model; its interface templates become a new device's interfaces."""

    manufacturer = models.ForeignKey(Manufacturer, on_delete=models.PROTECT, related_name="device_types")
    model = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    part_number = models.CharField(max_length=50, blank=True)
    u_height = models.PositiveSmallIntegerField(default=1)
    is_full_depth = models.BooleanField(default=True)

    display_field = "model"
    tenant_scope = SHARED
    search_fields = ("model", "slug", "part_number", "description")
    #: Shown inside the nested form, as NetBox does (the Ansible inventory groups hosts by it).
    brief_nested = ("manufacturer",)

    class Meta:
        ordering = ("manufacturer", "model")
        constraints = [
            models.UniqueConstraint(fields=["manufacturer", "model"], name="dcim_devicetype_unique_model"),
            models.UniqueConstraint(fields=["manufacturer", "slug"], name="dcim_devicetype_unique_slug"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # Keep the denormalised manufacturer of devices in step (serial uniqueness).
        Device.objects.filter(device_type=self).exclude(manufacturer=self.manufacturer_id).update(
            manufacturer=self.manufacturer_id
        )


class InterfaceTemplate(ChangeLoggedModel):
    """An interface every device of a type has; instantiated on device creation."""

    device_type = models.ForeignKey(DeviceType, on_delete=models.CASCADE, related_name="interface_templates")
    name = models.CharField(max_length=64)
    type = models.CharField(max_length=50, choices=InterfaceType.choices, default=InterfaceType.BASE_T_1G)
    mgmt_only = models.BooleanField(default=False)

    tenant_scope = SHARED
    search_fields = ("name",)

    class Meta:
        ordering = ("device_type", "id")
        constraints = [models.UniqueConstraint(fields=["device_type", "name"], name="dcim_interfacetemplate_unique")]


class DeviceRole(OrganizationalModel):
    """What a device is for (server, core switch, PC-pool client, ...)."""

    color = models.CharField(max_length=6, default="9e9e9e")
    vm_role = models.BooleanField(default=True)


class Platform(OrganizationalModel):
    """An operating system or firmware family; selects Ansible connection details."""

    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, null=True, blank=True, related_name="platforms"
    )


class Device(CIModel):
    """A physical machine: server, switch, firewall, client, printer."""

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    name = models.CharField(max_length=64)
    device_type = models.ForeignKey(DeviceType, on_delete=models.PROTECT, related_name="instances")
    # Denormalised from device_type so the database can enforce one serial per manufacturer.
    manufacturer = models.ForeignKey(Manufacturer, on_delete=models.PROTECT, related_name="+", editable=False)
    role = models.ForeignKey(DeviceRole, on_delete=models.PROTECT, related_name="devices")
    platform = models.ForeignKey(Platform, on_delete=models.SET_NULL, null=True, blank=True, related_name="devices")
    serial = models.CharField(max_length=50, blank=True, db_index=True)
    asset_tag = models.CharField(max_length=50, blank=True, null=True, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="devices")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="devices")
    rack = models.ForeignKey(Rack, on_delete=models.PROTECT, null=True, blank=True, related_name="devices")
    position = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    face = models.CharField(max_length=10, choices=RackFace.choices, blank=True)
    cluster = models.ForeignKey(
        "virtualization.Cluster", on_delete=models.SET_NULL, null=True, blank=True, related_name="devices"
    )
    primary_ip4 = models.OneToOneField(
        "ipam.IPAddress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    primary_ip6 = models.OneToOneField(
        "ipam.IPAddress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    oob_ip = models.OneToOneField("ipam.IPAddress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    purchase_date = models.DateField(null=True, blank=True)
    warranty_end = models.DateField(null=True, blank=True)
    local_context_data = models.JSONField(null=True, blank=True)

    search_fields = ("name", "serial", "asset_tag", "description", "comments")

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(fields=["site", "tenant", "name"], name="dcim_device_unique_name_site_tenant"),
            models.UniqueConstraint(
                fields=["site", "name"], condition=Q(tenant__isnull=True), name="dcim_device_unique_name_site"
            ),
            models.UniqueConstraint(
                fields=["manufacturer", "serial"], condition=~Q(serial=""), name="dcim_device_unique_serial"
            ),
            models.CheckConstraint(
                condition=Q(position__isnull=True) | (Q(rack__isnull=False) & Q(position__gte=1)),
                name="dcim_device_position_needs_rack",
            ),
        ]
        # (name, id) serves the default ordering of every device list without a sort.
        indexes = [models.Index(fields=["site", "role", "status"]), models.Index(fields=["name", "id"])]

    def clean(self) -> None:
        super().clean()
        self.serial = (self.serial or "").strip()
        if self.device_type_id:
            self.manufacturer_id = self.device_type.manufacturer_id
        errors: dict[str, str] = {}
        if self.local_context_data is not None and not isinstance(self.local_context_data, dict):
            errors["local_context_data"] = "Local context data must be a JSON object."
        if self.rack_id and self.site_id and self.rack.site_id != self.site_id:
            errors["rack"] = f"Rack {self.rack} does not belong to site {self.site}."
        if self.location_id and self.site_id and self.location.site_id != self.site_id:
            errors["location"] = f"Location {self.location} does not belong to site {self.site}."
        if self.position is not None:
            if not self.rack_id:
                errors["position"] = "A position needs a rack."
            elif not self.face:
                errors["face"] = "A face is required when a rack position is set."
            elif self.device_type_id:
                errors.update(self._rack_position_errors())
        if errors:
            raise ValidationError(errors)

    @classmethod
    def validate_batch(cls, devices: list[Device]) -> dict[int, dict[str, list[str]]]:
        """Devices of one request must not claim the same rack units as each other."""
        claimed: dict[int, list[tuple[int, set[int], str, bool, str]]] = {}
        errors: dict[int, dict[str, list[str]]] = {}
        for i, d in enumerate(devices):
            if d.rack_id is None or d.position is None or not d.face or d.device_type_id is None:
                continue
            height = d.device_type.u_height
            if height == 0:
                continue
            units = set(range(d.position, d.position + height))
            full = d.device_type.is_full_depth
            for j, other_units, face, other_full, name in claimed.get(d.rack_id, []):
                if (face == d.face or full or other_full) and units & other_units:
                    errors[i] = {"position": [f"U{d.position} is also claimed by {name} (item {j}) in this request."]}
                    break
            claimed.setdefault(d.rack_id, []).append((i, units, d.face, full, d.name))
        return errors

    def _rack_position_errors(self) -> dict[str, str]:
        """The device must fit inside the rack and not overlap a mounted neighbour."""
        height = self.device_type.u_height
        top = self.position + max(height, 1) - 1  # type: ignore[operator]
        if top > self.rack.u_height:
            return {"position": f"U{self.position}-U{top} does not fit in a {self.rack.u_height}U rack."}
        if height == 0:
            return {}
        wanted = set(range(self.position, top + 1))  # type: ignore[arg-type]
        others = (
            Device.objects.filter(rack_id=self.rack_id, position__isnull=False)
            .exclude(pk=self.pk)
            .values_list("name", "position", "face", "device_type__u_height", "device_type__is_full_depth")
        )
        for name, pos, face, u_height, full_depth in others:
            if face != self.face and not (full_depth or self.device_type.is_full_depth):
                continue
            if wanted & set(range(pos, pos + max(u_height, 1))):
                return {"position": f"U{self.position} is occupied by {name} in rack {self.rack}."}
        return {}

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.device_type_id and not self.manufacturer_id:
            self.manufacturer_id = self.device_type.manufacturer_id
        self.serial = (self.serial or "").strip()
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:
            Device.post_create([self])

    @classmethod
    def post_create(cls, devices: list[Device]) -> list[Interface]:
        """Give new devices the interfaces their device type defines (bulk, one query per step)."""
        from cmdb.core import bulk

        type_ids = {d.device_type_id for d in devices}
        templates: dict[int, list[InterfaceTemplate]] = {}
        for t in InterfaceTemplate.objects.filter(device_type_id__in=type_ids).order_by("id"):
            templates.setdefault(t.device_type_id, []).append(t)
        interfaces = [
            Interface(device=d, name=t.name, type=t.type, mgmt_only=t.mgmt_only)
            for d in devices
            for t in templates.get(d.device_type_id, [])
        ]
        return bulk.bulk_create(Interface, interfaces)

    @property
    def config_context(self) -> dict[str, Any]:
        """Config contexts of this object merged by weight, local context data on top."""
        from cmdb.extras.configcontexts import render_for

        return render_for(self)


class Interface(PrimaryModel):
    """A network interface of a device."""

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="interfaces")
    name = models.CharField(max_length=64)
    label = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=50, choices=InterfaceType.choices, default=InterfaceType.BASE_T_1G)
    enabled = models.BooleanField(default=True)
    mgmt_only = models.BooleanField(default=False)
    mac_address = models.CharField(max_length=17, blank=True, validators=[mac_validator], db_index=True)
    mtu = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65536)]
    )

    tenant_path = "device__tenant"
    search_fields = ("name", "label", "mac_address", "description")

    class Meta:
        ordering = ("device", "name")
        constraints = [models.UniqueConstraint(fields=["device", "name"], name="dcim_interface_unique_device_name")]

    @property
    def change_log_parent(self) -> Device:
        return self.device

    def clean(self) -> None:
        super().clean()
        self.mac_address = normalize_mac(self.mac_address)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.mac_address = normalize_mac(self.mac_address)
        super().save(*args, **kwargs)
