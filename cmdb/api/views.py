"""API root, status and schema views."""

from __future__ import annotations

import platform
import socket
from typing import Any

import django
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

import cmdb


def api_sections() -> list[str]:
    """Every app and page mounted under /api/ (read from the URL configuration, so none is forgotten)."""
    from . import urls

    return sorted(str(p.pattern).strip("/") for p in urls.urlpatterns if str(p.pattern).strip("/"))


class APIRootView(APIView):
    """Lists the API's apps; pynetbox reads the API-Version header from here.

    Public, like the schema: ``pynetbox.api.openapi()`` (and so ``strict_filters``) asks for
    the version without a token and accepts only a 2xx or 403 answer.  It reveals no data.
    """

    _ignore_model_permissions = True
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Any) -> Response:
        """Section name (each app, status, schema, docs) → URL."""
        return Response({name: request.build_absolute_uri(f"/api/{name}/") for name in api_sections()})


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


def _custom_fields_digest() -> str:
    """One small query: what the ``cf_`` filters in the schema depend on."""
    import hashlib

    from cmdb.extras.models import CustomField

    rows = list(CustomField.objects.order_by("name").values_list("name", "type", "label", "object_types", "choices"))
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _reconcilers_digest() -> str:
    """What the per-reconciler option components (``ReconcileOptions<Name>``) depend on: the registered
    reconcilers and their declared options, which settings (``RECONCILERS_EXTRA``) can change."""
    import hashlib

    from cmdb.reconcile.base import reconcilers

    shape = sorted((name, repr(cls.options)) for name, cls in reconcilers().items())
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:12]


class CachedSchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated once and then served from memory.

    Generation walks every endpoint and filter (seconds); tools like the
    Ansible inventory fetch it on every run, so it must be instant.  The
    rendered schema is kept in this process and in the shared cache (Redis
    when ``REDIS_URL`` is set), so one worker's work serves all of them.
    The key holds a digest of the custom-field definitions, whose ``cf_``
    filters the schema lists, and of the registered reconcilers' options:
    a new custom field or reconciler is in the next answer.
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

        key = f"cmdb:openapi:{cmdb.__version__}:{_custom_fields_digest()}:{_reconcilers_digest()}:{fmt}"
        content = cls._memo.get(key)
        if content is None:
            content = cache.get(key)
        if content is None:
            from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer

            from cmdb.extras.customfields import _clear

            _clear()  # this process's definitions may be seconds old; the digest in the key is not

            generator = cls.generator_class(urlconf=cls.urlconf, api_version=cls.api_version, patterns=cls.patterns)
            schema = generator.get_schema(request=request, public=True)
            renderer = OpenApiJsonRenderer() if fmt == "json" else OpenApiYamlRenderer()
            content = renderer.render(schema, renderer_context={})
            cache.set(key, content, timeout=24 * 3600)
        if len(cls._memo) > 16:  # old digests of changed custom fields
            cls._memo.clear()
        cls._memo[key] = content
        return content
