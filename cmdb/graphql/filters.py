"""NetBox 4.4's GraphQL filters: the ``<Name>Filter`` input types and their translation to ``Q``.

The syntax is strawberry-django's as NetBox 4.4 uses it::

    device_list(filters: {status: STATUS_ACTIVE, name: {i_starts_with: "core"},
                          site: {slug: {exact: "campus-z"}}, OR: {serial: {exact: "X1"}}})

* text fields take a lookup object (``exact``, ``i_exact``, ``contains``, ``i_contains``, ``in_list``,
  ``starts_with``, ``i_starts_with``, ``ends_with``, ``i_ends_with``, ``regex``, ``i_regex``,
  ``gt``/``gte``/``lt``/``lte``, ``range``, ``is_null``); numbers and dates the comparisons;
  booleans ``exact``/``is_null``;
* choice fields (``status``) and ``id`` take a bare value (NetBox 4.4; 4.5 wraps them in lookups);
* a foreign key takes the related type's filter (``site: {...}``) or an id (``site_id: 3``); the
  lists a type shows (``interfaces``, ``tags``) take their type's filter ("has one that matches");
* ``AND``, ``OR`` and ``NOT`` combine filters of the same type.

Conditions on related objects only match objects the reader may see: the same rule the REST API
applies to ``?site=`` (:func:`cmdb.users.permissions.reference_queryset`) when the condition
names only what REST shows of a nested object, otherwise :func:`restrict`, so a filter can never
be used to probe fields of objects the reader cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLString,
)

from . import scalars
from .registry import BRIEF, Exposed, FieldSpec

MAX_PK = scalars.BIG
LOGIC = ("AND", "OR", "NOT", "DISTINCT")
#: AND/OR/NOT and related-object conditions nest at most this deep (variables are not bounded by the query limits).
MAX_NESTING = 16

_TEXT_LOOKUPS = {
    "exact": "exact", "i_exact": "iexact", "contains": "contains", "i_contains": "icontains", "in_list": "in",
    "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "range": "range", "is_null": "isnull",
    "starts_with": "startswith", "i_starts_with": "istartswith", "ends_with": "endswith",
    "i_ends_with": "iendswith", "regex": "regex", "i_regex": "iregex",
}
_COMPARE_LOOKUPS = {k: _TEXT_LOOKUPS[k] for k in ("exact", "in_list", "is_null", "gt", "gte", "lt", "lte", "range")}
_BOOL_LOOKUPS = {"exact": "exact", "is_null": "isnull"}

_SCALAR_TYPES: dict[str, Any] = {
    "String": GraphQLString, "Int": GraphQLInt, "Float": GraphQLFloat, "Boolean": GraphQLBoolean,
    **scalars.CUSTOM,
}


def enum_key(field: str, value: str) -> str:
    """NetBox's enum member names: the field as prefix, then the value (``STATUS_ACTIVE``, ``TYPE_1000BASE_T``)."""
    return re.sub(r"[^0-9A-Za-z]+", "_", f"{field}_{value}").strip("_").upper()


class FilterTypes:
    """The input types of one schema, built once (lookups shared between fields of a scalar type)."""

    def __init__(self) -> None:
        self.lookups: dict[str, GraphQLInputObjectType] = {}
        self.enums: dict[str, GraphQLEnumType] = {}

    def lookup(self, scalar: str) -> GraphQLInputObjectType:
        if scalar in self.lookups:
            return self.lookups[scalar]
        base = _SCALAR_TYPES[scalar]
        if scalar == "Boolean":
            names, name = _BOOL_LOOKUPS, "BoolFilterLookup"
        elif scalar == "String":
            names, name = _TEXT_LOOKUPS, "StrFilterLookup"
        else:
            names, name = _COMPARE_LOOKUPS, f"{scalar}FilterLookup"
        range_type = GraphQLInputObjectType(f"{scalar}RangeLookup", {
            "start": GraphQLInputField(base), "end": GraphQLInputField(base)})

        def thunk() -> dict[str, GraphQLInputField]:
            out = {}
            for key in names:
                if key == "in_list":
                    out[key] = GraphQLInputField(GraphQLList(GraphQLNonNull(base)))
                elif key == "is_null":
                    out[key] = GraphQLInputField(GraphQLBoolean)
                elif key == "range":
                    out[key] = GraphQLInputField(range_type)
                else:
                    out[key] = GraphQLInputField(base)
            return out

        self.lookups[scalar] = GraphQLInputObjectType(name, thunk, description=f"Lookups on a {scalar} field.")
        return self.lookups[scalar]

    def enum(self, item: Exposed, spec: FieldSpec) -> GraphQLEnumType:
        name = f"{item.type_name.removesuffix('Type')}{''.join(p.title() for p in spec.name.split('_'))}Enum"
        if name not in self.enums:
            values = {enum_key(spec.name, value): GraphQLEnumValue(value, description=label)
                      for value, label in spec.choices.items() if value != ""}
            self.enums[name] = GraphQLEnumType(name, values)
        return self.enums[name]


def input_fields(item: Exposed, types: FilterTypes, filter_type: Any,
                 filter_types: dict[type, GraphQLInputObjectType]) -> dict[str, GraphQLInputField]:
    """The fields of ``item``'s filter input (called lazily: filter types refer to each other)."""
    out: dict[str, GraphQLInputField] = {"id": GraphQLInputField(GraphQLID)}
    for spec in item.fields.values():
        if spec.kind == "choice" and spec.choices:
            out[spec.name] = GraphQLInputField(types.enum(item, spec))
        elif spec.kind == "scalar" and spec.scalar in _SCALAR_TYPES and spec.scalar != "JSON":
            out[spec.name] = GraphQLInputField(types.lookup(spec.scalar))
        elif spec.kind in {"fk", "tags", "m2m", "reverse"} and spec.target in filter_types:
            out[spec.name] = GraphQLInputField(filter_types[spec.target])
            if spec.kind == "fk":
                out[f"{spec.name}_id"] = GraphQLInputField(GraphQLID)
    for key in ("AND", "OR", "NOT"):
        out[key] = GraphQLInputField(filter_type)
    out["DISTINCT"] = GraphQLInputField(GraphQLBoolean)
    return out


# --- translation ---------------------------------------------------------------------------------------------


@dataclass
class FilterContext:
    user: Any
    exposed: dict[type, Exposed]
    #: A regular expression lookup was used: the database may refuse the pattern, so run in a savepoint.
    regex: bool = False


def as_pk(value: Any, where: str) -> int:
    """An object id from an ``ID`` argument (a string or an integer), else an error naming the argument."""
    text = str(value)
    if not (text.isascii() and text.lstrip("-").isdigit()) or not 0 < int(text) <= MAX_PK:
        raise GraphQLError(f"{where}: {text[:40]!r} is not an object id.")
    return int(text)


def _text(value: Any, where: str) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise GraphQLError(f"{where}: text must not contain NUL characters.")
    if isinstance(value, list):
        return [_text(v, where) for v in value]
    return value


def _lookup_q(column: str, spec: FieldSpec, data: dict[str, Any], where: str, ctx: FilterContext) -> Q:
    lookups = _BOOL_LOOKUPS if spec.scalar == "Boolean" else _TEXT_LOOKUPS if spec.scalar == "String" \
        else _COMPARE_LOOKUPS
    q = Q()
    for key, value in data.items():
        if value is None or key not in lookups:
            continue
        value = _text(value, f"{where}.{key}")
        if key == "range":
            start, end = value.get("start"), value.get("end")
            if start is not None:
                q &= Q(**{f"{column}__gte": start})
            if end is not None:
                q &= Q(**{f"{column}__lte": end})
            continue
        if key in {"regex", "i_regex"}:
            ctx.regex = True
        q &= Q(**{f"{column}__{lookups[key]}": value})
    return q


def _only_brief(data: dict[str, Any]) -> bool:
    """Whether a nested condition names only what REST shows of a nested object."""
    for key, value in data.items():
        if key in LOGIC:
            if isinstance(value, dict) and not _only_brief(value):
                return False
        elif key not in BRIEF:
            return False
    return True


def _visible(queryset: QuerySet, parent: Exposed, data: dict[str, Any] | None, ctx: FilterContext) -> QuerySet:
    from cmdb.users.permissions import reference_queryset, restrict

    if data is None or _only_brief(data):
        return reference_queryset(queryset, ctx.user, parent.model, "view")
    return restrict(queryset, ctx.user, "view")


def to_q(item: Exposed, data: dict[str, Any], ctx: FilterContext, where: str = "filters") -> Q:
    """The condition a filter input stands for (values already coerced by graphql-core)."""
    if where.count(".") > MAX_NESTING:
        raise GraphQLError(f"{where.rsplit('.', 1)[0]}: filters nest at most {MAX_NESTING} levels deep.")
    q = Q()
    fields = item.fields
    for key, value in data.items():
        if value is None or key in LOGIC:
            continue
        here = f"{where}.{key}"
        if key == "id":
            q &= Q(pk=as_pk(value, here))
            continue
        spec = fields.get(key)
        if spec is None and key.endswith("_id"):
            spec = fields.get(key[:-3])
            if spec is None or spec.kind != "fk":
                raise GraphQLError(f"{here}: unknown filter.")
            target = spec.target._base_manager.filter(pk=as_pk(value, here))  # type: ignore[union-attr]
            q &= Q(**{f"{spec.name}__in": _visible(target, item, None, ctx).values("pk")})
            continue
        if spec is None:
            raise GraphQLError(f"{here}: unknown filter.")
        if spec.kind == "choice":
            q &= Q(**{spec.column: value})
        elif spec.kind == "scalar":
            q &= _lookup_q(spec.column or spec.name, spec, value, here, ctx)
        elif spec.kind in {"fk", "tags", "m2m", "reverse"}:
            q &= _related_q(item, spec, value, here, ctx)
    if data.get("AND") is not None:
        q &= to_q(item, data["AND"], ctx, f"{where}.AND")
    if data.get("OR") is not None:
        q |= to_q(item, data["OR"], ctx, f"{where}.OR")
    if data.get("NOT") is not None:
        q &= ~to_q(item, data["NOT"], ctx, f"{where}.NOT")
    return q


def _related_q(item: Exposed, spec: FieldSpec, value: dict[str, Any], where: str, ctx: FilterContext) -> Q:
    from cmdb.users.permissions import restrict

    target = ctx.exposed[spec.target]
    matching = target.model._base_manager.filter(to_q(target, value, ctx, where))
    if spec.kind == "fk":
        return Q(**{f"{spec.name}__in": _visible(matching, item, value, ctx).values("pk")})
    if spec.kind == "reverse":
        rows = restrict(matching, ctx.user, "view")
        return Q(**{f"{spec.parent_column}__in": rows.values(spec.child_column or "")})
    src, dst = spec.through_columns
    allowed = matching if spec.kind == "tags" else _visible(matching, item, value, ctx)
    links = spec.through._base_manager.filter(**{f"{dst}__in": allowed.values("pk")})  # type: ignore[union-attr]
    return Q(pk__in=links.values(src))
