"""Config contexts: JSON data attached to sites, locations, roles, platforms, tenants and tags,
merged by weight into one dict per device or VM (NetBox's model).

A context applies to an object when, for every kind of assignment it has,
the object matches one of the assigned values (no assignments of a kind = any).
Matching contexts merge in (weight, name) order, later ones deep-merged over
earlier ones; the object's own ``local_context_data`` goes on top.

:class:`ContextIndex` loads all active contexts with seven queries and caches
the merge per distinct combination of (site, location, role, platform, tenant,
tags), so rendering 10,000 hosts costs the same handful of queries and a few
hundred distinct merges.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from cmdb.core.models.base import ChangeLoggedModel
from cmdb.core.scope import ADMIN_ONLY

#: Assignment kinds: (m2m field on ConfigContext, attribute of a device/VM holding the id).
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("sites", "site_id"), ("locations", "location_id"), ("roles", "role_id"), ("platforms", "platform_id"),
    ("tenants", "tenant_id"),
)


class ConfigContext(ChangeLoggedModel):
    name = models.CharField(max_length=100, unique=True)
    weight = models.PositiveSmallIntegerField(default=1000, help_text="Lower weights merge first")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    data = models.JSONField(default=dict)
    sites = models.ManyToManyField("dcim.Site", blank=True, related_name="+")
    locations = models.ManyToManyField("dcim.Location", blank=True, related_name="+")
    roles = models.ManyToManyField("dcim.DeviceRole", blank=True, related_name="+")
    platforms = models.ManyToManyField("dcim.Platform", blank=True, related_name="+")
    tenants = models.ManyToManyField("tenancy.Tenant", blank=True, related_name="+")
    tags = models.ManyToManyField("extras.Tag", blank=True, related_name="+")

    #: A context may carry one faculty's configuration for its tenants: administrators manage the
    #: contexts; everyone else sees only the merged result on the devices and VMs they may see.
    tenant_scope = ADMIN_ONLY
    search_fields = ("name", "description")

    class Meta:
        app_label = "extras"
        ordering = ("weight", "name")

    def clean(self) -> None:
        super().clean()
        if not isinstance(self.data, dict):
            raise ValidationError({"data": "Config context data must be a JSON object."})


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: dicts merge key by key, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class ContextIndex:
    """All active contexts with their assignments, loaded once; renders any number of objects."""

    def __init__(self) -> None:
        self.contexts = list(ConfigContext.objects.filter(is_active=True).order_by("weight", "name")
                             .values_list("id", "data"))
        ids = [pk for pk, _ in self.contexts]
        self.assigned: dict[str, dict[int, set[int]]] = {}
        for m2m in [d for d, _ in DIMENSIONS] + ["tags"]:
            through = ConfigContext._meta.get_field(m2m).remote_field.through  # type: ignore[union-attr]
            target = ConfigContext._meta.get_field(m2m).related_model._meta.model_name  # type: ignore[union-attr]
            sets: dict[int, set[int]] = defaultdict(set)
            if ids:
                for ctx_id, value in through.objects.filter(configcontext_id__in=ids).values_list(
                    "configcontext_id", f"{target}_id"
                ):
                    sets[ctx_id].add(value)
            self.assigned[m2m] = sets
        self._cache: dict[tuple, dict[str, Any]] = {}

    def merged(self, *, site_id: int | None = None, location_id: int | None = None, role_id: int | None = None,
               platform_id: int | None = None, tenant_id: int | None = None,
               tag_ids: frozenset[int] = frozenset()) -> dict[str, Any]:
        """The merged context data (without local data) of an object with these attributes."""
        key = (site_id, location_id, role_id, platform_id, tenant_id, tag_ids)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        values = {"sites": site_id, "locations": location_id, "roles": role_id, "platforms": platform_id,
                  "tenants": tenant_id}
        result: dict[str, Any] = {}
        for ctx_id, data in self.contexts:
            if all(not (s := self.assigned[m2m].get(ctx_id)) or values[m2m] in s for m2m in values):
                tags = self.assigned["tags"].get(ctx_id)
                if not tags or tags & tag_ids:
                    result = deep_merge(result, data or {})
        self._cache[key] = result
        return result

    def render(self, obj_values: dict[str, Any], tag_ids: frozenset[int], local: dict[str, Any] | None) -> dict:
        merged = self.merged(tag_ids=tag_ids, **{attr: obj_values.get(attr) for _, attr in DIMENSIONS})
        return deep_merge(merged, local) if local else dict(merged)


def render_for(obj: Any) -> dict[str, Any]:
    """The config context of one device or VM (a few queries; lists use :class:`ContextIndex`)."""
    index = ContextIndex()
    values = {attr: getattr(obj, attr, None) for _, attr in DIMENSIONS}
    tag_ids = frozenset(obj.tags.values_list("pk", flat=True)) if obj.pk else frozenset()
    return index.render(values, tag_ids, obj.local_context_data)


def fast_config_context(columns: tuple[str, ...]) -> tuple[tuple[str, ...], Any]:
    """A ``fast_computed`` entry for serializers: the merged context from the page's columns.

    ``columns`` are the object's id, local_context_data and then the attributes of
    :data:`DIMENSIONS` it has (None where the model lacks one).  The index is built once per page.
    """
    present = [c for c in columns if c is not None]

    def compute(values: list[Any], ctx: Any) -> dict[str, Any]:
        index = ctx.extra.get("config_contexts")
        if index is None:
            index = ctx.extra["config_contexts"] = ContextIndex()
        row = dict(zip(present, values, strict=True))
        tag_ids = frozenset(t["id"] for t in ctx.tags.get(row["id"], ()))
        return index.render(row, tag_ids, row.get("local_context_data"))

    return tuple(present), compute
