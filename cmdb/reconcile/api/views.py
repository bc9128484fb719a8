from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.jobs.api.views import EnqueueCreateMixin
from cmdb.users.permissions import has_action

from .. import filtersets, models
from ..selectors import plan_items, plan_text, run_plan
from ..services import RunRefused, apply_request, run_request
from . import serializers


def _refused(exc: RunRefused) -> ValidationError:
    return ValidationError({key: [message] for key, message in exc.errors.items()})


class ReconcileRunViewSet(EnqueueCreateMixin, CMDBModelViewSet):
    """Runs.  POST ``{"reconciler": "ansible", "scope": "tag:web", "dry_run": true, "options": {...}}`` queues
    one; an apply (``dry_run: false``) also needs the *change* permission on runs.  A scope that does not
    parse, names a kind the reconciler does not manage or matches no CI you may view (dry run) or change
    (apply) is refused with a 400 naming ``scope``; bad options with a 400 naming ``options``."""

    queryset = models.ReconcileRun.objects.select_related("job", "user")
    serializer_class = serializers.ReconcileRunSerializer
    filterset_class = filtersets.ReconcileRunFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def enqueue(self, data: dict[str, Any], request: Request) -> Any:
        dry_run = data.get("dry_run", True)
        if not dry_run and not has_action(request.user, models.ReconcileRun, "change"):
            raise PermissionDenied("Applying a plan needs the change permission on reconcile runs.")
        try:
            return run_request(reconciler=data["reconciler"], scope=data.get("scope") or "all", dry_run=dry_run,
                               options=data.get("options") or {}, user=request.user)
        except RunRefused as exc:
            raise _refused(exc) from exc

    @action(detail=True, methods=["get"])
    def plan(self, request: Request, pk: Any = None) -> Any:
        """The run's plan: items with diffs and outcomes (``?output=text`` for one readable diff)."""
        run = self.get_queryset().filter(pk=self._pk(pk)).first()
        if run is None:
            raise NotFound()
        actions = run_plan(run, user=request.user)
        if request.query_params.get("output") == "text":
            return HttpResponse(plan_text(actions), content_type="text/plain; charset=utf-8")
        rows = serializers.PlanItemSerializer(actions, many=True, context=self.get_serializer_context()).data
        return Response({"run": self._reread([run.pk])[0], "plan": run.plan_id, "count": len(rows), "items": rows})


class PlanViewSet(ReadOnlyCMDBViewSet):
    """Stored plans.  ``POST /api/reconcile/plans/{id}/apply/`` queues applying exactly that plan (refused
    when the real system or the CMDB changed since: the run fails with the difference, re-plan)."""

    queryset = models.Plan.objects.all()
    serializer_class = serializers.PlanSerializer
    filterset_class = filtersets.PlanFilterSet
    http_method_names = ["get", "post", "head", "options"]  # POST only for .../apply/

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise MethodNotAllowed("POST", detail="Plans are made by runs: POST /api/reconcile/runs/.")

    @action(detail=True, methods=["get"])
    def items(self, request: Request, pk: Any = None) -> Any:
        plan = self.get_queryset().filter(pk=self._pk(pk)).first()
        if plan is None:
            raise NotFound()
        rows = plan_items(plan, user=request.user)
        if request.query_params.get("output") == "text":
            return HttpResponse(plan_text(rows), content_type="text/plain; charset=utf-8")
        data = serializers.PlanItemSerializer(rows, many=True, context=self.get_serializer_context()).data
        return Response({"plan": self._reread([plan.pk])[0], "count": len(data), "items": data})

    @extend_schema(request=None, responses=serializers.ReconcileRunSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: Any = None) -> Any:
        plan = self.get_queryset().filter(pk=self._pk(pk)).first()
        if plan is None:
            raise NotFound()
        if not (has_action(request.user, models.ReconcileRun, "add")
                and has_action(request.user, models.ReconcileRun, "change")):
            raise PermissionDenied("Applying a plan needs the add and change permissions on reconcile runs.")
        try:
            run = apply_request(plan, user=request.user)
        except RunRefused as exc:
            raise _refused(exc) from exc
        body = serializers.ReconcileRunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class PlanItemViewSet(ReadOnlyCMDBViewSet):
    queryset = models.PlanItem.objects.all()
    serializer_class = serializers.PlanItemSerializer
    filterset_class = filtersets.PlanItemFilterSet


class CIDriftViewSet(ReadOnlyCMDBViewSet):
    queryset = models.CIDrift.objects.all()
    serializer_class = serializers.CIDriftSerializer
    filterset_class = filtersets.CIDriftFilterSet


class ReconcilerListView(APIView):
    """The registered reconcilers: the CI kinds each manages and its declared options (name, type, default,
    help, choices) — what ``options`` of a run may hold."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": serializers.describe_reconcilers()})
