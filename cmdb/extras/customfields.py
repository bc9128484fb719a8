"""Validation of custom-field values against their definitions.

Definitions change rarely and are read on every write, so they are cached per
model label and the cache is dropped whenever a definition is saved.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models.signals import post_delete, post_save

_TTL = 5.0  # seconds; other worker processes see a new definition within this time
_cache: dict[str, tuple[float, list[Any]]] = {}


def definitions_for(label: str) -> list[Any]:
    from cmdb.extras.models import CustomField

    hit = _cache.get(label)
    if hit is None or time.monotonic() - hit[0] > _TTL:
        defs = [cf for cf in CustomField.objects.all() if label in (cf.object_types or [])]
        hit = _cache[label] = (time.monotonic(), defs)
    return hit[1]


def _clear(**kwargs: Any) -> None:
    _cache.clear()


def _check(cf: Any, value: Any) -> Any:
    t = cf.type
    if t in ("text", "longtext"):
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if cf.validation_regex and not re.search(cf.validation_regex, value):
            raise ValueError(f"must match {cf.validation_regex}")
    elif t == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if cf.validation_minimum is not None and value < cf.validation_minimum:
            raise ValueError(f"must be at least {cf.validation_minimum}")
        if cf.validation_maximum is not None and value > cf.validation_maximum:
            raise ValueError(f"must be at most {cf.validation_maximum}")
    elif t == "decimal":
        try:
            decimal.Decimal(str(value))
        except decimal.InvalidOperation as exc:
            raise ValueError("must be a decimal number") from exc
    elif t == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
    elif t == "date":
        try:
            dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ValueError("must be a date (YYYY-MM-DD)") from exc
    elif t == "url":
        try:
            URLValidator()(value)
        except ValidationError as exc:
            raise ValueError("must be a URL") from exc
    elif t == "select" and value not in (cf.choices or []):
        raise ValueError(f"must be one of {', '.join(map(str, cf.choices or []))}")
    elif t == "multiselect" and (not isinstance(value, list) or any(v not in (cf.choices or []) for v in value)):
        raise ValueError(f"must be a list of {', '.join(map(str, cf.choices or []))}")
    return value


def validate_custom_fields(model: type, data: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` checked and completed with defaults, or raise per-field errors."""
    if not isinstance(data, dict):
        raise ValidationError({"custom_fields": "must be an object"})
    defs = {cf.name: cf for cf in definitions_for(model._meta.label_lower)}
    errors: dict[str, str] = {}
    for key in data:
        if key not in defs:
            errors[key] = "unknown custom field"
    result: dict[str, Any] = {}
    for name, cf in defs.items():
        value = data.get(name, cf.default)
        if value is None or value == "":
            if cf.required:
                errors[name] = "required"
            result[name] = None
            continue
        try:
            result[name] = _check(cf, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError({"custom_fields": [f"{k}: {v}" for k, v in sorted(errors.items())]})
    return result


post_save.connect(_clear, sender="extras.CustomField")
post_delete.connect(_clear, sender="extras.CustomField")
