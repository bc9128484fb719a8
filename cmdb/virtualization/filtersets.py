from cmdb.api.filters import BaseFilterSet, HasPrimaryIPFilter

from . import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "description"]


class ClusterTypeFilterSet(BaseFilterSet):
    class Meta:
        model = models.ClusterType
        fields = ["name", "slug", "description"]


class ClusterGroupFilterSet(BaseFilterSet):
    class Meta:
        model = models.ClusterGroup
        fields = ["name", "slug", "description"]


class ClusterFilterSet(BaseFilterSet):
    class Meta:
        model = models.Cluster
        fields = ["name", "type", "group", "site", *CI_FIELDS]


class VirtualMachineFilterSet(BaseFilterSet):
    has_primary_ip = HasPrimaryIPFilter()

    class Meta:
        model = models.VirtualMachine
        fields = ["name", "site", "cluster", "device", "role", "platform", "serial", "primary_ip4", "primary_ip6",
                  "vcpus", "memory", "disk", *CI_FIELDS]
        related_paths = {"cluster_group": "cluster__group", "cluster_type": "cluster__type",
                         "mac_address": "interfaces__mac_address"}


class VMInterfaceFilterSet(BaseFilterSet):
    class Meta:
        model = models.VMInterface
        fields = ["virtual_machine", "name", "enabled", "mac_address", "mtu", "description"]
        related_paths = {"cluster": "virtual_machine__cluster"}
