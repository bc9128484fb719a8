from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from . import serializers


class TenantGroupViewSet(CMDBModelViewSet):
    queryset = models.TenantGroup.objects.all()
    serializer_class = serializers.TenantGroupSerializer
    filterset_class = filtersets.TenantGroupFilterSet


class TenantViewSet(CMDBModelViewSet):
    queryset = models.Tenant.objects.all()
    serializer_class = serializers.TenantSerializer
    filterset_class = filtersets.TenantFilterSet


class ContactRoleViewSet(CMDBModelViewSet):
    queryset = models.ContactRole.objects.all()
    serializer_class = serializers.ContactRoleSerializer
    filterset_class = filtersets.ContactRoleFilterSet


class ContactViewSet(CMDBModelViewSet):
    queryset = models.Contact.objects.all()
    serializer_class = serializers.ContactSerializer
    filterset_class = filtersets.ContactFilterSet


class ContactAssignmentViewSet(CMDBModelViewSet):
    queryset = models.ContactAssignment.objects.select_related("object_type", "contact", "role").prefetch_related(
        "tags", "object"  # each object in one query per object type
    )
    serializer_class = serializers.ContactAssignmentSerializer
    filterset_class = filtersets.ContactAssignmentFilterSet
