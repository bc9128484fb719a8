"""Kubernetes API: clusters, namespaces, discovered nodes and workloads, the contact-role → ClusterRole
mapping and contacts' cluster subjects."""

from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from . import serializers


class ClusterViewSet(CMDBModelViewSet):
    queryset = models.Cluster.objects.all()
    serializer_class = serializers.ClusterSerializer
    filterset_class = filtersets.ClusterFilterSet


class NamespaceViewSet(CMDBModelViewSet):
    queryset = models.Namespace.objects.all()
    serializer_class = serializers.NamespaceSerializer
    filterset_class = filtersets.NamespaceFilterSet


class NodeViewSet(CMDBModelViewSet):
    queryset = models.Node.objects.all()
    serializer_class = serializers.NodeSerializer
    filterset_class = filtersets.NodeFilterSet


class WorkloadViewSet(CMDBModelViewSet):
    queryset = models.Workload.objects.all()
    serializer_class = serializers.WorkloadSerializer
    filterset_class = filtersets.WorkloadFilterSet


class RoleMappingViewSet(CMDBModelViewSet):
    queryset = models.RoleMapping.objects.all()
    serializer_class = serializers.RoleMappingSerializer
    filterset_class = filtersets.RoleMappingFilterSet


class K8sSubjectViewSet(CMDBModelViewSet):
    queryset = models.K8sSubject.objects.all()
    serializer_class = serializers.K8sSubjectSerializer
    filterset_class = filtersets.K8sSubjectFilterSet
