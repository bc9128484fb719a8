"""The landing page: what is in the CMDB, what changed, what went stale."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..selectors import dashboard_data


def home(request: HttpRequest) -> HttpResponse:
    """``/``: the dashboard for a logged-in user, the public welcome page otherwise."""
    if not request.user.is_authenticated:
        import cmdb

        return render(request, "ui/welcome.html", {"version": cmdb.__version__})
    return dashboard(request)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "ui/dashboard.html", dashboard_data(request.user))
