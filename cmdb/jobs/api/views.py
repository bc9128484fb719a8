from typing import Any

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.api.viewsets import CMDBModelViewSet

from .. import filtersets, models
from ..registry import job_enqueue
from . import serializers


class EnqueueCreateMixin:
    """POST validates the body with the serializer, then :meth:`enqueue` records *and queues* the work
    (instead of a plain ``save``); the answer is the stored record as a GET shows it.

    Shared by jobs and reconcile runs: a view only says how to enqueue what was validated."""

    #: What the 400 says when the body is not one JSON object.
    body_hint = "Send one object."

    def enqueue(self, data: dict[str, Any], request: Request) -> Any:
        raise NotImplementedError

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": [self.body_hint]})
        serializer = self.get_serializer(data=request.data)  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        record = self.enqueue(serializer.validated_data, request)
        return Response(self._reread([record.pk])[0], status=status.HTTP_201_CREATED)  # type: ignore[attr-defined]


class ScheduleViewSet(CMDBModelViewSet):
    queryset = models.Schedule.objects.all()
    serializer_class = serializers.ScheduleSerializer
    filterset_class = filtersets.ScheduleFilterSet


class JobViewSet(EnqueueCreateMixin, CMDBModelViewSet):
    """Job records; POST enqueues a registered job (``{"name": ..., "kwargs": {...}}``)."""

    queryset = models.Job.objects.all()
    serializer_class = serializers.JobSerializer
    filterset_class = filtersets.JobFilterSet
    http_method_names = ["get", "post", "head", "options"]
    body_hint = "Send one object: {\"name\": ..., \"kwargs\": {...}}."

    def enqueue(self, data: dict[str, Any], request: Request) -> Any:
        return job_enqueue(data["name"], kwargs=data.get("kwargs") or {}, user=request.user)
