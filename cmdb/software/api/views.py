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
from ..compliance import compliance
from . import serializers


class SoftwareProductViewSet(CMDBModelViewSet):
    queryset = models.SoftwareProduct.objects.all()
    serializer_class = serializers.SoftwareProductSerializer
    filterset_class = filtersets.SoftwareProductFilterSet


class SoftwareVersionViewSet(CMDBModelViewSet):
    queryset = models.SoftwareVersion.objects.all()
    serializer_class = serializers.SoftwareVersionSerializer
    filterset_class = filtersets.SoftwareVersionFilterSet


class SoftwareInstallationViewSet(CMDBModelViewSet):
    queryset = models.SoftwareInstallation.objects.all()
    serializer_class = serializers.SoftwareInstallationSerializer
    filterset_class = filtersets.SoftwareInstallationFilterSet


class LicenseViewSet(CMDBModelViewSet):
    queryset = models.License.objects.all()
    serializer_class = serializers.LicenseSerializer
    filterset_class = filtersets.LicenseFilterSet


class LicenseAssignmentViewSet(CMDBModelViewSet):
    queryset = models.LicenseAssignment.objects.all()
    serializer_class = serializers.LicenseAssignmentSerializer
    filterset_class = filtersets.LicenseAssignmentFilterSet


class ComplianceView(APIView):
    """The license compliance report (``?days=30`` sets the expiry warning window)."""

    permission_classes = [ObjectPermissionRequired]

    @extend_schema(parameters=[OpenApiParameter("days", OpenApiTypes.INT, description="expiry window, default 30")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        days = request.query_params.get("days", "30")
        if not (days.isascii() and days.isdigit()) or int(days) > 3650:
            raise ValidationError({"days": ["A whole number of days between 0 and 3650."]})
        return Response(compliance(expiring_days=int(days), user=request.user).as_dict())
