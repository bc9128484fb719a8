"""``cf_<name>`` filters: one family per custom field, with the lookups that suit its type.

As NetBox (``CustomField.to_filter`` with the default "loose" filter logic):

=========================  ==================================================================
type                       parameters
=========================  ==================================================================
text, long text, URL       ``cf_x`` (contains, case-insensitive), ``__n`` (does not),
                           ``__ie``/``__nie``, ``__ic``/``__nic``, ``__isw``/``__nisw``,
                           ``__iew``/``__niew``
integer, decimal, date     ``cf_x``, ``__n``, ``__gt``, ``__gte``, ``__lt``, ``__lte``
boolean                    ``cf_x``
selection                  ``cf_x`` (one of the choices; other values are a 400), ``__n``,
                           and the text lookups
multiple selection         ``cf_x`` (has this choice), ``__n`` (has none of them)
JSON                       none (as NetBox)
=========================  ==================================================================

plus ``cf_x__empty`` for every type but JSON.  Repeated values are ORed.  Values are parsed
with the field's type, so ``cf_rack_units=abc`` is a 400, not an empty list.

The values live in the ``custom_field_data`` JSON column; the lookups are Django's JSON key
transforms, which compile to ``->``/``->>`` on PostgreSQL and ``JSON_EXTRACT`` on SQLite.
"Has this choice" of a multiple selection has no portable key transform, so
:class:`JSONArrayHas` writes it for each database.
"""

from __future__ import annotations

import json
from typing import Any

import django_filters
from django import forms
from django.db import models
from django.db.models import Q, QuerySet

from .filters import RANGE_LOOKUPS, TEXT_LOOKUPS, BooleanFilter, MultiValueFilter

_cache: dict[tuple[type, tuple], dict[str, django_filters.Filter]] = {}
_CACHE_MAX = 256


class JSONArrayHas(models.Func):
    """True where the JSON array at ``column -> key`` has ``value`` as an element."""

    output_field = models.BooleanField()

    def __init__(self, column: str, key: str, value: Any) -> None:
        super().__init__(models.F(column))
        self.key, self.value = key, value

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        lhs, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"(({lhs} -> %s) @> %s::jsonb)", [*params, self.key, json.dumps([self.value])]
        # SQLite: one row per element; the key is a custom-field name ([a-z0-9_]+), passed as a parameter anyway.
        return (f"EXISTS (SELECT 1 FROM json_each({lhs}, %s) WHERE json_each.value = %s)",  # noqa: S608 - lhs is a column
                [*params, f'$."{self.key}"', self.value])


class CustomFieldFilter(MultiValueFilter):
    """A lookup on one key of ``custom_field_data``; decimals compare as numbers, dates as ISO text."""

    def __init__(self, *args: Any, cf_type: str = "text", **kwargs: Any) -> None:
        self.cf_type = cf_type
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        q = Q()
        for v in value:
            if self.cf_type == "decimal":
                v = float(v)
            elif self.cf_type == "date":
                v = v.isoformat()
            q |= Q(**{f"{self.field_name}__{self.lookup_expr}": v})
        if self.lookup_expr in ("gt", "gte", "lt", "lte"):
            # SQLite's key transform yields the text 'null' for a JSON null, which compares as a string.
            q &= ~Q(**{self.field_name: None})
        if self.exclude:
            # Objects without the value (key missing, null) are "not matching" too: exclude by id, since
            # NOT (NULL LIKE ...) is NULL and SQL would drop them.
            return qs.exclude(pk__in=qs.model._base_manager.filter(q).values("pk"))
        return qs.filter(q)


class CustomFieldBooleanFilter(BooleanFilter):
    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is None:
            return qs
        return qs.filter(**{self.field_name: value})


class CustomFieldEmptyFilter(BooleanFilter):
    """``cf_x__empty=true``: the key is missing, JSON null, an empty string or an empty list."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is None:
            return qs
        column, key = self.field_name.split("__", 1)
        q = ~Q(**{f"{column}__has_key": key}) | Q(**{self.field_name: None}) | Q(**{self.field_name: ""})
        q |= Q(**{self.field_name: []})
        return qs.filter(q) if value else qs.exclude(q)


class CustomFieldHasFilter(MultiValueFilter):
    """Multiple selection: objects whose list holds any of the values (``__n``: none of them)."""

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        column, key = self.field_name.split("__", 1)
        q = Q()
        for v in value:
            q |= Q(JSONArrayHas(column, key, v))
        if self.exclude:  # by id: on PostgreSQL "@>" on a missing key is NULL, and NOT NULL drops the row
            return qs.exclude(pk__in=qs.model._base_manager.filter(q).values("pk"))
        return qs.filter(q)


def _choice_field(choices: list[Any]) -> forms.ChoiceField:
    return forms.ChoiceField(choices=[(str(c), str(c)) for c in choices])


def filters_for_custom_field(cf: Any) -> dict[str, django_filters.Filter]:
    """The ``cf_<name>`` family for one definition (empty for JSON fields)."""
    name, path, t = f"cf_{cf.name}", f"custom_field_data__{cf.name}", cf.type
    out: dict[str, django_filters.Filter] = {}
    if t in ("text", "longtext", "url", "select"):
        inner = _choice_field(cf.choices or []) if t == "select" else None
        main_lookup = "exact" if t == "select" else "icontains"
        out[name] = CustomFieldFilter(field_name=path, lookup_expr=main_lookup, inner=inner, cf_type=t)
        out[f"{name}__n"] = CustomFieldFilter(field_name=path, lookup_expr=main_lookup, inner=inner, cf_type=t,
                                              exclude=True)
        for suffix, (lookup, exclude) in TEXT_LOOKUPS.items():
            if suffix != "n":
                out[f"{name}__{suffix}"] = CustomFieldFilter(field_name=path, lookup_expr=lookup, exclude=exclude,
                                                             cf_type=t)
    elif t in ("integer", "decimal", "date"):
        inner_for = {"integer": lambda: forms.IntegerField(min_value=-(2**63), max_value=2**63 - 1),
                     "decimal": forms.DecimalField, "date": forms.DateField}[t]
        out[name] = CustomFieldFilter(field_name=path, inner=inner_for(), cf_type=t)
        for suffix, (lookup, exclude) in RANGE_LOOKUPS.items():
            out[f"{name}__{suffix}"] = CustomFieldFilter(field_name=path, lookup_expr=lookup, exclude=exclude,
                                                         inner=inner_for(), cf_type=t)
    elif t == "boolean":
        out[name] = CustomFieldBooleanFilter(field_name=path)
    elif t == "multiselect":
        inner = _choice_field(cf.choices or [])
        out[name] = CustomFieldHasFilter(field_name=path, inner=inner)
        out[f"{name}__n"] = CustomFieldHasFilter(field_name=path, inner=_choice_field(cf.choices or []), exclude=True)
    else:
        return {}
    out[f"{name}__empty"] = CustomFieldEmptyFilter(field_name=path)
    for param, flt in out.items():
        flt._param_name = param  # type: ignore[attr-defined]
        flt.label = f"{cf.label or cf.name} (custom field)"
    return out


def custom_field_filters(model: type[models.Model]) -> tuple[tuple, dict[str, django_filters.Filter]]:
    """(a signature of the model's custom-field definitions, the ``cf_`` filters for them).

    The definitions come from :func:`cmdb.extras.customfields.definitions_for` (cached a few
    seconds per process); the filters are rebuilt only when the signature changes.
    """
    if not any(f.name == "custom_field_data" for f in model._meta.concrete_fields):
        return (), {}
    from django.db import DatabaseError

    from cmdb.extras.customfields import definitions_for

    try:
        defs = definitions_for(model._meta.label_lower)
    except DatabaseError:  # not migrated yet (a schema generated offline): no custom fields exist
        return (), {}
    signature = tuple((cf.name, cf.type, cf.label, json.dumps(cf.choices or [])) for cf in defs)
    key = (model, signature)
    filters = _cache.get(key)
    if filters is None:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        filters = {}
        for cf in defs:
            filters.update(filters_for_custom_field(cf))
        _cache[key] = filters
    return signature, filters
