"""VDI API: pools, desktops, schedules, timetables, host capacity data, and the capacity answer per cluster."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.viewsets import CMDBModelViewSet
from cmdb.users.permissions import restrict
from cmdb.virtualization.models import Cluster

from .. import capacity, filtersets, models
from . import serializers


class GpuProfileViewSet(CMDBModelViewSet):
    queryset = models.GpuProfile.objects.all()
    serializer_class = serializers.GpuProfileSerializer
    filterset_class = filtersets.GpuProfileFilterSet


class HostCapacityViewSet(CMDBModelViewSet):
    queryset = models.HostCapacity.objects.all()
    serializer_class = serializers.HostCapacitySerializer
    filterset_class = filtersets.HostCapacityFilterSet


class ClusterPolicyViewSet(CMDBModelViewSet):
    queryset = models.ClusterPolicy.objects.all()
    serializer_class = serializers.ClusterPolicySerializer
    filterset_class = filtersets.ClusterPolicyFilterSet


class PoolViewSet(CMDBModelViewSet):
    queryset = models.Pool.objects.all()
    serializer_class = serializers.PoolSerializer
    filterset_class = filtersets.PoolFilterSet


class PoolScheduleRuleViewSet(CMDBModelViewSet):
    queryset = models.PoolScheduleRule.objects.all()
    serializer_class = serializers.PoolScheduleRuleSerializer
    filterset_class = filtersets.PoolScheduleRuleFilterSet


class TimetableSourceViewSet(CMDBModelViewSet):
    queryset = models.TimetableSource.objects.all()
    serializer_class = serializers.TimetableSourceSerializer
    filterset_class = filtersets.TimetableSourceFilterSet

    @property
    def required_action(self) -> str | None:
        """Refreshing rewrites the timetable: the change permission, not add (what a POST needs otherwise)."""
        return "change" if getattr(self, "action", None) == "refresh" else None

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: Any = None) -> Response:
        """Fetch the timetable's feed now (the job ``vdi.timetables.refresh`` does it for every timetable):
        ``{"changed": bool, "timetable": {...}}``; a feed that cannot be fetched or parsed is a 400 naming
        ``feed_url`` and changes nothing."""
        from django.core.exceptions import ValidationError as ModelValidationError

        from ..feeds import FeedError
        from ..feeds import refresh as refresh_feed
        from ..ics import ICSError

        source = restrict(models.TimetableSource.objects.filter(pk=int(pk) if str(pk).isdigit() else None),
                          request.user, "change").first()
        if source is None:
            raise NotFound()
        if not source.feed_url:
            raise ValidationError({"feed_url": ["This timetable has no feed URL."]})
        try:
            changed = refresh_feed(source, user=request.user, via="api")
        except (FeedError, ICSError) as exc:
            raise ValidationError({"feed_url": [str(exc)]}) from None
        except ModelValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response({"changed": changed, "timetable": self.get_serializer(source).data})


class DesktopViewSet(CMDBModelViewSet):
    queryset = models.Desktop.objects.all()
    serializer_class = serializers.DesktopSerializer
    filterset_class = filtersets.DesktopFilterSet


class LicencePolicyViewSet(CMDBModelViewSet):
    queryset = models.LicencePolicy.objects.all()
    serializer_class = serializers.LicencePolicySerializer
    filterset_class = filtersets.LicencePolicyFilterSet


class CapacityView(APIView):
    """``GET /api/vdi/capacity/``: per host cluster the user may see, CPU, memory and GPU demand of its pools
    over the next 7 days of their schedules against what its hosts offer (with the overcommit ratios)."""

    queryset = models.Pool.objects.all()  # the caller needs view on pools

    @extend_schema(parameters=[OpenApiParameter("cluster", OpenApiTypes.INT, many=True,
                                                description="cluster id(s); default all visible clusters")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        wanted = request.query_params.getlist("cluster")
        if not all(v.isdigit() and len(v) < 12 for v in wanted):
            raise ValidationError({"cluster": ["Cluster ids are integers."]})
        clusters = restrict(Cluster.objects.all(), request.user, "view")
        visible_pools = restrict(models.Pool.objects.all(), request.user, "view")
        clusters = clusters.filter(pk__in=visible_pools.values("cluster_id"))
        if wanted:
            clusters = clusters.filter(pk__in=[int(v) for v in wanted])
        ids = list(clusters.values_list("pk", flat=True))
        from ..schedule import specs

        pools = specs(visible_pools.filter(cluster_id__in=ids))
        results: list[dict[str, Any]] = [c.as_dict() for c in capacity.check(ids, pools=pools)] if ids else []
        return Response({"count": len(results), "results": results})
