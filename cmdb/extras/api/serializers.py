from typing import Any

from rest_framework import serializers

from cmdb.api.fields import ContentTypeField, brief_related
from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models


class TagSerializer(BaseModelSerializer):
    class Meta:
        model = models.Tag
        fields = ["id", "url", "display", "name", "slug", "color", "description", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "slug", "color", "description"]


class CustomFieldSerializer(BaseModelSerializer):
    class Meta:
        model = models.CustomField
        fields = ["id", "url", "display", "object_types", "type", "name", "label", "description", "required",
                  "default", "weight", "validation_minimum", "validation_maximum", "validation_regex", "choices",
                  "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "description"]

    def validate_object_types(self, value: Any) -> list[str]:
        from django.apps import apps

        if not isinstance(value, list) or not value:
            raise serializers.ValidationError("Give a non-empty list of model labels such as dcim.device.")
        for label in value:
            if not isinstance(label, str):
                raise serializers.ValidationError(f"Unknown object type {label!r}.")
            try:
                apps.get_model(label)
            except (LookupError, ValueError) as exc:
                raise serializers.ValidationError(f"Unknown object type {label!r}.") from exc
        return value


class JournalEntrySerializer(TaggedModelSerializer):
    assigned_object_type = ContentTypeField()
    created_by = serializers.PrimaryKeyRelatedField(read_only=True)
    fast_read = False

    class Meta:
        model = models.JournalEntry
        fields = ["id", "url", "display", "assigned_object_type", "assigned_object_id", "created", "created_by",
                  "kind", "comments", "tags", "custom_fields", "last_updated"]
        brief_fields = ["id", "url", "display", "created"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        ct = attrs.get("assigned_object_type") or getattr(self.instance, "assigned_object_type", None)
        obj_id = attrs.get("assigned_object_id") or getattr(self.instance, "assigned_object_id", None)
        if ct is not None and obj_id is not None:
            model = ct.model_class()
            if model is None or not model._default_manager.filter(pk=obj_id).exists():
                raise serializers.ValidationError({"assigned_object_id": f"No {ct.app_label}.{ct.model} {obj_id}."})
        request = self.context.get("request")
        if self.instance is None and request is not None and request.user.is_authenticated:
            attrs["created_by"] = request.user
        return attrs

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        if instance.assigned_object is not None:
            data["assigned_object"] = brief_related(instance.assigned_object, self.context.get("request"))
        return data


class ConfigContextSerializer(BaseModelSerializer):
    fast_read = False  # many-to-many assignments; a small table

    class Meta:
        model = models.ConfigContext
        fields = ["id", "url", "display", "name", "weight", "description", "is_active", "sites", "locations",
                  "roles", "platforms", "tenants", "tags", "data", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "description"]

    def validate_data(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Config context data must be a JSON object.")
        return value
