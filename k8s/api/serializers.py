from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]
CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]


class ClusterSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Cluster
        fields = ["id", "url", "display", "name", "api_url", "ca_certificate", "credentials", "served_version",
                  "field_manager", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "description"]
        read_only_fields = ["served_version"]


class NamespaceSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Namespace
        fields = ["id", "url", "display", "cluster", "name", "service", "managed", "requests_cpu", "requests_memory",
                  "limits_cpu", "limits_memory", "pods", "pvcs", "storage", "storage_classes", "default_cpu",
                  "default_memory", "default_request_cpu", "default_request_memory", "labels", "annotations",
                  "unmanaged", "stale", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "description"]
        read_only_fields = ["unmanaged", "stale"]


class NodeSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Node
        fields = ["id", "url", "display", "cluster", "name", "system_uuid", "kubelet_version", "os_image",
                  "kernel_version", "container_runtime", "architecture", "cpu", "memory", "max_pods", "ready",
                  "device", "virtual_machine", "link_rule", "stale", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "description"]
        read_only_fields = ["stale"]


class WorkloadSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Workload
        fields = ["id", "url", "display", "cluster", "namespace", "kind", "name", "replicas", "ready", "images",
                  "stale", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "kind", "name", "description"]
        read_only_fields = ["stale"]


class RoleMappingSerializer(BaseModelSerializer):
    class Meta:
        model = models.RoleMapping
        fields = ["id", "url", "display", "contact_role", "cluster_role", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "contact_role", "cluster_role"]


class K8sSubjectSerializer(BaseModelSerializer):
    class Meta:
        model = models.K8sSubject
        fields = ["id", "url", "display", "contact", "kind", "name", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "contact", "kind", "name"]
