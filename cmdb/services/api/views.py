from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.viewsets import CMDBModelViewSet
from cmdb.users.permissions import ObjectPermissionRequired

from .. import filtersets, models
from ..impact import MODES, UnknownCI, dependencies_of, impact_of, resolve_refs
from . import serializers


class ServiceViewSet(CMDBModelViewSet):
    queryset = models.Service.objects.all()
    serializer_class = serializers.ServiceSerializer
    filterset_class = filtersets.ServiceFilterSet


class RelationshipTypeViewSet(CMDBModelViewSet):
    queryset = models.RelationshipType.objects.all()
    serializer_class = serializers.RelationshipTypeSerializer
    filterset_class = filtersets.RelationshipTypeFilterSet


class RelationshipViewSet(CMDBModelViewSet):
    queryset = models.Relationship.objects.all()
    serializer_class = serializers.RelationshipSerializer
    filterset_class = filtersets.RelationshipFilterSet


class RedundancyGroupViewSet(CMDBModelViewSet):
    queryset = models.RedundancyGroup.objects.all()
    serializer_class = serializers.RedundancyGroupSerializer
    filterset_class = filtersets.RedundancyGroupFilterSet


class RedundancyMemberViewSet(CMDBModelViewSet):
    queryset = models.RedundancyMember.objects.all()
    serializer_class = serializers.RedundancyMemberSerializer
    filterset_class = filtersets.RedundancyMemberFilterSet


def parse_ci_ids(request: Request) -> list[int]:
    """``?ci=1&ci=core-zi-01`` or ``?ci=1,2``: registry ids or names of CIs the user may see, at least
    one; a name that is unknown or shared by several CIs is a 400 naming it (and the candidates)."""
    raw = [part.strip() for value in request.query_params.getlist("ci") for part in value.split(",")]
    raw = [r for r in raw if r]
    if not raw:
        raise ValidationError({"ci": ["Give at least one CI id or name (?ci=...)."]})
    if len(raw) > 1000:
        raise ValidationError({"ci": ["At most 1,000 CIs per question."]})
    ids, errors = resolve_refs(raw, request.user)
    if errors:
        raise ValidationError({"ci": errors})
    return ids


CI_PARAM = OpenApiParameter("ci", OpenApiTypes.STR, many=True, required=True,
                            description="CI registry id(s) or name(s); a name shared by several CIs is a 400 "
                                        "listing them")


class ImpactView(APIView):
    """What fails or degrades when the given CIs fail (``mode=down|degraded``)."""

    permission_classes = [ObjectPermissionRequired]

    @extend_schema(parameters=[
        CI_PARAM,
        OpenApiParameter("mode", OpenApiTypes.STR, enum=list(MODES), description="failure mode (default down)"),
        OpenApiParameter("limit", OpenApiTypes.INT, description="at most this many affected CIs (0 = all)"),
    ], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ci_ids = parse_ci_ids(request)
        mode = request.query_params.get("mode", "down")
        if mode not in MODES:
            raise ValidationError({"mode": [f"One of: {', '.join(MODES)}."]})
        limit_raw = request.query_params.get("limit", "0")
        if not (limit_raw.isascii() and limit_raw.isdigit()):
            raise ValidationError({"limit": ["A non-negative integer."]})
        try:
            result = impact_of(ci_ids, mode=mode, user=request.user)
        except UnknownCI as exc:
            raise ValidationError({"ci": [str(exc)]}) from exc
        return Response(result.as_dict(limit=int(limit_raw) or None))


class StackView(APIView):
    """Everything the given CIs (typically a service) depend on, with the chain that explains each."""

    permission_classes = [ObjectPermissionRequired]

    @extend_schema(parameters=[CI_PARAM], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ci_ids = parse_ci_ids(request)
        try:
            return Response(dependencies_of(ci_ids, user=request.user))
        except UnknownCI as exc:
            raise ValidationError({"ci": [str(exc)]}) from exc
