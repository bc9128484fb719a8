"""The reconciliation page of a CI: which source set which attribute when, and the ingests behind it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cmdb.users.permissions import restrict

from .models import Host
from .selectors import reconciliation


@login_required
def reconciliation_view(request: HttpRequest, ci_id: int) -> HttpResponse:
    host = restrict(Host.objects.filter(ci_id=ci_id), request.user, "view").first()
    if host is None:
        raise Http404("No discovered CI with this id, or not yours to see.")
    return render(request, "discovery/reconciliation.html", {"host": host, "data": reconciliation(host)})
