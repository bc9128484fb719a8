"""Who may read /metrics: an API token (or a logged-in session), or an allow-listed network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import exceptions

from cmdb.core.models import ConfigurationItem
from cmdb.users.authentication import TokenAuthentication, client_address
from cmdb.users.networks import address_in_networks
from cmdb.users.permissions import ALL, grants_for


@dataclass
class MetricsCaller:
    """``user`` is None for an allow-listed network; ``unscoped`` means "may see every CI"."""

    user: Any
    unscoped: bool


class MetricsDenied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def metrics_caller(request: Any) -> MetricsCaller:
    """Authenticate a /metrics request or raise :class:`MetricsDenied` (401 without, 403 with wrong credentials)."""
    user = None
    try:
        found = TokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as exc:
        raise MetricsDenied(401, str(exc.detail)) from exc
    if found is not None:
        user = found[0]
    elif getattr(request, "user", None) is not None and request.user.is_authenticated:
        user = request.user
    if user is None:
        if address_in_networks(client_address(request), getattr(settings, "METRICS_ALLOWED_NETWORKS", [])):
            return MetricsCaller(user=None, unscoped=True)
        raise MetricsDenied(401, "Send an API token (Authorization: Token <key>) or scrape from an allowed network.")
    granted, tenants = grants_for(user).lookup(ConfigurationItem._meta.label_lower, "view")
    if not granted:
        raise MetricsDenied(403, "You may not view configuration items.")
    return MetricsCaller(user=user, unscoped=tenants is ALL)
