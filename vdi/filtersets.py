from cmdb.api.filters import BaseFilterSet

from . import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "description"]


class GpuProfileFilterSet(BaseFilterSet):
    class Meta:
        model = models.GpuProfile
        fields = ["name", "slug", "gpu_model", "frame_buffer_mb", "description"]


class HostCapacityFilterSet(BaseFilterSet):
    class Meta:
        model = models.HostCapacity
        fields = ["host", "cpu_cores", "memory_mb", "gpu_model", "gpu_count", "gpu_frame_buffer_mb"]
        related_paths = {"cluster": "host__cluster", "tenant": "host__tenant"}


class ClusterPolicyFilterSet(BaseFilterSet):
    class Meta:
        model = models.ClusterPolicy
        fields = ["cluster", "cpu_overcommit", "memory_overcommit"]


class PoolFilterSet(BaseFilterSet):
    class Meta:
        model = models.Pool
        fields = ["name", "pool_type", "golden_image", "vcpus", "memory_mb", "disk_gb", "gpu_profile", "min_size",
                  "max_size", "spare", "cluster", "driver", *CI_FIELDS]


class PoolScheduleRuleFilterSet(BaseFilterSet):
    class Meta:
        model = models.PoolScheduleRule
        fields = ["pool", "weekday", "start", "end", "size"]
        related_paths = {"tenant": "pool__tenant"}


class TimetableSourceFilterSet(BaseFilterSet):
    class Meta:
        model = models.TimetableSource
        fields = ["pool", "name", "room_filter", "lead_minutes", "size"]
        related_paths = {"tenant": "pool__tenant"}


class DesktopFilterSet(BaseFilterSet):
    class Meta:
        model = models.Desktop
        fields = ["name", "pool", "state", "assigned_user", "host", "last_used", "assignment_expires", *CI_FIELDS]
        related_paths = {"cluster": "pool__cluster"}


class LicencePolicyFilterSet(BaseFilterSet):
    class Meta:
        model = models.LicencePolicy
        fields = ["license", "on_exceed"]
