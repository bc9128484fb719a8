"""The landing page; the full web UI is its own issue."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

import cmdb
from cmdb.core.models import ConfigurationItem
from cmdb.users.permissions import restrict


def home(request: HttpRequest) -> HttpResponse:
    """Links to the API, its docs and the admin; CI counts by kind for a logged-in user."""
    counts: list[tuple[str, int]] = []
    if request.user.is_authenticated:
        visible = restrict(ConfigurationItem.objects.all(), request.user, "view")
        counts = list(visible.order_by("kind").values("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return render(request, "core/home.html", {"version": cmdb.__version__, "counts": counts})
