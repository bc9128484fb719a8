"""Serializer fields with NetBox's wire format.

* choices go out as ``{"value", "label"}`` and come in as the value (or that dict);
* related objects go out in brief form and come in as an id or as a dict of
  attributes that identifies exactly one object;
* in a bulk request every foreign key of the whole list is resolved with one
  query per related model, not one per item.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist, FieldError, MultipleObjectsReturned, ObjectDoesNotExist
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cmdb.core.storable import json_problem

from .registry import object_path

#: Primary keys are 64-bit; a larger integer from a client can match nothing (and SQLite cannot even bind it).
MAX_PK = 2**63 - 1


def is_pk(value: Any) -> bool:
    """An int (not a bool) that fits a primary-key column."""
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_PK <= value <= MAX_PK


def as_int(value: Any) -> int | None:
    """An integer given as a JSON number or a string of ASCII digits; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def attribute_lookup(model: type[models.Model], data: dict[str, Any], prefix: str = "") -> dict[str, Any] | None:
    """NetBox's ``{"site": {"slug": "z"}}`` as ``{"site__slug": "z"}``.

    Only field paths with plain values: no lookups (``name__regex``), no lists or objects as values.
    ``None`` if the dict is not such an attribute set.
    """
    params: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            return None
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            nested = attribute_lookup(model, value, f"{path}__")
            if nested is None or not nested:
                return None
            params.update(nested)
            continue
        if value is not None and not isinstance(value, (str, int, float)):
            return None
        target: type[models.Model] | None = model
        for part in path.split("__"):
            if target is None:
                return None
            try:
                f = target._meta.get_field(part) if part != "pk" else target._meta.pk
            except FieldDoesNotExist:
                return None
            target = f.related_model if f.is_relation else None
        params[path] = value
    return params


def brief_related(obj: models.Model, request: Any) -> dict[str, Any]:
    path = object_path(type(obj), obj.pk)
    data: dict[str, Any] = {
        "id": obj.pk,
        "url": request.build_absolute_uri(path) if request is not None and path else path,
        "display": str(obj),
    }
    for attr in ("name", "slug", "model", "address"):
        if hasattr(obj, attr) and not callable(getattr(obj, attr)):
            data[attr] = getattr(obj, attr)
    for attr in getattr(type(obj), "brief_nested", ()):
        related = getattr(obj, attr)
        data[attr] = brief_related(related, request) if related is not None else None
    return data


@extend_schema_field({"type": "object", "properties": {"value": {"type": "string"}, "label": {"type": "string"}}})
class ChoiceField(serializers.ChoiceField):
    def to_representation(self, value: Any) -> Any:
        if value in ("", None):
            return None
        return {"value": value, "label": str(self.choices.get(value, value))}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = data.get("value")
        if data is None and self.allow_blank:
            return ""
        return super().to_internal_value(data)


@extend_schema_field(
    {"oneOf": [{"type": "integer"}, {"type": "object", "properties": {"id": {"type": "integer"}}}]}
)
class RelatedObjectField(serializers.RelatedField):
    default_error_messages = {
        "does_not_exist": "Related object not found using the provided ID: {value}.",
        "no_match": "No {model} matches the attributes {value}.",
        "multiple": "Several {model} objects match the attributes {value}; be more specific.",
        "invalid": "Give an ID or an object of attributes, not {type}.",
        "bad_attribute": "Invalid attribute in {value}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("view_name", None)
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        """Related objects a write may point at: inside the writer's tenant scope, or shared."""
        from cmdb.users.permissions import reference_queryset

        queryset = super().get_queryset()
        request, view = self.context.get("request"), self.context.get("view")
        if request is None or view is None or getattr(view, "queryset", None) is None:
            return queryset
        action = "add" if getattr(view, "action", None) == "create" else "change"
        return reference_queryset(queryset, request.user, view.queryset.model, action, field=self.source)

    def _cache(self) -> dict[int, Any]:
        root = self.root
        store = root.__dict__.setdefault("_fk_cache", {})
        model = self.get_queryset().model
        if model not in store:
            store[model] = {}
            self._prime(store[model])
        return store[model]

    def _prime(self, cache: dict[int, Any]) -> None:
        """Load every id the whole request mentions for this field in one query."""
        data = getattr(self.root, "initial_data", None)
        items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        ids = set()
        for item in items:
            value = item.get(self.field_name) if isinstance(item, dict) else None
            if isinstance(value, dict) and set(value) == {"id"}:
                value = value["id"]
            pk = as_int(value)
            if pk is not None:
                ids.add(pk)
        ids = {pk for pk in ids if is_pk(pk)}
        if ids:
            cache.update(self.get_queryset().in_bulk(list(ids)))

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and set(data) == {"id"}:
            data = data["id"]
        if isinstance(data, bool):
            self.fail("invalid", type="a boolean")
        pk = as_int(data)
        if pk is not None:
            if not is_pk(pk):
                self.fail("does_not_exist", value=pk)
            cache = self._cache()
            if pk not in cache:
                obj = self.get_queryset().filter(pk=pk).first()
                if obj is None:
                    self.fail("does_not_exist", value=pk)
                cache[pk] = obj
            return cache[pk]
        if isinstance(data, dict):
            model = self.get_queryset().model
            params = attribute_lookup(model, data)
            if not params:
                self.fail("bad_attribute", value=data)
            try:
                return self.get_queryset().get(**params)
            except ObjectDoesNotExist:
                self.fail("no_match", model=model._meta.verbose_name, value=data)
            except MultipleObjectsReturned:
                self.fail("multiple", model=model._meta.verbose_name, value=data)
            except (FieldError, ValueError, TypeError):
                self.fail("bad_attribute", value=data)
        self.fail("invalid", type=type(data).__name__)
        return None

    def to_representation(self, value: Any) -> Any:
        return brief_related(value, self.context.get("request"))

    def use_pk_only_optimization(self) -> bool:
        return False


@extend_schema_field({"type": "object", "nullable": True, "properties": {
    "id": {"type": "integer"}, "url": {"type": "string"}, "display": {"type": "string"},
    "address": {"type": "string"}}})
class PreferredRelatedField(serializers.Field):
    """The first set of several foreign keys, read-only: NetBox's ``primary_ip`` (the IPv6 address first
    unless ``PREFER_IPV4``), which the Ansible inventory reads for ``ansible_host``.

    ``sources`` are in the default order; ``swap_setting`` names a boolean setting that reverses it
    (read on every use, so a changed setting needs no restart of the field).
    """

    def __init__(self, *, sources: tuple[str, ...], related_model: str, swap_setting: str = "",
                 **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.sources, self.related_model_label, self.swap_setting = sources, related_model, swap_setting

    @property
    def related_model(self) -> type[models.Model]:
        from django.apps import apps

        return apps.get_model(self.related_model_label)

    def ordered(self, values: list[Any]) -> list[Any]:
        """``values`` (one per source) in the order that counts now."""
        from django.conf import settings

        return values[::-1] if self.swap_setting and getattr(settings, self.swap_setting, False) else values

    def get_attribute(self, instance: Any) -> Any:
        return next((v for v in self.ordered([getattr(instance, s) for s in self.sources]) if v is not None), None)

    def to_representation(self, value: Any) -> Any:
        return brief_related(value, self.context.get("request"))


def primary_ip_field() -> PreferredRelatedField:
    return PreferredRelatedField(sources=("primary_ip6", "primary_ip4"), related_model="ipam.IPAddress",
                                 swap_setting="PREFER_IPV4")


@extend_schema_field({"type": "array", "items": {"type": "object"}})
class TagListField(serializers.Field):
    """Tags as a list of ids or ``{"name"|"slug": ...}`` dicts in, nested tags out."""

    def to_internal_value(self, data: Any) -> list[Any]:
        from cmdb.extras.models import Tag

        if not isinstance(data, list):
            raise serializers.ValidationError("Give a list of tags.")
        cache = self.root.__dict__.setdefault("_tag_cache", None)
        if cache is None:
            cache = {t.pk: t for t in Tag.objects.all()}
            self.root.__dict__["_tag_cache"] = cache
        by_slug = {t.slug: t for t in cache.values()}
        by_name = {t.name: t for t in cache.values()}
        result = []
        for item in data:
            tag = None
            if isinstance(item, int) and not isinstance(item, bool):
                tag = cache.get(item)
            elif isinstance(item, str):
                tag = by_slug.get(item) or by_name.get(item)
            elif isinstance(item, dict):
                tag = cache.get(item.get("id")) or by_slug.get(item.get("slug")) or by_name.get(item.get("name"))
            if tag is None:
                raise serializers.ValidationError(f"Unknown tag {item!r}.")
            result.append(tag)
        return result

    def get_attribute(self, instance: Any) -> Any:
        return instance

    def to_representation(self, instance: Any) -> list[dict[str, Any]]:
        request = self.context.get("request")
        return [
            {**brief_related(t, request), "color": t.color} for t in instance.tags.all()
        ] if instance.pk else []


def has_nul(data: Any) -> bool:
    """Whether a JSON value holds the NUL character anywhere (PostgreSQL's jsonb and text cannot store it)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONValueField(serializers.JSONField):
    """Any JSON value that the database can store and the change log can digest.

    Checked before DRF's own validation, which encodes the value with ``json.dumps`` and would
    recurse through a value nested a thousand levels deep (:mod:`cmdb.core.storable`).
    """

    def to_internal_value(self, data: Any) -> Any:
        if has_nul(data):
            raise serializers.ValidationError("JSON data must not contain the NUL character (\\u0000).")
        problem = json_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.OBJECT)
class CustomFieldsField(JSONValueField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Give an object of custom field values.")
        return super().to_internal_value(data)

    def to_representation(self, value: Any) -> Any:
        return value or {}


@extend_schema_field(OpenApiTypes.STR)
class ContentTypeField(serializers.Field):
    """A model as ``app_label.model`` (``dcim.interface``)."""

    def to_internal_value(self, data: Any) -> Any:
        from django.contrib.contenttypes.models import ContentType

        try:
            app_label, model = str(data).split(".", 1)
            return ContentType.objects.get_by_natural_key(app_label, model)
        except (ValueError, ContentType.DoesNotExist) as exc:
            raise serializers.ValidationError(f"Unknown object type {data!r}; use app_label.model.") from exc

    def to_representation(self, value: Any) -> str:
        return f"{value.app_label}.{value.model}"
