from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.users.permissions import ObjectPermissionRequired

from .. import filtersets, models, selectors
from ..services import ReportInvalid, ReportRefused, ingest_report
from . import serializers


class HostViewSet(CMDBModelViewSet):
    queryset = models.Host.objects.all()
    serializer_class = serializers.HostSerializer
    filterset_class = filtersets.HostFilterSet

    @action(detail=True, methods=["get"])
    def reconciliation(self, request: Request, pk: Any = None) -> Response:
        """Which source set which attribute when, plus the recent ingests that explain it."""
        host = self.get_queryset().filter(pk=self._pk(pk)).first()
        if host is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(selectors.reconciliation(host))


class AttributeSourceViewSet(ReadOnlyCMDBViewSet):
    queryset = models.AttributeSource.objects.all()
    serializer_class = serializers.AttributeSourceSerializer
    filterset_class = filtersets.AttributeSourceFilterSet


class IngestRecordViewSet(ReadOnlyCMDBViewSet):
    queryset = models.IngestRecord.objects.all()
    serializer_class = serializers.IngestRecordSerializer
    filterset_class = filtersets.IngestRecordFilterSet


class ReportView(APIView):
    """``POST`` one discovery report (schema: discovery/agents/schema/report-v1.json).

    201 when it created a CI, 200 when it updated one or changed nothing; 400 with
    ``{"<json path>": [messages]}`` for a report that does not fit the schema or
    holds values that cannot be stored, 403 with the same shape for a report that
    would touch a CI outside the reporter's tenants; in both cases nothing is
    written.  Needs ``add`` on discovered hosts (and ``change`` within the user's
    tenants to update one); see :mod:`discovery.scope`.
    """

    permission_classes = [ObjectPermissionRequired]
    queryset = models.Host.objects.none()
    required_action = "add"
    body_limit = "discovery_report"

    def get(self, request: Request) -> Response:
        from discovery.agents.report import schema

        return Response(schema())

    def post(self, request: Request) -> Response:
        try:
            result = ingest_report(request.data, user=request.user, request_id=getattr(request, "id", None))
        except ReportInvalid as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        except ReportRefused as exc:
            return Response(exc.errors, status=status.HTTP_403_FORBIDDEN)
        code = status.HTTP_201_CREATED if result.action == "create" else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)
