"""The capacity page: per host cluster, resources over the next 7 days of the pools' schedules."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cmdb.users.permissions import restrict

from . import capacity
from .models import Pool
from .schedule import specs


@login_required
def capacity_page(request: HttpRequest) -> HttpResponse:
    pools = specs(restrict(Pool.objects.all(), request.user, "view"))
    clusters = sorted({p.cluster_id for p in pools})
    answers = capacity.check(clusters, pools=pools) if clusters else []
    return render(request, "vdi/capacity.html", {"answers": answers})
