"""Monitoring API: exporter types, monitors, incidents, the service discovery and the Alertmanager webhook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.filters import CMDBFilterBackend
from cmdb.api.pagination import query_int
from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.core.context import change_logging
from cmdb.users.permissions import restrict

from .. import discovery, filtersets, models, services
from ..services import Alert, fingerprint_of
from . import serializers


class ExporterTypeViewSet(CMDBModelViewSet):
    queryset = models.ExporterType.objects.all()
    serializer_class = serializers.ExporterTypeSerializer
    filterset_class = filtersets.ExporterTypeFilterSet


class MonitorViewSet(CMDBModelViewSet):
    queryset = models.Monitor.objects.all()
    serializer_class = serializers.MonitorSerializer
    filterset_class = filtersets.MonitorFilterSet


class IncidentViewSet(ReadOnlyCMDBViewSet):
    """Incidents are written by the Alertmanager webhook only."""

    queryset = models.Incident.objects.all()
    serializer_class = serializers.IncidentSerializer
    filterset_class = filtersets.IncidentFilterSet


class _FilterView:
    """Just enough of a view for :class:`CMDBFilterBackend` to find the filter set."""

    extra_query_params = frozenset({"exporter", "address"})
    common_query_params = frozenset({"limit", "offset"})

    def __init__(self, filterset_class: type) -> None:
        self.filterset_class = filterset_class


class ServiceDiscoveryView(APIView):
    """``GET /api/monitoring/sd/<source>/``: Prometheus ``http_sd_configs`` targets, streamed as one JSON array.

    Filters are the REST filters of the typed endpoint (``/api/dcim/devices/`` for ``devices``) plus
    ``exporter=<slug>`` (repeatable) and ``address=dns``; ``limit``/``offset`` split very large
    target lists over several ``http_sd_configs`` if wanted.
    """

    queryset = models.Monitor.objects.all()  # permission class: the caller needs view on monitors

    @extend_schema(
        parameters=[
            OpenApiParameter("source", OpenApiTypes.STR, OpenApiParameter.PATH, enum=sorted(discovery.SOURCES),
                             description="what to scrape: the REST endpoint whose filters apply"),
            OpenApiParameter("exporter", OpenApiTypes.STR, many=True, description="exporter type slug(s)"),
            OpenApiParameter("address", OpenApiTypes.STR, enum=["ip", "dns"], description="target address"),
            OpenApiParameter("limit", OpenApiTypes.INT), OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="Prometheus http_sd_configs targets; also takes the filters of the source's REST endpoint.",
    )
    def get(self, request: Request, source: str) -> StreamingHttpResponse:
        src = discovery.SOURCES.get(source)
        if src is None:
            raise NotFound(f"No service discovery for {source!r}; use one of {', '.join(discovery.SOURCES)}.")
        params = request.query_params
        queryset = restrict(src.model._default_manager.all(), request.user, "view")
        # The REST lists' own strict check (unknown parameters, bad values), with the SD's parameters added.
        queryset = CMDBFilterBackend().filter_queryset(request, queryset, _FilterView(src.filterset))
        exporters = params.getlist("exporter")
        known = set(models.ExporterType.objects.filter(slug__in=exporters).values_list("slug", flat=True))
        missing = sorted(set(exporters) - known)
        if missing:
            raise ValidationError({"exporter": [f"Unknown exporter type: {', '.join(missing)}."]})
        address = params.get("address", "ip")
        if address not in ("ip", "dns"):
            raise ValidationError({"address": ["Use 'ip' (default) or 'dns'."]})
        rows = discovery.target_rows(src, queryset, exporters)
        offset, limit = query_int(params, "offset", 0) or 0, query_int(params, "limit", None)
        if limit is not None or offset:
            rows = rows[offset: offset + limit if limit is not None else None]
        kind = src.model._meta.label_lower
        targets = discovery.targets(src, rows, kind=kind, prefer_dns=address == "dns")
        return StreamingHttpResponse(_json_array(targets), content_type="application/json")


def _json_array(items: Iterator[dict[str, Any]], batch: int = 1000) -> Iterator[bytes]:
    chunk: list[bytes] = []
    first = True
    yield b"["
    for item in items:
        chunk.append(orjson.dumps(item))
        if len(chunk) >= batch:
            yield (b"" if first else b",") + b",".join(chunk)
            first = False
            chunk.clear()
    if chunk:
        yield (b"" if first else b",") + b",".join(chunk)
    yield b"]"


def _ends_at(value: dt.datetime | None) -> dt.datetime | None:
    # Alertmanager sends "0001-01-01T00:00:00Z" for "not ended yet".
    return value if value is not None and value.year >= 1970 else None


class AlertmanagerWebhookView(APIView):
    """``POST /api/monitoring/alertmanager/``: Alertmanager's webhook; opens, updates and resolves incidents.

    Configure a ``webhook_configs`` receiver with ``http_config.authorization`` (type ``Token``) and a
    read-write token whose user may add and change incidents.
    """

    queryset = models.Incident.objects.all()
    required_action = "add"
    body_limit = "alertmanager"

    @extend_schema(request=serializers.AlertmanagerWebhookSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send Alertmanager's webhook JSON object."]})
        payload = serializers.AlertmanagerWebhookSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        alerts = [
            Alert(status=a["status"], labels=dict(a["labels"]), annotations=dict(a["annotations"]),
                  starts_at=a["startsAt"], ends_at=_ends_at(a.get("endsAt")), generator_url=a["generatorURL"],
                  fingerprint=a["fingerprint"] or fingerprint_of(a["labels"]))
            for a in payload.validated_data["alerts"]
        ]
        try:
            with change_logging(user=request.user, source="alertmanager", request_id=getattr(request, "id", None)):
                applied = services.alerts_apply(alerts, user=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.BatchValidationError as exc:
            raise ValidationError({"alerts": exc.errors}) from exc
        return Response({"results": [{"fingerprint": alert.fingerprint, "result": outcome,
                                      "incident": incident.pk if incident else None}
                                     for alert, (outcome, incident) in zip(alerts, applied, strict=True)]})
