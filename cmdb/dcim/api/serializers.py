from rest_framework import serializers

from cmdb.api.fields import primary_ip_field
from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer
from cmdb.extras.configcontexts import fast_config_context

from .. import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]
STAMPS = ["tags", "custom_fields", "created", "last_updated"]


def count_field() -> serializers.IntegerField:
    """A related-object count as NetBox shows it; computed per page by the fast reader (``fast_counts``)."""
    return serializers.IntegerField(read_only=True, default=0)


class SiteSerializer(TaggedModelSerializer):
    region = serializers.JSONField(read_only=True, default=None)
    group = serializers.JSONField(read_only=True, default=None)
    device_count = count_field()
    prefix_count = count_field()
    rack_count = count_field()
    virtualmachine_count = count_field()
    fast_computed = {"region": ((), lambda v, c: None), "group": ((), lambda v, c: None)}
    fast_counts = {"device_count": ("dcim.Device", "site"), "prefix_count": ("ipam.Prefix", "site"),
                   "rack_count": ("dcim.Rack", "site"),
                   "virtualmachine_count": ("virtualization.VirtualMachine", "site")}

    class Meta:
        model = models.Site
        fields = ["id", "url", "display", "name", "slug", "status", "region", "group", "tenant", "facility",
                  "time_zone", "description", "physical_address", "latitude", "longitude", "comments", *STAMPS,
                  "device_count", "prefix_count", "rack_count", "virtualmachine_count"]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class LocationSerializer(TaggedModelSerializer):
    class Meta:
        model = models.Location
        fields = ["id", "url", "display", "name", "slug", "site", "parent", "status", "tenant", "facility",
                  "description", "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class RackSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Rack
        fields = ["id", "url", "display", "name", "site", "location", "facility_id", "serial", "asset_tag",
                  "u_height", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "description"]


class ManufacturerSerializer(TaggedModelSerializer):
    devicetype_count = count_field()
    platform_count = count_field()
    fast_counts = {"devicetype_count": ("dcim.DeviceType", "manufacturer"),
                   "platform_count": ("dcim.Platform", "manufacturer")}

    class Meta:
        model = models.Manufacturer
        fields = ["id", "url", "display", "name", "slug", "description", *STAMPS, "devicetype_count",
                  "platform_count"]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class DeviceTypeSerializer(TaggedModelSerializer):
    device_count = count_field()
    fast_counts = {"device_count": ("dcim.Device", "device_type")}

    class Meta:
        model = models.DeviceType
        fields = ["id", "url", "display", "manufacturer", "model", "slug", "part_number", "u_height",
                  "is_full_depth", "description", "comments", *STAMPS, "device_count"]
        brief_fields = ["id", "url", "display", "manufacturer", "model", "slug", "description"]


class InterfaceTemplateSerializer(BaseModelSerializer):
    class Meta:
        model = models.InterfaceTemplate
        fields = ["id", "url", "display", "device_type", "name", "type", "mgmt_only"]
        brief_fields = ["id", "url", "display", "name"]


class DeviceRoleSerializer(TaggedModelSerializer):
    device_count = count_field()
    virtualmachine_count = count_field()
    fast_counts = {"device_count": ("dcim.Device", "role"), "virtualmachine_count": ("virtualization.VirtualMachine",
                                                                                       "role")}

    class Meta:
        model = models.DeviceRole
        fields = ["id", "url", "display", "name", "slug", "color", "vm_role", "description", *STAMPS,
                  "device_count", "virtualmachine_count"]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class PlatformSerializer(TaggedModelSerializer):
    device_count = count_field()
    virtualmachine_count = count_field()
    fast_counts = {"device_count": ("dcim.Device", "platform"), "virtualmachine_count": (
        "virtualization.VirtualMachine", "platform")}

    class Meta:
        model = models.Platform
        fields = ["id", "url", "display", "name", "slug", "manufacturer", "description", *STAMPS,
                  "device_count", "virtualmachine_count"]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class DeviceSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)
    config_context = serializers.JSONField(read_only=True)
    primary_ip = primary_ip_field()
    fast_computed = {"config_context": fast_config_context(
        ("id", "local_context_data", "site_id", "location_id", "role_id", "platform_id", "tenant_id"))}

    class Meta:
        model = models.Device
        fields = [
            "id", "url", "display", "name", "device_type", "role", "tenant", "platform", "serial", "asset_tag",
            "site", "location", "rack", "position", "face", "status", "primary_ip", "primary_ip4", "primary_ip6",
            "oob_ip",
            "cluster", "description", "comments", "config_context", "local_context_data", "criticality", "owner",
            "last_seen", "purchase_date", "warranty_end", "ci_id", *STAMPS,
        ]
        brief_fields = ["id", "url", "display", "name", "description"]


class InterfaceSerializer(TaggedModelSerializer):
    count_ipaddresses = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = models.Interface
        fields = ["id", "url", "display", "device", "name", "label", "type", "enabled", "mgmt_only", "mac_address",
                  "mtu", "description", "count_ipaddresses", *STAMPS]
        brief_fields = ["id", "url", "display", "device", "name", "description"]
