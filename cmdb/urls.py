from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults

from cmdb.monitoring import views as monitoring_views
from cmdb.ui.views.dashboard import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", include("cmdb.api.urls")),
    path("graphql/", include("cmdb.graphql.urls")),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("monitoring/", include("cmdb.monitoring.urls")),
    path("", include("cmdb.software.urls")),
    path("", include("cmdb.services.urls")),
    path("reconcile/", include("cmdb.reconcile.urls")),
    path("jobs/", include("cmdb.jobs.urls")),
    path("", include("cmdb.discovery.urls")),
    path("", include("cmdb.ui.urls")),  # last: only app labels with registered pages match here
]


def handler404(request: HttpRequest, exception: Any) -> HttpResponse:
    """API clients get JSON for unknown URLs too (e.g. ``/api/dcim/devices/1.5/``), with the API-Version header."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
