"""Web-UI pages for the CI registry and the change log, and the registry row's link to its typed object."""

from __future__ import annotations

from typing import Any

from cmdb.ui.registry import object_url, register, register_panel

from . import filtersets
from .models import ConfigurationItem, ObjectChange


def typed_object_panel(request: Any, ci: Any) -> str | None:
    """On a CI registry row's page: a link to the typed object (device, VM, ...) it stands for."""
    from django.apps import apps
    from django.utils.html import format_html

    try:
        model = apps.get_model(ci.kind)
    except (LookupError, ValueError):
        return None
    pk = model._default_manager.filter(ci_id=ci.pk).values_list("pk", flat=True).first()
    url = object_url(model, pk) if pk is not None else None
    if url is None:
        return None
    return format_html('<section class="card"><h2>Typed object</h2><p><a href="{}">{} {}</a></p></section>',
                       url, model._meta.verbose_name, ci.name)


register(ConfigurationItem, filterset=filtersets.ConfigurationItemFilterSet, read_only=True,
         columns=["name", "kind", "status", "tenant", "criticality", "owner", "last_seen"],
         list_filters=["status", "tenant", "criticality"])
register_panel("core.configurationitem", typed_object_panel)
register(ObjectChange, filterset=filtersets.ObjectChangeFilterSet, read_only=True,
         columns=["time", "user_name", "action", "changed_object_type", "object_repr", "source"],
         list_filters=["action"])
