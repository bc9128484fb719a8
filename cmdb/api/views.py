"""API root, status and schema views."""

from __future__ import annotations

import functools
import platform
import socket
from typing import Any

import django
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

import cmdb


@functools.cache
def listed_apps() -> tuple[str, ...]:
    """The API prefixes the root lists: every app's declared routes that have a root of their own.

    Read from the apps' declarations (cmdb/core/domains.py), so a new domain is listed without
    touching this module; a prefix without a root view (e.g. ``ansible``, one endpoint) is not.
    """
    from django.urls import Resolver404, resolve

    from cmdb.core.domains import api_routes

    listed = []
    for prefix, _module in api_routes():
        try:
            resolve(f"/api/{prefix}/")
        except Resolver404:
            continue
        listed.append(prefix)
    return tuple(listed)


class APIRootView(APIView):
    """Lists the API's apps; pynetbox reads the API-Version header from here.

    Public, like the schema: ``pynetbox.api.openapi()`` (and so ``strict_filters``) asks for
    the version without a token and accepts only a 2xx or 403 answer.  It reveals no data.
    """

    _ignore_model_permissions = True
    schema = None
    permission_classes = [AllowAny]

    def get(self, request: Any) -> Response:
        return Response({app: request.build_absolute_uri(f"/api/{app}/") for app in listed_apps()})


class StatusView(APIView):
    """Versions and health, shaped like NetBox's ``/api/status/``."""

    _ignore_model_permissions = True

    def get(self, request: Any) -> Response:
        from django.apps import apps

        workers = 0
        if settings.REDIS_URL:
            try:
                import redis

                workers = len(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).client_list())
            except Exception:  # the status page must answer even when Redis is down
                workers = 0
        installed = {a.name: getattr(a.module, "__version__", None) or cmdb.__version__
                     for a in apps.get_app_configs() if not a.name.startswith("django.")}
        return Response(
            {
                "django-version": django.get_version(),
                "hostname": socket.gethostname(),
                "installed-apps": installed,
                "installed_apps": installed,
                "netbox-version": cmdb.NETBOX_COMPAT_VERSION,
                "netbox-full-version": f"{cmdb.NETBOX_COMPAT_VERSION}-cmdb{cmdb.__version__}",
                "cmdb-version": cmdb.__version__,
                "plugins": {},
                "python-version": platform.python_version(),
                "rq-workers-running": 0,
                "redis-connections": workers,
                "database": connection.vendor,
            }
        )


class CachedSchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated once and then served from memory.

    Generation walks every endpoint and filter (seconds); tools like the
    Ansible inventory fetch it on every run, so it must be instant.  The
    rendered schema is kept in this process and in the shared cache (Redis
    when ``REDIS_URL`` is set), so one worker's work serves all of them.
    """

    _memo: dict[str, bytes] = {}

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        fmt = "json" if request.GET.get("format") == "json" or "json" in request.headers.get("Accept", "") else "yaml"
        return HttpResponse(self.content(fmt, request), content_type=(
            "application/json" if fmt == "json" else "application/vnd.oai.openapi"))

    @classmethod
    def content(cls, fmt: str, request: Any = None) -> bytes:
        """The rendered schema (``json`` or ``yaml``); ``request=None`` pre-warms at start-up."""
        from django.core.cache import cache

        key = f"cmdb:openapi:{cmdb.__version__}:{fmt}"
        content = cls._memo.get(key)
        if content is None:
            content = cache.get(key)
        if content is None:
            from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer

            generator = cls.generator_class(urlconf=cls.urlconf, api_version=cls.api_version, patterns=cls.patterns)
            schema = generator.get_schema(request=request, public=True)
            renderer = OpenApiJsonRenderer() if fmt == "json" else OpenApiYamlRenderer()
            content = renderer.render(schema, renderer_context={})
            cache.set(key, content, timeout=24 * 3600)
        cls._memo[key] = content
        return content
