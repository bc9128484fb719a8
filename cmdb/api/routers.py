"""Routers that add NetBox's bulk routes and an app root listing its endpoints."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import DefaultRouter, Route
from rest_framework.views import APIView

from . import registry


class EmptyListView(APIView):
    """An endpoint for a NetBox concept we do not model: an empty, well-formed list.

    Tools such as the Ansible inventory list these unconditionally.
    """

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return Response({"count": 0, "next": None, "previous": None, "results": []})

    def get_queryset(self) -> None:
        return None


class CMDBRouter(DefaultRouter):
    include_format_suffixes = False

    def __init__(self, app: str) -> None:
        super().__init__(trailing_slash=True)
        self.app = app
        self.empty: list[str] = []
        self.links: dict[str, tuple[str, dict[str, Any]]] = {}
        list_route = self.routes[0]
        assert isinstance(list_route, Route)
        self.routes[0] = list_route._replace(
            mapping={**list_route.mapping, "put": "bulk_update", "patch": "bulk_partial_update",
                     "delete": "bulk_destroy"}
        )

    def register(self, prefix: str, viewset: Any, basename: str | None = None) -> None:
        model = viewset.queryset.model
        registry.register(model, f"{self.app}/{prefix}")
        super().register(prefix, viewset, basename or f"{self.app}-{prefix}")

    def register_empty(self, prefix: str) -> None:
        self.empty.append(prefix)

    def add_link(self, key: str, url_name: str, **kwargs: Any) -> None:
        """List a non-viewset endpoint of the app (``impact``, ``sd/devices``) in the app's root view."""
        self.links[key] = (url_name, kwargs)

    def get_api_root_view(self, api_urls: Any = None) -> Any:
        names = OrderedDict((prefix, basename + "-list") for prefix, _v, basename in self.registry)
        empty = list(self.empty)
        links = self.links  # read at request time: links added after the URLs were built count too
        app = self.app

        class AppRootView(APIView):
            """The app's endpoints, each with its absolute URL (NetBox's ``GET /api/<app>/``)."""

            _ignore_model_permissions = True

            @extend_schema(responses={200: OpenApiTypes.OBJECT})
            def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
                """Endpoint name → URL."""
                base = request.build_absolute_uri(f"/api/{app}/")
                data = {prefix: reverse(name, request=request) for prefix, name in names.items()}
                data.update({prefix: f"{base}{prefix}/" for prefix in empty})
                data.update({key: reverse(name, kwargs=kw or None, request=request)
                             for key, (name, kw) in links.items()})
                return Response(dict(sorted(data.items())))

        AppRootView.__name__ = f"{app.title()}RootView"
        return AppRootView.as_view()

    def get_urls(self) -> list[Any]:
        from django.urls import path

        urls = super().get_urls()
        for prefix in self.empty:
            urls.append(path(f"{prefix}/", EmptyListView.as_view(), name=f"{self.app}-{prefix}-list"))
        return urls
