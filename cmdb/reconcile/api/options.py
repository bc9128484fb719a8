"""A run's ``options`` in the API: typed per reconciler in the OpenAPI schema, checked when stored.

Each reconciler declares its run arguments with :class:`~cmdb.reconcile.base.Option`.  The schema
shows them as one component per reconciler (``ReconcileOptions<Name>``: its options with type,
default, help and choices, no other keys) and the run's ``options`` as ``anyOf`` those components,
so a client generator or a reader of ``/api/schema/`` sees what each reconciler takes instead of a
bare JSON object.  ``anyOf`` rather than ``oneOf``: ``{}`` (every default) is valid for all of them,
and which one applies is said by the run's ``reconciler``, not by the options' shape.

The components are built when the schema is generated, from the registry as it is then (reconcilers
register at start-up; a reconciler's choices may be computed, e.g. the playbooks that exist).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from ..base import Option, Reconciler, reconcilers

_JSON_TYPES = {bool: "boolean", int: "integer", str: "string"}


class ReconcileOptionsField(serializers.JSONField):
    """The values of the run's reconciler's declared options (a JSON object; checked against the
    reconciler in :meth:`ReconcileRunSerializer.validate`, where the reconciler is known)."""

    default_error_messages = {"not_object": "Give the options as a JSON object (name: value)."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Values of the reconciler's declared options; each reconciler's are typed "
                                       "in the schema (ReconcileOptions<name>) and listed by "
                                       "GET /api/reconcile/reconcilers/")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if value is not None and not isinstance(value, dict):
            self.fail("not_object")
        return value


def option_schema(option: Option) -> dict[str, Any]:
    """The JSON schema of one declared option."""
    schema: dict[str, Any] = {"type": _JSON_TYPES.get(option.type, "string"), "description": option.help}
    if option.default is not None:
        schema["default"] = option.default
    allowed = option.allowed()
    if allowed is not None:
        schema["enum"] = list(allowed)
    if option.type is str:
        schema["maxLength"] = 500
    return schema


def options_schema(cls: type[Reconciler]) -> dict[str, Any]:
    """The JSON schema of a reconciler's options object: its declared options, nothing else."""
    return {
        "type": "object",
        "title": f"Options of the {cls.name} reconciler",
        "description": cls.summary or f"Run options of {cls.name}.",
        "properties": {o.name: option_schema(o) for o in cls.options},
        "additionalProperties": False,
    }


def component_name(name: str) -> str:
    """``ReconcileOptionsK8s`` for ``k8s``, ``ReconcileOptionsFolderRecorder`` for ``folder-recorder``."""
    words = "".join(c if c.isalnum() else " " for c in name).split()
    return "ReconcileOptions" + "".join(w[:1].upper() + w[1:] for w in words)


def options_errors_by_name(reconciler: str, options: Any) -> list[str]:
    """One message per bad option, each naming it (``prune: Give a bool ...``); empty when acceptable."""
    from ..base import options_errors

    cls = reconcilers().get(reconciler)
    if cls is None:
        return []
    return [f"{key}: {message}" for key, message in sorted(options_errors(cls, options).items())]


class ReconcileOptionsFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ReconcileOptionsField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        refs = []
        for name, cls in sorted(reconcilers().items()):
            component = ResolvedComponent(name=component_name(name), type=ResolvedComponent.SCHEMA,
                                          object=f"reconcile-options-{name}", schema=options_schema(cls))
            auto_schema.registry.register_on_missing(component)
            refs.append(component.ref)
        description = self.target.help_text or ""
        if not refs:
            return {"type": "object", "description": description}
        return {"anyOf": refs, "description": description}
