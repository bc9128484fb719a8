"""The project's URLs: the home page, the admin, the API, then every app's declared web routes.

Apps declare their routes on their AppConfig (``web_urls``, ``api_urls``; see cmdb/core/domains.py),
so this module names no domain.  The UI's generic object pages come last: they match
``/<app label>/<model>/`` only for models with registered pages, after every app's own pages.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults

from cmdb.core.domains import web_routes
from cmdb.ui.views.dashboard import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", include("cmdb.api.urls")),
    *[path(prefix, include(module)) for prefix, module in web_routes()],
    path("", include("cmdb.ui.urls")),  # last: only app labels with registered pages match here
]


def handler404(request: HttpRequest, exception: Any) -> HttpResponse:
    """API clients get JSON for unknown URLs too (e.g. ``/api/dcim/devices/1.5/``), with the API-Version header."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
