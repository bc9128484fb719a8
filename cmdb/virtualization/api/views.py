from django.db.models import Count

from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from . import serializers


class ClusterTypeViewSet(CMDBModelViewSet):
    queryset = models.ClusterType.objects.all()
    serializer_class = serializers.ClusterTypeSerializer
    filterset_class = filtersets.ClusterTypeFilterSet


class ClusterGroupViewSet(CMDBModelViewSet):
    queryset = models.ClusterGroup.objects.all()
    serializer_class = serializers.ClusterGroupSerializer
    filterset_class = filtersets.ClusterGroupFilterSet


class ClusterViewSet(CMDBModelViewSet):
    queryset = models.Cluster.objects.all()
    serializer_class = serializers.ClusterSerializer
    filterset_class = filtersets.ClusterFilterSet


class VirtualMachineViewSet(CMDBModelViewSet):
    queryset = models.VirtualMachine.objects.all()
    serializer_class = serializers.VirtualMachineSerializer
    filterset_class = filtersets.VirtualMachineFilterSet


class VMInterfaceViewSet(CMDBModelViewSet):
    queryset = models.VMInterface.objects.annotate(count_ipaddresses=Count("ip_addresses"))
    serializer_class = serializers.VMInterfaceSerializer
    filterset_class = filtersets.VMInterfaceFilterSet
    extra_ordering = ("count_ipaddresses",)
