from typing import Any

from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

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
    # The target of each note in one query per target type (the serializer renders it).
    queryset = models.JournalEntry.objects.select_related("assigned_object_type").prefetch_related(
        "tags", "assigned_object")
    serializer_class = serializers.JournalEntrySerializer
    filterset_class = filtersets.JournalEntryFilterSet


class ConfigContextViewSet(CMDBModelViewSet):
    """Config contexts: single-object writes through the serializer (it sets the assignments), change-logged."""

    queryset = models.ConfigContext.objects.prefetch_related("sites", "locations", "roles", "platforms", "tenants",
                                                             "tags")
    serializer_class = serializers.ConfigContextSerializer
    filterset_class = filtersets.ConfigContextFilterSet
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send one config context object."]})
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with self._logging():
            obj = serializer.save()
        return Response(self._reread([obj.pk])[0], status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if instance is None:
            raise NotFound()
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send an object."]})
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with self._logging():
            serializer.save()
        return Response(self._reread([instance.pk])[0])

    def bulk_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ValidationError({"non_field_errors": ["Update config contexts one at a time."]})
