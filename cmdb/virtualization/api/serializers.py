from rest_framework import serializers

from cmdb.api.fields import primary_ip_field
from cmdb.api.serializers import TaggedModelSerializer
from cmdb.dcim.api.serializers import count_field
from cmdb.extras.configcontexts import fast_config_context

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]
CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]


class ClusterTypeSerializer(TaggedModelSerializer):
    cluster_count = count_field()
    fast_counts = {"cluster_count": ("virtualization.Cluster", "type")}

    class Meta:
        model = models.ClusterType
        fields = ["id", "url", "display", "name", "slug", "description", *STAMPS, "cluster_count"]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class ClusterGroupSerializer(TaggedModelSerializer):
    cluster_count = count_field()
    fast_counts = {"cluster_count": ("virtualization.Cluster", "group")}

    class Meta:
        model = models.ClusterGroup
        fields = ["id", "url", "display", "name", "slug", "description", *STAMPS, "cluster_count"]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class ClusterSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)
    device_count = count_field()
    virtualmachine_count = count_field()
    fast_counts = {"device_count": ("dcim.Device", "cluster"),
                   "virtualmachine_count": ("virtualization.VirtualMachine", "cluster")}

    class Meta:
        model = models.Cluster
        fields = ["id", "url", "display", "name", "type", "group", "site", "description", "comments", *CI_FIELDS,
                  *STAMPS, "device_count", "virtualmachine_count"]
        brief_fields = ["id", "url", "display", "name", "description"]


class VirtualMachineSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)
    config_context = serializers.JSONField(read_only=True)
    primary_ip = primary_ip_field()
    fast_computed = {"config_context": fast_config_context(
        ("id", "local_context_data", "site_id", None, "role_id", "platform_id", "tenant_id"))}

    class Meta:
        model = models.VirtualMachine
        fields = ["id", "url", "display", "name", "status", "site", "cluster", "device", "role", "tenant",
                  "platform", "serial", "primary_ip", "primary_ip4", "primary_ip6", "vcpus", "memory", "disk",
                  "description", "comments", "config_context", "local_context_data", "criticality", "owner",
                  "last_seen", "ci_id", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "description"]


class VMInterfaceSerializer(TaggedModelSerializer):
    count_ipaddresses = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = models.VMInterface
        fields = ["id", "url", "display", "virtual_machine", "name", "enabled", "mac_address", "mtu", "description",
                  "count_ipaddresses", *STAMPS]
        brief_fields = ["id", "url", "display", "virtual_machine", "name", "description"]
