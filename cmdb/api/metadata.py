"""OPTIONS responses with ``actions.POST.<field>.choices`` as pynetbox expects."""

from __future__ import annotations

from typing import Any

from rest_framework.metadata import SimpleMetadata

from .fields import ChoiceField, RelatedObjectField


class ChoicesMetadata(SimpleMetadata):
    def determine_actions(self, request: Any, view: Any) -> dict[str, Any]:
        if not hasattr(view, "get_serializer"):
            return {}
        serializer = view.get_serializer()
        return {"POST": self.get_serializer_info(serializer), "PUT": self.get_serializer_info(serializer)}

    def get_field_info(self, field: Any) -> dict[str, Any]:
        if isinstance(field, RelatedObjectField):
            info: dict[str, Any] = {
                "type": "related object", "required": field.required, "read_only": field.read_only,
                "label": field.label,
            }
            return info
        info = super().get_field_info(field)
        if isinstance(field, ChoiceField):
            info["choices"] = [{"value": v, "display_name": str(label)} for v, label in field.choices.items()]
        return info
