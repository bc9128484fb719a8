"""Global search: every kind at once, grouped by kind, through cmdb.core.search (permission-filtered)."""

from __future__ import annotations

from collections import OrderedDict

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cmdb.core.search import search

from ..registry import get


@login_required
def search_view(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    groups: OrderedDict[str, dict] = OrderedDict()
    for hit in search(request.user, q) if q else []:
        view = get(hit.object_type)
        group = groups.get(hit.object_type)
        if group is None:
            model = apps.get_model(hit.object_type)
            title = view.title if view else str(model._meta.verbose_name_plural)
            more = f"{view.url()}?q={q}" if view else None
            group = groups[hit.object_type] = {"title": title, "hits": [], "more": more}
        group["hits"].append({"display": hit.display, "url": view.url("detail", hit.id) if view else hit.url})
    total = sum(len(g["hits"]) for g in groups.values())
    return render(request, "ui/search.html", {"q": q, "search_q": q, "groups": list(groups.values()),
                                              "total": total})
