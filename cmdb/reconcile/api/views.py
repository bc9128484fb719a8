from typing import Any

from django.http import HttpResponse
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.users.permissions import has_action

from .. import filtersets, models
from ..selectors import plan_text, run_plan
from ..services import run_request
from . import serializers


class ReconcileRunViewSet(CMDBModelViewSet):
    """Runs.  POST ``{"reconciler": "ansible", "scope": "all", "dry_run": true}`` queues one;
    an apply (``dry_run: false``) also needs the *change* permission on runs."""

    queryset = models.ReconcileRun.objects.all()
    serializer_class = serializers.ReconcileRunSerializer
    filterset_class = filtersets.ReconcileRunFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send one object."]})
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dry_run = data.get("dry_run", True)
        if not dry_run and not has_action(request.user, models.ReconcileRun, "change"):
            raise PermissionDenied("Applying a plan needs the change permission on reconcile runs.")
        run = run_request(reconciler=data["reconciler"], scope=data.get("scope") or "all", dry_run=dry_run,
                          user=request.user)
        return Response(self._reread([run.pk])[0], status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def plan(self, request: Request, pk: Any = None) -> Any:
        """The stored plan: items with diffs and results (``?output=text`` for one readable diff)."""
        run = self.get_queryset().filter(pk=self._pk(pk)).first()
        if run is None:
            raise NotFound()
        actions = run_plan(run, user=request.user)
        if request.query_params.get("output") == "text":
            return HttpResponse(plan_text(actions), content_type="text/plain; charset=utf-8")
        rows = serializers.ReconcileActionSerializer(actions, many=True, context=self.get_serializer_context()).data
        return Response({"run": self._reread([run.pk])[0], "count": len(rows), "items": rows})


class ReconcileActionViewSet(ReadOnlyCMDBViewSet):
    queryset = models.ReconcileAction.objects.all()
    serializer_class = serializers.ReconcileActionSerializer
    filterset_class = filtersets.ReconcileActionFilterSet


class CIDriftViewSet(ReadOnlyCMDBViewSet):
    queryset = models.CIDrift.objects.all()
    serializer_class = serializers.CIDriftSerializer
    filterset_class = filtersets.CIDriftFilterSet
