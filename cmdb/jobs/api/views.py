from typing import Any

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from ..registry import job_enqueue
from . import serializers


class ScheduleViewSet(CMDBModelViewSet):
    queryset = models.Schedule.objects.all()
    serializer_class = serializers.ScheduleSerializer
    filterset_class = filtersets.ScheduleFilterSet


class JobViewSet(CMDBModelViewSet):
    """Job records; POST enqueues a registered job (``{"name": ..., "kwargs": {...}}``)."""

    queryset = models.Job.objects.all()
    serializer_class = serializers.JobSerializer
    filterset_class = filtersets.JobFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send one object: {\"name\": ..., \"kwargs\": {...}}."]})
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        record = job_enqueue(data["name"], kwargs=data.get("kwargs") or {}, user=request.user)
        return Response(self._reread([record.pk])[0], status=status.HTTP_201_CREATED)
