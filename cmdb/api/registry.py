"""Which REST endpoint serves which model (for ``url`` fields and nested objects)."""

from __future__ import annotations

from django.db import models

_endpoints: dict[type[models.Model], str] = {}


def register(model: type[models.Model], path: str) -> None:
    """``path`` is e.g. ``dcim/devices``; the first registration of a model wins."""
    _endpoints.setdefault(model, path)


def endpoint_path(model: type[models.Model]) -> str | None:
    return _endpoints.get(model)


def object_path(model: type[models.Model], pk: object) -> str | None:
    path = _endpoints.get(model)
    return f"/api/{path}/{pk}/" if path else None
