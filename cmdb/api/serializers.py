"""Base serializers: DRF for validation, schema and writes; reads go through
:mod:`cmdb.api.fastread`, which compiles the same field list into one
``values_list`` query per page.

Generic relations (``<x>_type`` + ``<x>_id``, NetBox's wire format) are handled here for
every serializer alike: a write resolves the target through the permission gate
(:meth:`BaseModelSerializer.generic_target`), and :func:`hide_unseen` blanks, in every
rendered page, the targets and related objects the reader may not see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from rest_framework import serializers
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from .fields import (
    ChoiceField,
    CustomFieldsField,
    JSONValueField,
    PreferredRelatedField,
    RelatedObjectField,
    TagListField,
    as_int,
    is_pk,
)
from .registry import endpoint_path, object_path


@dataclass(frozen=True)
class GenericSpec:
    """One generic relation as the API shows it: ``relation`` (the nested object) from type and id fields."""

    relation: str
    type_field: str
    id_field: str


_specs: dict[type, list[GenericSpec]] = {}
_related: dict[type, list[tuple[str, type[models.Model]]]] = {}


def generic_specs(serializer_class: type) -> list[GenericSpec]:
    """The model's generic foreign keys, plus relations a serializer maps onto concrete keys.

    ``Meta.generic_relations = {"assigned_object": ("assigned_object_type", "assigned_object_id")}``
    declares the latter (IP addresses keep the assignment in two real foreign keys).
    """
    found = _specs.get(serializer_class)
    if found is None:
        from cmdb.core.scope import generic_relations

        meta = serializer_class.Meta  # type: ignore[attr-defined]
        declared = getattr(meta, "generic_relations", {}) or {}
        found = [GenericSpec(name, t, i) for name, (t, i) in declared.items()]
        found += [GenericSpec(g.name, g.ct_field, g.fk_field) for g in generic_relations(meta.model)
                  if g.name not in declared]
        _specs[serializer_class] = found
    return found


def _related_fields(serializer_class: type) -> list[tuple[str, type[models.Model]]]:
    """(field name, related model) of every nested related object the serializer renders."""
    found = _related.get(serializer_class)
    if found is None:
        fields = serializer_class(context={"request": None}).fields
        model = serializer_class.Meta.model  # type: ignore[attr-defined]
        found = []
        for name, f in fields.items():
            if isinstance(f, PreferredRelatedField):
                found.append((name, f.related_model))
                continue
            if not isinstance(f, RelatedObjectField) or f.write_only:
                continue
            if f.queryset is not None:
                found.append((name, f.queryset.model))
            else:  # read-only: the model field knows the related model
                try:
                    found.append((name, model._meta.get_field(f.source).related_model))
                except FieldDoesNotExist:  # a computed source: nothing to check
                    continue
        _related[serializer_class] = found
    return found


def _model_for_label(label: Any) -> type[models.Model] | None:
    from django.apps import apps

    try:
        return apps.get_model(str(label))
    except (LookupError, ValueError):
        return None


def hide_unseen(rows: list[dict[str, Any]], serializer_class: type, request: Any) -> list[dict[str, Any]]:
    """Blank what a rendered page names but the reader may not see; one query per related model.

    A row the reader may see can still point at another tenant's object (an administrator
    assigned one faculty's address to another's interface, or related their CIs): generic
    targets the reader may not view lose type, id and object; nested related objects the
    reader may not refer to (:func:`reference_queryset` with ``view``) become ``null``.
    """
    from cmdb.users.permissions import grants_for, referable_ids, restrict, rows_filter

    user = getattr(request, "user", None)
    if user is None or not rows or grants_for(user).superuser:
        return rows
    model = serializer_class.Meta.model  # type: ignore[attr-defined]
    for spec in generic_specs(serializer_class):
        by_type: dict[str, set[Any]] = defaultdict(set)
        for row in rows:
            label, pk = row.get(spec.type_field), row.get(spec.id_field)
            if isinstance(label, str) and pk is not None:
                by_type[label].add(pk)
        for label, ids in by_type.items():
            target = _model_for_label(label)
            if target is not None and rows_filter(target, user, "view") is None:
                continue
            seen = set() if target is None else set(
                restrict(target._base_manager.filter(pk__in=ids), user, "view").values_list("pk", flat=True))
            for row in rows:
                if row.get(spec.type_field) == label and row.get(spec.id_field) not in seen:
                    row[spec.type_field] = row[spec.id_field] = None
                    if spec.relation in row:
                        row[spec.relation] = None
    for name, related in _related_fields(serializer_class):
        ids = {v["id"] for row in rows if isinstance(v := row.get(name), dict) and "id" in v}
        if not ids:
            continue
        allowed = referable_ids(related, ids, user, model, "view")
        if len(allowed) == len(ids):
            continue
        for row in rows:
            value = row.get(name)
            if isinstance(value, dict) and value.get("id") not in allowed:
                row[name] = None
    return rows


class ObjectURLField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        return instance

    def to_representation(self, instance: Any) -> str | None:
        path = object_path(type(instance), instance.pk)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None and path else path


class DisplayField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        return instance

    def to_representation(self, instance: Any) -> str:
        return str(instance)


class BaseModelSerializer(serializers.ModelSerializer):
    """NetBox-shaped model serializer.

    Uniqueness is not checked here per object (DRF would run one query per
    object and constraint); the write service checks a whole batch at once.
    """

    url = ObjectURLField()
    display = DisplayField()

    serializer_related_field = RelatedObjectField
    serializer_choice_field = ChoiceField
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping, models.JSONField: JSONValueField,
    }

    #: Read-only computed fields for the fast reader: name -> (columns, fn(values, ctx)).
    fast_computed: ClassVar[dict[str, tuple[tuple[str, ...], Any]]] = {}

    def get_validators(self) -> list[Any]:
        return []

    def to_internal_value(self, data: Any) -> Any:
        """Unknown fields, field validation, then every generic relation's target through the permission gate.

        A field name the serializer does not know is a 400 naming it.  DRF and NetBox ignore
        such names, so ``PATCH {"stauts": "offline"}`` answers 200 and changes nothing, which a
        script cannot tell from success; this API is strict about its input as about its query
        parameters.  Names the serializer knows but does not write (``id``, ``url``, ``display``,
        ``created``, ...) are still accepted and ignored, so a client can send back an object
        it read (pynetbox sends only the fields it changed).
        """
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                known = ", ".join(name for name, f in self.fields.items() if not f.read_only)
                raise serializers.ValidationError(
                    {name: [f"Unknown field {name!r}; the writable fields are: {known}."] for name in unknown})
        attrs = super().to_internal_value(data)
        model = self.Meta.model  # type: ignore[attr-defined]
        declared = getattr(self.Meta, "generic_relations", {}) or {}  # type: ignore[attr-defined]
        for spec in generic_specs(type(self)):
            if spec.relation in declared or spec.type_field not in self.fields:
                continue  # mapped by the serializer itself (it calls generic_target)
            if spec.type_field not in attrs and spec.id_field not in attrs:
                continue
            ct = attrs.get(spec.type_field, getattr(self.instance, spec.type_field, None))
            pk = attrs.get(spec.id_field, getattr(self.instance, spec.id_field, None))
            if ct is not None and pk is not None and model is not None:
                self.generic_target(spec, ct, pk)
        return attrs

    def generic_target(self, spec: GenericSpec, ct: Any, pk: Any) -> Any:
        """The target of a generic relation, if the requesting user may attach to it; else a 400.

        The target must be a model the API serves and must pass :func:`reference_queryset` for
        this relation (by default: the user may change it).  A missing target and one the user
        may not use get the same message, so ids cannot be probed.  Every target the request
        names for this relation is loaded with one query per type.
        """
        from cmdb.users.permissions import reference_action, reference_queryset

        target_model = ct.model_class()
        label = f"{ct.app_label}.{ct.model}"
        if target_model is None or endpoint_path(target_model) is None:
            raise serializers.ValidationError({spec.type_field: [f"Unknown object type {label!r}."]})
        written = self.Meta.model  # type: ignore[attr-defined]
        need = reference_action(written, spec.relation) or "change"
        missing = serializers.ValidationError({spec.id_field: [f"No {label} with id {pk} that you may {need}."]})
        if not is_pk(pk):
            raise missing
        request = self.context.get("request")
        cache = self.root.__dict__.setdefault("_generic_cache", {})
        key = (spec.relation, target_model)
        entry = cache.get(key)
        if entry is None or pk not in entry[0]:
            ids = {pk}
            if entry is None:
                entry = cache[key] = (set(), {})
                data = getattr(self.root, "initial_data", None)
                for item in data if isinstance(data, list) else [data]:
                    if isinstance(item, dict) and str(item.get(spec.type_field, "")).lower() == label:
                        other = as_int(item.get(spec.id_field))
                        if other is not None and is_pk(other):
                            ids.add(other)
            queryset = target_model._default_manager.filter(pk__in=ids)
            if request is not None:
                action = "add" if self.instance is None else "change"
                queryset = reference_queryset(queryset, request.user, written, action, field=spec.relation)
            entry[0].update(ids)
            entry[1].update({obj.pk: obj for obj in queryset})
        found = entry[1].get(pk)
        if found is None:
            raise missing
        return found

    def to_representation(self, instance: Any) -> Any:
        """DRF's output (for serializers the fast reader does not compile), brief when the request asks."""
        data = super().to_representation(instance)
        brief = getattr(self.Meta, "brief_fields", None) if self.context.get("brief") else None
        return {k: v for k, v in data.items() if k in brief} if brief else data

    def get_uniqueness_extra_kwargs(self, field_names: Any, declared_fields: Any, extra_kwargs: Any) -> Any:
        # DRF would make every field of a unique constraint required (e.g. a contact's optional
        # e-mail, part of the unique name+email); uniqueness is the write service's job here.
        return extra_kwargs, {}

    def build_field(self, field_name: str, info: Any, model_class: Any, nested_depth: int) -> Any:
        field_class, kwargs = super().build_field(field_name, info, model_class, nested_depth)
        if "validators" in kwargs:
            kwargs["validators"] = [
                v for v in kwargs["validators"] if not isinstance(v, (UniqueValidator, UniqueTogetherValidator))
            ]
        kwargs.pop("view_name", None)
        return field_class, kwargs

    def build_relational_field(self, field_name: str, relation_info: Any) -> Any:
        field_class, kwargs = super().build_relational_field(field_name, relation_info)
        if relation_info.to_many:
            return field_class, kwargs
        kwargs.pop("view_name", None)
        return RelatedObjectField, kwargs


class TaggedModelSerializer(BaseModelSerializer):
    tags = TagListField(required=False)
    custom_fields = CustomFieldsField(source="custom_field_data", required=False)
