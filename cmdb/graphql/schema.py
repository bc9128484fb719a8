"""The GraphQL schema, generated from :mod:`cmdb.graphql.registry`.

Per served model: an object type (``DeviceType``), a filter input (``DeviceFilter``), a query field
for one object (``device(id: ID!)``) and one for a list (``device_list(filters:, pagination:)``), as
NetBox 4.4 has them.  List fields are nullable so that a refused list (the reader has no view
permission for the model at all, which REST answers with 403) is reported as that field's error
without taking the rest of the answer down.

The field resolvers set here serve only graphql-core's own executor, which runs for introspection
(GraphiQL's documentation); data queries are compiled instead (:mod:`cmdb.graphql.compiler`) and
the compiled values are returned keyed by response key, which is what ``_by_key`` reads.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import models
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
)

from . import impact, scalars
from .compiler import by_key as _by_key
from .filters import FilterTypes, input_fields
from .registry import Exposed, FieldSpec, exposed

_SCALARS: dict[str, Any] = {"ID": GraphQLID, "String": GraphQLString, "Int": GraphQLInt, "Float": GraphQLFloat,
                            "Boolean": GraphQLBoolean, **scalars.CUSTOM}


def _field(type_: Any, description: str | None = None, args: dict[str, GraphQLArgument] | None = None) -> GraphQLField:
    return GraphQLField(type_, args=args, resolve=_by_key, description=description)


def _description(model: type[models.Model]) -> str | None:
    doc = (model.__doc__ or "").strip()
    if not doc or doc.startswith(f"{model.__name__}("):  # Django's generated "Model(id, name, ...)"
        return None
    return " ".join(doc.split("\n\n")[0].split())


class _Builder:
    def __init__(self) -> None:
        self.items = exposed()
        self.filter_types = FilterTypes()
        self.objects: dict[type[models.Model], GraphQLObjectType] = {}
        self.filters: dict[type[models.Model], GraphQLInputObjectType] = {}
        self.content_type = GraphQLObjectType("ContentTypeType", {
            "id": _field(GraphQLNonNull(GraphQLID)), "app_label": _field(GraphQLNonNull(GraphQLString)),
            "model": _field(GraphQLNonNull(GraphQLString))}, description="A model, as Django's content types name it.")
        self.family = GraphQLObjectType("IPAddressFamilyType", {
            "value": _field(GraphQLNonNull(GraphQLInt)), "label": _field(GraphQLNonNull(GraphQLString))})
        self.pagination = GraphQLInputObjectType("OffsetPaginationInput", {
            "offset": GraphQLInputField(GraphQLInt, default_value=0),
            "limit": GraphQLInputField(GraphQLInt, default_value=-1,
                                       description="At most this many (and never more than the server's page size, "
                                                   "MAX_PAGE_SIZE); -1 or none: the server's page size."),
        })
        self.assignment: GraphQLUnionType | None = None

    def build(self) -> GraphQLSchema:
        for model, item in self.items.items():
            self.filters[model] = GraphQLInputObjectType(
                item.filter_name, lambda item=item: input_fields(item, self.filter_types, self.filters[item.model],
                                                                 self.filters))
            self.objects[model] = GraphQLObjectType(item.type_name, lambda item=item: self._fields(item),
                                                    description=_description(model))
        members = [self.objects[m] for m in self.objects
                   if m._meta.label_lower in {"dcim.interface", "virtualization.vminterface"}]
        if members:
            self.assignment = GraphQLUnionType(
                "IPAddressAssignmentType", members,
                resolve_type=lambda value, info, type_: getattr(value, "typename", None))
        query = GraphQLObjectType("Query", self._query_fields)
        schema = GraphQLSchema(query=query, types=[self.content_type, self.family])
        schema.extensions = {"cmdb_exposed": self.items}
        return schema

    def _query_fields(self) -> dict[str, GraphQLField]:
        out: dict[str, GraphQLField] = {}
        for model, item in self.items.items():
            obj = self.objects[model]
            out[item.base] = GraphQLField(
                obj, args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))}, resolve=_root,
                description=f"One {model._meta.verbose_name} by id.", extensions={"cmdb": ("get", item)})
            out[f"{item.base}_list"] = GraphQLField(
                GraphQLList(GraphQLNonNull(obj)),
                args={"filters": GraphQLArgument(self.filters[model]),
                      "pagination": GraphQLArgument(self.pagination)},
                resolve=_root, description=f"{item.plural.capitalize()}, filtered and paginated.",
                extensions={"cmdb": ("list", item)})
        out.update(impact.query_fields(_root))
        return out

    def _fields(self, item: Exposed) -> dict[str, GraphQLField]:
        out: dict[str, GraphQLField] = {}
        for spec in item.fields.values():
            field = self._field_for(spec)
            if field is not None:
                out[spec.name] = field
        return out

    def _field_for(self, spec: FieldSpec) -> GraphQLField | None:
        kind = spec.kind
        if kind in {"id", "scalar", "display", "custom_fields", "choice", "computed"}:
            type_ = _SCALARS[spec.scalar or "String"]
            return _field(GraphQLNonNull(type_) if spec.non_null else type_)
        if kind == "family":
            return _field(GraphQLNonNull(self.family))
        if kind in {"content_type", "assigned_object_type"}:
            return _field(self.content_type)
        if kind == "assigned_object_id":
            return _field(scalars.BigInt)
        if kind == "assigned_object":
            return _field(self.assignment) if self.assignment is not None else None
        target = self.objects.get(spec.target)  # type: ignore[arg-type]
        if target is None:
            return None
        if kind == "fk":
            return _field(target)
        if kind in {"tags", "m2m"}:
            return _field(GraphQLNonNull(GraphQLList(GraphQLNonNull(target))))
        if kind == "reverse":
            return _field(GraphQLNonNull(GraphQLList(GraphQLNonNull(target))),
                          args={"filters": GraphQLArgument(self.filters[spec.target])})  # type: ignore[index]
        return None


def _root(source: Any, info: Any, **kwargs: Any) -> Any:
    """Root fields under graphql-core's executor (introspection requests): compile as usual."""
    from .execution import run_root_field

    return run_root_field(info.context, info.parent_type.fields[info.field_name], info.field_nodes)


@cache
def get_schema() -> GraphQLSchema:
    """The schema, built once per process (after the URL configuration is loaded)."""
    return _Builder().build()
