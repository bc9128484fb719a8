"""The change-management API (``/api/changes/``).

Writes of objects with many-to-many assignments go through their serializer in one change-logged
transaction, and the result must be inside the writer's tenant scope (else the write rolls back
with a 403), as the core write services check for every other model.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.core.models import ConfigurationItem
from cmdb.reconcile.models import Plan
from cmdb.users.permissions import has_action, restrict

from .. import filtersets, models
from ..approvals import ApprovalRefused, decide
from ..approvals import status as approval_status
from ..gate import Decision
from ..gate import decide as gate_decide
from ..plans import PlanRefused, attach
from ..transitions import TransitionRefused, allowed_from, transition
from . import serializers


class SerializerWriteMixin:
    """Single-object create/update through the serializer (it sets the many-to-many assignments)."""

    #: States of a change in which it may be edited (None: any; only for changes).
    def _save(self, serializer: Any, action: str) -> Any:
        view: Any = self
        with view._logging(), transaction.atomic():
            obj = serializer.save()
            model = type(obj)
            if not restrict(model.objects.filter(pk=obj.pk), view.request.user, action).exists():
                raise PermissionDenied("The object would be outside what you may " + action + ".")
        return obj

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send one object."]})
        serializer = view.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self._save(serializer, "add")
        return Response(view._reread([obj.pk])[0], status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        partial = kwargs.pop("partial", False)
        instance = view.get_queryset().filter(pk=view._pk(kwargs.get("pk"))).first()
        if instance is None:
            raise NotFound()
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send an object."]})
        self.check_editable(instance)
        serializer = view.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self._save(serializer, "change")
        return Response(view._reread([instance.pk])[0])

    def check_editable(self, instance: Any) -> None:
        """Refuse (400) edits of an object in a state that forbids them."""

    def bulk_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ValidationError({"non_field_errors": ["Update these objects one at a time."]})

    def bulk_partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.bulk_update(request)


def _refused(exc: TransitionRefused) -> ValidationError:
    return ValidationError(exc.as_dict())


class ChangeViewSet(SerializerWriteMixin, CMDBModelViewSet):
    """Change requests.  Create and edit drafts; move them with ``POST {id}/transition/ {"to", "reason"}``
    (submit, schedule, start, complete, fail, roll back, cancel; a refused transition is a 400 listing the
    allowed ones), decide with ``POST {id}/approve/`` and ``{id}/reject/ {"comment"}``, attach stored
    reconcile plans with ``POST {id}/plans/ {"plan": id}``, and apply them with ``POST {id}/apply/``."""

    queryset = (models.Change.objects.select_related("requester", "implementer", "tenant", "template")
                .prefetch_related("cis"))
    serializer_class = serializers.ChangeSerializer
    filterset_class = filtersets.ChangeFilterSet

    @property
    def required_action(self) -> str | None:
        """Approvers need only see a change (membership of its groups is checked); moving it needs *change*."""
        return {"approve": "view", "reject": "view", "approvals": "view", "history": "view",
                "transition": "change", "apply": "change", "plans": "change" if self.request.method == "POST"
                else "view"}.get(self.action or "")

    def check_editable(self, instance: Any) -> None:
        if instance.state != models.ChangeState.DRAFT:
            raise ValidationError({"state": [f"Change {instance.pk} is {instance.state}: only drafts are edited "
                                             "(what was submitted is what is assessed and approved)."]})

    def _change(self, pk: Any, action_name: str = "view") -> models.Change:
        change = restrict(models.Change.objects.all(), self.request.user, action_name).filter(pk=self._pk(pk)).first()
        if change is None:
            if action_name != "view" and restrict(models.Change.objects.all(), self.request.user, "view").filter(
                    pk=self._pk(pk)).exists():
                raise PermissionDenied(f"You may not {action_name} this change.")
            raise NotFound()
        return change

    @extend_schema(request=serializers.TransitionRequestSerializer, responses=serializers.ChangeSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: Any = None) -> Response:
        """Move the change to ``to`` with a ``reason`` (recorded with who did it)."""
        change = self._change(pk, "change")
        body = serializers.TransitionRequestSerializer(data=request.data)
        if not body.is_valid():
            errors = dict(body.errors)
            errors["allowed"] = list(allowed_from(change.state))
            raise ValidationError(errors)
        try:
            transition(change, body.validated_data["to"], user=request.user, reason=body.validated_data["reason"])
        except TransitionRefused as exc:
            raise _refused(exc) from exc
        return Response(self._reread([change.pk])[0])

    def _decide(self, request: Request, pk: Any, decision: str) -> Response:
        change = self._change(pk, "view")
        body = serializers.DecisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            decide(change, request.user, decision, body.validated_data["comment"])
        except ApprovalRefused as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        except TransitionRefused as exc:
            raise _refused(exc) from exc
        change.refresh_from_db()
        return Response({"change": self._reread([change.pk])[0], "approvals": approval_status(change)})

    @extend_schema(request=serializers.DecisionRequestSerializer, responses=serializers.ChangeSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: Any = None) -> Response:
        """Approve as a member of the change's approver groups (quorum per group)."""
        return self._decide(request, pk, models.ApprovalDecision.APPROVE)

    @extend_schema(request=serializers.DecisionRequestSerializer, responses=serializers.ChangeSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: Any = None) -> Response:
        """Reject with a ``comment``: one rejection rejects the change."""
        return self._decide(request, pk, models.ApprovalDecision.REJECT)

    @extend_schema(request=None, responses=serializers.ChangeSerializer)
    @action(detail=True, methods=["get"])
    def approvals(self, request: Request, pk: Any = None) -> Response:
        """The approver groups of the change, their quorum and the decisions of this round."""
        return Response(approval_status(self._change(pk, "view")))

    @extend_schema(request=None, responses=serializers.ChangeTransitionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: Any = None) -> Response:
        """Every transition of the change: from, to, who, why, when."""
        change = self._change(pk, "view")
        rows = models.ChangeTransition.objects.filter(change=change).select_related("user").order_by("at", "pk")
        data = serializers.ChangeTransitionSerializer(rows, many=True, context=self.get_serializer_context()).data
        return Response({"count": len(data), "results": data})

    @extend_schema(request=serializers.AttachPlanSerializer, responses=serializers.ChangePlanSerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def plans(self, request: Request, pk: Any = None) -> Response:
        """The change's plans; POST ``{"plan": id}`` attaches a stored reconcile plan (re-approval needed)."""
        if request.method == "POST":
            change = self._change(pk, "change")
            body = serializers.AttachPlanSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            plan = restrict(Plan.objects.all(), request.user, "view").filter(pk=body.validated_data["plan"]).first()
            if plan is None:
                raise ValidationError({"plan": ["No such plan (or not yours to see)."]})
            try:
                attach(change, plan, user=request.user)
            except PlanRefused as exc:
                raise ValidationError({"plan": [str(exc)]}) from exc
        else:
            change = self._change(pk, "view")
        rows = models.ChangePlan.objects.filter(change=change).order_by("pk")
        data = serializers.ChangePlanSerializer(rows, many=True, context=self.get_serializer_context()).data
        return Response({"count": len(data), "results": data},
                        status=status.HTTP_201_CREATED if request.method == "POST" else status.HTTP_200_OK)

    @extend_schema(request=None, responses=serializers.ChangeSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: Any = None) -> Response:
        """Queue applying the change now (a ``changes.apply`` job): it starts (inside its window), applies its
        approved plans and ends completed or failed by itself.  202 with the job; 400 when it may not start."""
        from cmdb.jobs.registry import job_enqueue

        change = self._change(pk, "change")
        if change.state not in (models.ChangeState.APPROVED, models.ChangeState.SCHEDULED):
            raise ValidationError({"detail": f"Change {change.pk} is {change.state}; only approved or scheduled "
                                             "changes are applied.", "state": change.state})
        if not (has_action(request.user, models.Change, "change")):
            raise PermissionDenied("Applying a change needs the change permission on changes.")
        job = job_enqueue("changes.apply", kwargs={"change_id": change.pk}, user=request.user)
        return Response({"change": change.pk, "job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class ChangeTemplateViewSet(SerializerWriteMixin, CMDBModelViewSet):
    """Standard-change templates: allowed CI kinds and CIs, longest window, allowed reconcilers."""

    queryset = models.ChangeTemplate.objects.prefetch_related("allowed_cis")
    serializer_class = serializers.ChangeTemplateSerializer
    filterset_class = filtersets.ChangeTemplateFilterSet


class ApprovalGroupViewSet(SerializerWriteMixin, CMDBModelViewSet):
    """Approver groups (CABs) per tenant and/or services, with a quorum."""

    queryset = models.ApprovalGroup.objects.select_related("tenant").prefetch_related("members", "services")
    serializer_class = serializers.ApprovalGroupSerializer
    filterset_class = filtersets.ApprovalGroupFilterSet


class ApprovalViewSet(ReadOnlyCMDBViewSet):
    """Decisions on changes (made with ``POST /api/changes/changes/{id}/approve/`` or ``reject/``)."""

    queryset = models.Approval.objects.all()
    serializer_class = serializers.ApprovalSerializer
    filterset_class = filtersets.ApprovalFilterSet


class ChangePlanViewSet(ReadOnlyCMDBViewSet):
    """Plans on changes with their approved fingerprint, run, per-item outcomes and verify result."""

    queryset = models.ChangePlan.objects.all()
    serializer_class = serializers.ChangePlanSerializer
    filterset_class = filtersets.ChangePlanFilterSet


class ChangeTransitionViewSet(ReadOnlyCMDBViewSet):
    queryset = models.ChangeTransition.objects.all()
    serializer_class = serializers.ChangeTransitionSerializer
    filterset_class = filtersets.ChangeTransitionFilterSet


class ChangeCollisionViewSet(ReadOnlyCMDBViewSet):
    queryset = models.ChangeCollision.objects.all()
    serializer_class = serializers.ChangeCollisionSerializer
    filterset_class = filtersets.ChangeCollisionFilterSet


class FreezeViewSet(SerializerWriteMixin, CMDBModelViewSet):
    """Freeze periods: normal changes to CIs of their services, tenants and sites are blocked (all three empty:
    every CI); emergency changes pass with their reason recorded."""

    queryset = models.Freeze.objects.prefetch_related("services", "tenants", "sites")
    serializer_class = serializers.FreezeSerializer
    filterset_class = filtersets.FreezeFilterSet


class UnauthorizedChangeViewSet(ReadOnlyCMDBViewSet):
    """Changes to CIs that no approved, in-window change covered.  ``POST {id}/acknowledge/ {"comment"}``."""

    queryset = models.UnauthorizedChange.objects.all()
    serializer_class = serializers.UnauthorizedChangeSerializer
    filterset_class = filtersets.UnauthorizedChangeFilterSet
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action(self) -> str | None:
        return "change" if self.action == "acknowledge" else None

    @extend_schema(exclude=True)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # POST is allowed for the acknowledge action only: the list takes none (405, not a 400 that would
        # read as a bad body).
        raise MethodNotAllowed("POST", detail="Unauthorized changes are found by reconcile runs and discovery; "
                                              "POST only to {id}/acknowledge/.")

    @extend_schema(request=serializers.DecisionRequestSerializer, responses=serializers.UnauthorizedChangeSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: Any = None) -> Response:
        from django.utils import timezone

        row = restrict(models.UnauthorizedChange.objects.all(), request.user, "change").filter(
            pk=self._pk(pk)).first()
        if row is None:
            raise NotFound()
        body = serializers.DecisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        models.UnauthorizedChange.objects.filter(pk=row.pk).update(
            acknowledged=True, acknowledged_by=request.user, acknowledged_at=timezone.now(),
            comment=body.validated_data["comment"])
        return Response(self._reread([row.pk])[0])


class GateView(APIView):
    """``POST {"ci_ids": [...], "plan": id, "reconciler": "ansible", "at": "..."}``: may these CIs be changed now,
    by you (or this reconciler), with this plan?  ``{"allow", "reasons", "changes", "notes"}``; CIs you may not
    see count as unknown."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=serializers.GateRequestSerializer, responses=serializers.GateAnswerSerializer)
    def post(self, request: Request) -> Response:
        body = serializers.GateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        plan = None
        if data["plan"] is not None:
            plan = restrict(Plan.objects.all(), request.user, "view").filter(pk=data["plan"]).first()
            if plan is None:
                raise ValidationError({"plan": ["No such plan (or not yours to see)."]})
        wanted = list(dict.fromkeys(data["ci_ids"]))
        visible = set(restrict(ConfigurationItem.objects.filter(pk__in=wanted), request.user, "view")
                      .values_list("pk", flat=True))
        hidden = [c for c in wanted if c not in visible]
        shown = [c for c in wanted if c in visible]
        if shown or plan is not None or not wanted:
            decision = gate_decide(shown, user=request.user, reconciler=data["reconciler"] or None, plan=plan,
                                   at=data["at"])
        else:
            decision = Decision(False)
        if hidden:  # a CI the asker may not see is answered as one that does not exist
            decision.allow = False
            decision.reasons = [f"CI {c} does not exist." for c in hidden] + decision.reasons
            decision.changes = []
        seen = set(restrict(models.Change.objects.filter(pk__in=decision.changes), request.user, "view")
                   .values_list("pk", flat=True))
        decision.changes = [c for c in decision.changes if c in seen]
        return Response(decision.as_dict())
