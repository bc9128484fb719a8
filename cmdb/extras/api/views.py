from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from . import serializers


class TagViewSet(CMDBModelViewSet):
    queryset = models.Tag.objects.all()
    serializer_class = serializers.TagSerializer
    filterset_class = filtersets.TagFilterSet


class CustomFieldViewSet(CMDBModelViewSet):
    queryset = models.CustomField.objects.all()
    serializer_class = serializers.CustomFieldSerializer
    filterset_class = filtersets.CustomFieldFilterSet


class JournalEntryViewSet(CMDBModelViewSet):
    queryset = models.JournalEntry.objects.select_related("assigned_object_type").prefetch_related("tags")
    serializer_class = serializers.JournalEntrySerializer
    filterset_class = filtersets.JournalEntryFilterSet
