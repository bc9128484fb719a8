"""The REST API: root, status, schema and docs, then every app's declared routes (``api_urls``).

An app declares ``api_urls = (prefix, module)`` on its AppConfig (cmdb/core/domains.py); its
routes are mounted at ``/api/<prefix>/`` and listed in the API root.
"""

from django.urls import include, path

from cmdb.core.domains import api_routes

from .docs import RedocView, SwaggerUIView
from .views import APIRootView, CachedSchemaView, StatusView

urlpatterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("status/", StatusView.as_view(), name="api-status"),
    path("schema/", CachedSchemaView.as_view(), name="api-schema"),
    path("docs/", SwaggerUIView.as_view(), name="api-docs"),
    path("redoc/", RedocView.as_view(), name="api-redoc"),
    *[path(f"{prefix}/", include(module)) for prefix, module in api_routes()],
]
