"""Web UI: list/detail pages for discovered hosts, and a reconciliation panel linking to the per-CI page."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse

from cmdb.ui.registry import register, register_panel
from cmdb.users.permissions import restrict

from . import filtersets, models

register(
    models.Host,
    filterset=filtersets.HostFilterSet,
    columns=["name", "role", "fqdn", "serial", "manufacturer", "product", "os_name", "os_version", "is_virtual",
             "identified_by", "stale", "last_seen", "status", "tenant"],
    default_columns=["name", "fqdn", "os_name", "os_version", "identified_by", "stale", "last_seen"],
    form_fields=["name", "fqdn", "os_name", "os_version", "status", "tenant", "criticality", "owner", "description",
                 "comments"],
    list_filters=["role", "stale", "is_virtual", "status"],
    group="Discovery",
)


def reconciliation_panel(request: Any, obj: Any) -> str | None:
    """On any CI discovery knows: identification rule, staleness and a link to the reconciliation page."""
    ci_id = getattr(obj, "ci_id", None)
    if ci_id is None:
        return None
    host = restrict(models.Host.objects.filter(ci_id=ci_id), request.user, "view").first()
    if host is None:
        return None
    return render_to_string("discovery/panel.html", {
        "host": host, "url": reverse("discovery-reconciliation", args=[ci_id])}, request=request)


register_panel("*", reconciliation_panel)
