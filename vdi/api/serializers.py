from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["created", "last_updated"]
CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]


class GpuProfileSerializer(TaggedModelSerializer):
    class Meta:
        model = models.GpuProfile
        fields = ["id", "url", "display", "name", "slug", "gpu_model", "frame_buffer_mb", "description", "tags",
                  "custom_fields", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "gpu_model", "frame_buffer_mb"]


class HostCapacitySerializer(BaseModelSerializer):
    class Meta:
        model = models.HostCapacity
        fields = ["id", "url", "display", "host", "cpu_cores", "memory_mb", "gpu_model", "gpu_count",
                  "gpu_frame_buffer_mb", "uri", *STAMPS]
        brief_fields = ["id", "url", "display", "host"]


class ClusterPolicySerializer(BaseModelSerializer):
    class Meta:
        model = models.ClusterPolicy
        fields = ["id", "url", "display", "cluster", "cpu_overcommit", "memory_overcommit", *STAMPS]
        brief_fields = ["id", "url", "display", "cluster"]


class PoolSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Pool
        fields = ["id", "url", "display", "name", "pool_type", "golden_image", "vcpus", "memory_mb", "disk_gb",
                  "gpu_profile", "min_size", "max_size", "spare", "entitled_groups", "cluster", "driver",
                  "kube_cluster", "kube_namespace",
                  "description", "comments", *CI_FIELDS, "tags", "custom_fields", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "pool_type"]


class PoolScheduleRuleSerializer(BaseModelSerializer):
    class Meta:
        model = models.PoolScheduleRule
        fields = ["id", "url", "display", "pool", "weekday", "start", "end", "size", *STAMPS]
        brief_fields = ["id", "url", "display", "pool", "weekday", "start", "end", "size"]


class TimetableSourceSerializer(BaseModelSerializer):
    class Meta:
        model = models.TimetableSource
        fields = ["id", "url", "display", "pool", "name", "feed_url", "content", "room_filter", "lead_minutes",
                  "size", *STAMPS]
        brief_fields = ["id", "url", "display", "pool", "name"]


class DesktopSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Desktop
        fields = ["id", "url", "display", "name", "pool", "state", "assigned_user", "host", "last_used",
                  "assignment_expires", "domain_uuid", "address", "description", "comments", *CI_FIELDS, "tags",
                  "custom_fields", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "pool", "state"]


class LicencePolicySerializer(BaseModelSerializer):
    class Meta:
        model = models.LicencePolicy
        fields = ["id", "url", "display", "license", "on_exceed", *STAMPS]
        brief_fields = ["id", "url", "display", "license", "on_exceed"]
