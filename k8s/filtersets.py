from cmdb.api.filters import BaseFilterSet

from . import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "description"]


class ClusterFilterSet(BaseFilterSet):
    class Meta:
        model = models.Cluster
        fields = ["name", "api_url", "served_version", "field_manager", *CI_FIELDS]


class NamespaceFilterSet(BaseFilterSet):
    class Meta:
        model = models.Namespace
        fields = ["cluster", "name", "service", "managed", "requests_cpu", "requests_memory", "limits_cpu",
                  "limits_memory", "pods", "pvcs", "storage", "default_cpu", "default_memory", "default_request_cpu",
                  "default_request_memory", "unmanaged", "stale", *CI_FIELDS]


class NodeFilterSet(BaseFilterSet):
    class Meta:
        model = models.Node
        fields = ["cluster", "name", "system_uuid", "kubelet_version", "os_image", "architecture", "ready", "device",
                  "virtual_machine", "link_rule", "stale", *CI_FIELDS]


class WorkloadFilterSet(BaseFilterSet):
    class Meta:
        model = models.Workload
        fields = ["cluster", "namespace", "kind", "name", "stale", *CI_FIELDS]


class RoleMappingFilterSet(BaseFilterSet):
    class Meta:
        model = models.RoleMapping
        fields = ["contact_role", "cluster_role"]


class K8sSubjectFilterSet(BaseFilterSet):
    class Meta:
        model = models.K8sSubject
        fields = ["contact", "kind", "name"]
        related_paths = {"tenant": "contact__tenant"}
