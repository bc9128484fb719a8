"""Backup API: repositories, policies, attachments (writable); snapshots, runs, restore tests (observed); coverage."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.core.models import ConfigurationItem
from cmdb.users.permissions import ObjectPermissionRequired, restrict

from .. import coverage as cov
from .. import filtersets, models
from . import serializers


class RepositoryViewSet(CMDBModelViewSet):
    queryset = models.Repository.objects.all()
    serializer_class = serializers.RepositorySerializer
    filterset_class = filtersets.RepositoryFilterSet


class PolicyViewSet(CMDBModelViewSet):
    queryset = models.Policy.objects.all()
    serializer_class = serializers.PolicySerializer
    filterset_class = filtersets.PolicyFilterSet


class PolicyAttachmentViewSet(CMDBModelViewSet):
    queryset = models.PolicyAttachment.objects.all()
    serializer_class = serializers.PolicyAttachmentSerializer
    filterset_class = filtersets.PolicyAttachmentFilterSet


class SnapshotViewSet(ReadOnlyCMDBViewSet):
    """Synced from the repositories by the worker; never written through the API."""

    queryset = models.Snapshot.objects.all()
    serializer_class = serializers.SnapshotSerializer
    filterset_class = filtersets.SnapshotFilterSet


class RunViewSet(ReadOnlyCMDBViewSet):
    queryset = models.Run.objects.all()
    serializer_class = serializers.RunSerializer
    filterset_class = filtersets.RunFilterSet


class RestoreTestViewSet(ReadOnlyCMDBViewSet):
    queryset = models.RestoreTest.objects.all()
    serializer_class = serializers.RestoreTestSerializer
    filterset_class = filtersets.RestoreTestFilterSet


PROBLEMS = ("no_policy", "rpo_breached", "no_restore_test")


class CoverageView(APIView):
    """The coverage report over the CIs the caller may see; ``?problem=`` filters, ``?export=csv`` downloads it."""

    permission_classes = [ObjectPermissionRequired]
    queryset = models.Policy.objects.all()  # the permission class: the caller needs view on policies

    @extend_schema(parameters=[
        OpenApiParameter("problem", OpenApiTypes.STR, enum=list(PROBLEMS), description="only this problem"),
        OpenApiParameter("export", OpenApiTypes.STR, enum=["csv"], description="CSV instead of JSON"),
    ], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        problem = request.query_params.get("problem")
        if problem is not None and problem not in PROBLEMS:
            raise ValidationError({"problem": [f"One of {', '.join(PROBLEMS)}."]})
        export = request.query_params.get("export")
        if export not in (None, "csv"):
            raise ValidationError({"export": ["Only csv."]})
        rows = cov.coverage(restrict(ConfigurationItem.objects.all(), request.user, "view"))
        if problem:
            rows = [row for row in rows if row.problem == problem]
        if export == "csv":
            response = HttpResponse(cov.as_csv(rows), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="backup-coverage.csv"'
            return response
        return Response({"count": len(rows), "results": cov.as_dicts(rows)})
