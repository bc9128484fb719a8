from django.db.models import Count

from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from . import serializers


class SiteViewSet(CMDBModelViewSet):
    queryset = models.Site.objects.all()
    serializer_class = serializers.SiteSerializer
    filterset_class = filtersets.SiteFilterSet


class LocationViewSet(CMDBModelViewSet):
    queryset = models.Location.objects.all()
    serializer_class = serializers.LocationSerializer
    filterset_class = filtersets.LocationFilterSet


class RackViewSet(CMDBModelViewSet):
    queryset = models.Rack.objects.all()
    serializer_class = serializers.RackSerializer
    filterset_class = filtersets.RackFilterSet


class ManufacturerViewSet(CMDBModelViewSet):
    queryset = models.Manufacturer.objects.all()
    serializer_class = serializers.ManufacturerSerializer
    filterset_class = filtersets.ManufacturerFilterSet


class DeviceTypeViewSet(CMDBModelViewSet):
    queryset = models.DeviceType.objects.all()
    serializer_class = serializers.DeviceTypeSerializer
    filterset_class = filtersets.DeviceTypeFilterSet


class InterfaceTemplateViewSet(CMDBModelViewSet):
    queryset = models.InterfaceTemplate.objects.all()
    serializer_class = serializers.InterfaceTemplateSerializer
    filterset_class = filtersets.InterfaceTemplateFilterSet


class DeviceRoleViewSet(CMDBModelViewSet):
    queryset = models.DeviceRole.objects.all()
    serializer_class = serializers.DeviceRoleSerializer
    filterset_class = filtersets.DeviceRoleFilterSet


class PlatformViewSet(CMDBModelViewSet):
    queryset = models.Platform.objects.all()
    serializer_class = serializers.PlatformSerializer
    filterset_class = filtersets.PlatformFilterSet


class DeviceViewSet(CMDBModelViewSet):
    queryset = models.Device.objects.all()
    serializer_class = serializers.DeviceSerializer
    filterset_class = filtersets.DeviceFilterSet


class InterfaceViewSet(CMDBModelViewSet):
    queryset = models.Interface.objects.annotate(count_ipaddresses=Count("ip_addresses"))
    serializer_class = serializers.InterfaceSerializer
    filterset_class = filtersets.InterfaceFilterSet
    extra_ordering = ("count_ipaddresses",)
