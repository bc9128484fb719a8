"""Filter sets for the dcim endpoints (API, schema and UI share them)."""

from cmdb.api.filters import BaseFilterSet, HasPrimaryIPFilter

from . import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "description"]


class SiteFilterSet(BaseFilterSet):
    class Meta:
        model = models.Site
        fields = ["name", "slug", "status", "tenant", "facility", "time_zone", "description"]


class LocationFilterSet(BaseFilterSet):
    class Meta:
        model = models.Location
        fields = ["name", "slug", "site", "parent", "status", "tenant", "facility", "description"]


class RackFilterSet(BaseFilterSet):
    class Meta:
        model = models.Rack
        fields = ["name", "site", "location", "facility_id", "serial", "asset_tag", "u_height", *CI_FIELDS]


class ManufacturerFilterSet(BaseFilterSet):
    class Meta:
        model = models.Manufacturer
        fields = ["name", "slug", "description"]


class DeviceTypeFilterSet(BaseFilterSet):
    class Meta:
        model = models.DeviceType
        fields = ["manufacturer", "model", "slug", "part_number", "u_height", "is_full_depth", "description"]


class InterfaceTemplateFilterSet(BaseFilterSet):
    class Meta:
        model = models.InterfaceTemplate
        fields = ["device_type", "name", "type", "mgmt_only"]


class DeviceRoleFilterSet(BaseFilterSet):
    class Meta:
        model = models.DeviceRole
        fields = ["name", "slug", "color", "vm_role", "description"]


class PlatformFilterSet(BaseFilterSet):
    class Meta:
        model = models.Platform
        fields = ["name", "slug", "manufacturer", "description"]


class DeviceFilterSet(BaseFilterSet):
    has_primary_ip = HasPrimaryIPFilter()

    class Meta:
        model = models.Device
        fields = [
            "name", "device_type", "manufacturer", "role", "platform", "serial", "asset_tag", "site", "location",
            "rack", "position", "face", "cluster", "primary_ip4", "primary_ip6", "oob_ip", "purchase_date",
            "warranty_end", *CI_FIELDS,
        ]
        related_paths = {"tenant_group": "tenant__group", "mac_address": "interfaces__mac_address"}


class InterfaceFilterSet(BaseFilterSet):
    class Meta:
        model = models.Interface
        fields = ["device", "name", "label", "type", "enabled", "mgmt_only", "mac_address", "mtu", "description"]
        related_paths = {"site": "device__site", "role": "device__role", "tenant": "device__tenant"}
