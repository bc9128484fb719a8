from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from . import serializers


class PrefixViewSet(CMDBModelViewSet):
    queryset = models.Prefix.objects.all()
    serializer_class = serializers.PrefixSerializer
    filterset_class = filtersets.PrefixFilterSet


class IPAddressViewSet(CMDBModelViewSet):
    queryset = models.IPAddress.objects.all()
    serializer_class = serializers.IPAddressSerializer
    filterset_class = filtersets.IPAddressFilterSet
