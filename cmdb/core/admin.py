"""Django admin: the back office beside the web UI (:mod:`cmdb.ui`), for superusers.

Every model of an app that declares ``generic_admin = True`` (:class:`cmdb.core.domains.DomainConfig`)
gets a list with search and filters; the change log and the CI registry are read-only here, as they
are in the API.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.db import models

from cmdb.core.domains import domain_configs
from cmdb.core.models import ConfigurationItem, ObjectChange

admin.site.site_header = "CMDB administration"
admin.site.site_title = "CMDB"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ObjectChange)
class ObjectChangeAdmin(ReadOnlyAdmin):
    list_display = ("time", "user_name", "source", "action", "changed_object_type", "object_repr")
    list_filter = ("action", "source", "changed_object_type")
    search_fields = ("object_repr", "user_name", "request_id")


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "status", "tenant", "criticality", "last_seen")
    list_filter = ("kind", "status", "criticality")
    search_fields = ("name",)


class TokenAdmin(ReadOnlyAdmin):
    """Tokens are created with ``cmdb token create`` or the API (the key is shown once); here they can be revoked."""

    list_display = ("key_prefix", "user", "write_enabled", "expires", "last_used", "description")
    list_filter = ("write_enabled",)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


def _admin_for(model: type[models.Model]) -> type[admin.ModelAdmin]:
    fields = {f.name: f for f in model._meta.concrete_fields}
    shown = [n for n in ("name", "model", "address", "prefix", "slug", "site", "device", "virtual_machine", "status",
                         "tenant", "role", "serial") if n in fields][:7] or ["__str__"]
    filters = [n for n in ("status", "site", "role", "tenant", "type", "cluster", "manufacturer") if n in fields]
    searchable = [f for f in getattr(model, "search_fields", ()) if f in fields]
    readonly = [n for n in ("ci", "created", "last_updated", "key_digest", "key_prefix") if n in fields]
    autocomplete = [n for n, f in fields.items() if f.is_relation and f.many_to_one and n not in readonly]
    return type(f"{model.__name__}Admin", (admin.ModelAdmin,), {
        "list_display": shown, "list_filter": filters, "search_fields": searchable, "readonly_fields": readonly,
        "list_select_related": [n for n in shown if n in fields and fields[n].is_relation],
        "raw_id_fields": autocomplete, "show_full_result_count": False,
    })


admin.site.register(apps.get_model("users", "Token"), TokenAdmin)

for config in domain_configs():
    if not config.generic_admin:
        continue
    for model in config.get_models():
        if not admin.site.is_registered(model):
            admin.site.register(model, _admin_for(model))
