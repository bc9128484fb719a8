"""Web UI: list/detail pages for discovered hosts, and a reconciliation panel linking to the per-CI page."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse

from cmdb.ui.registry import object_url, register, register_panel
from cmdb.users.permissions import restrict

from . import filtersets, models

register(
    models.Host,
    filterset=filtersets.HostFilterSet,
    columns=["name", "role", "fqdn", "serial", "manufacturer", "product", "os_name", "os_version", "is_virtual",
             "identified_by", "stale", "last_seen", "device", "virtual_machine", "link_rule", "status", "tenant"],
    default_columns=["name", "fqdn", "os_name", "os_version", "identified_by", "stale", "last_seen"],
    form_fields=["name", "fqdn", "os_name", "os_version", "device", "virtual_machine", "status", "tenant",
                 "criticality", "owner", "description", "comments"],
    list_filters=["role", "stale", "is_virtual", "status"],
    group="Discovery",
)


def reconciliation_panel(request: Any, obj: Any) -> str | None:
    """On any CI discovery knows: identification rule, staleness and a link to the reconciliation page.

    On a recorded device or VM, the discovered host linked to it (see ``discovery.linking``):
    what the agents report about the machine, next to what was recorded.
    """
    from .linking import hosts_for

    linked = hosts_for(obj)
    if linked is not None:
        query = models.Host.objects.filter(linked)
    elif getattr(obj, "ci_id", None) is not None:
        query = models.Host.objects.filter(ci_id=obj.ci_id)
    else:
        return None
    host = restrict(query.select_related("device", "virtual_machine"), request.user, "view").first()
    if host is None:
        return None
    record = host.device or host.virtual_machine
    if record is not None and not restrict(type(record).objects.filter(pk=record.pk), request.user, "view").exists():
        record = None  # linked to a record this user may not see: say nothing about it
    return render_to_string("discovery/panel.html", {
        "host": host, "linked_view": linked is not None, "host_url": object_url(models.Host, host.pk),
        "record": record, "record_url": object_url(type(record), record.pk) if record is not None else None,
        "url": reverse("discovery-reconciliation", args=[host.ci_id])}, request=request)


register_panel("*", reconciliation_panel)
