"""/metrics and the incident pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cmdb.users.permissions import restrict

from . import exposition
from .auth import MetricsDenied, metrics_caller
from .models import Incident

#: The classic text format (what the body is), not prometheus_client's newer default content type.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, streamed; see :mod:`monitoring.exposition`."""
    try:
        caller = metrics_caller(request)
    except MetricsDenied as exc:
        response = HttpResponse(f"{exc}\n", status=exc.status, content_type="text/plain")
        if exc.status == 401:
            response["WWW-Authenticate"] = "Token"
        return response
    body = (chunk.encode() for chunk in exposition.render(caller.user, unscoped=caller.unscoped))
    return StreamingHttpResponse(body, content_type=CONTENT_TYPE)


def _incidents(request: HttpRequest) -> Any:
    return restrict(Incident.objects.select_related("ci", "ci__tenant"), request.user, "view")


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    qs = _incidents(request)
    status = request.GET.get("status", "")
    if status in ("open", "resolved"):
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "monitoring/incident_list.html",
                  {"page": page, "status": status})


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incidents(request).filter(pk=pk).first()
    if incident is None:
        raise Http404("No such incident.")
    return render(request, "monitoring/incident_detail.html",
                  {"incident": incident})
