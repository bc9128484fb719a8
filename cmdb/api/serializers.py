"""Base serializers: DRF for validation, schema and writes; reads go through
:mod:`cmdb.api.fastread`, which compiles the same field list into one
``values_list`` query per page."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from rest_framework import serializers
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from .fields import ChoiceField, CustomFieldsField, JSONValueField, RelatedObjectField, TagListField
from .registry import object_path


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
