"""Selection sets compiled into queries: one ``values_list`` query per requested object type.

A generic GraphQL executor resolves every field of every object with a function call and then
"completes" the value (a dozen more calls): for 1,000 devices with four fields that alone is
tens of milliseconds.  Here a selection set is compiled once per request into

* the columns to fetch for the object type (one ``values_list`` query for the whole list),
* one small closure per response key that turns a row tuple into the wire value, and
* a child loader per nested selection (a foreign key, a reverse list, tags, a union member), each
  fetching the related rows of the *whole* page with one more query and the same compilation.

So a request costs a constant number of queries however many rows it returns, and the per-row
work is one dict built by precompiled closures.  Fields are collected as the GraphQL spec says
(fragments, inline fragments with type conditions, ``@skip``/``@include``, aliases); validation
(graphql-core, before this runs) guarantees the selection is well-formed.

Permissions, the same as the REST API's (:mod:`cmdb.api.serializers.hide_unseen`):

* rows of a list: :func:`restrict` with ``view``;
* a nested object: shown when the REST API would nest it (:func:`reference_queryset` with
  ``view``); when the selection asks for more than REST's brief form of it, the reader must also
  be allowed to view it in its own right (:func:`restrict`), else it is ``null``;
* a generic target (an IP address's interface): only if the reader may view it, as in REST;
* a nested list (a device's interfaces): its rows through :func:`restrict`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
)
from graphql.utilities import value_from_ast

from . import scalars
from .filters import FilterContext, to_q
from .registry import BRIEF, Exposed, FieldSpec

Getter = Callable[[tuple], Any]
Fields = dict[str, list[FieldNode]]


def by_key(source: Any, info: Any, **kwargs: Any) -> Any:
    """The resolver of every field under graphql-core's executor (introspection requests): compiled
    values are keyed by response key (aliases included), not by field name."""
    return source.get(info.path.key) if isinstance(source, dict) else None


class Budget(GraphQLError):
    """The request would materialize more objects than allowed."""


class Request:
    """What one GraphQL request compiles against: schema, fragments, variables, reader."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], user: Any, max_objects: int) -> None:
        from cmdb.users.permissions import grants_for

        self.schema, self.fragments, self.variables, self.user = schema, fragments, variables, user
        self.superuser = grants_for(user).superuser
        self.objects_left = max_objects
        self.max_objects = max_objects
        self.exposed: dict[type[models.Model], Exposed] = schema.extensions["cmdb_exposed"]  # type: ignore[index]
        self.filters = FilterContext(user, self.exposed)
        #: Response paths of lists the server's page size cut short.
        self.truncated: list[dict[str, Any]] = []

    # --- collection ----------------------------------------------------------------------------------------

    def include(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in {"skip", "include"}:
                continue
            arg = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            value = bool(value_from_ast(arg.value, GraphQLNonNull(GraphQLBoolean), self.variables)) if arg else False
            if (name == "skip" and value) or (name == "include" and not value):
                return False
        return True

    def _matches(self, condition: Any, type_name: str) -> bool:
        if condition is None or condition.name.value == type_name:
            return True
        abstract = self.schema.type_map.get(condition.name.value)
        return isinstance(abstract, GraphQLUnionType) and any(t.name == type_name for t in abstract.types)

    def collect(self, nodes: list[FieldNode], type_name: str) -> Fields:
        """The merged sub-selection of ``nodes`` for an object of type ``type_name``, by response key."""
        out: Fields = {}
        for node in nodes:
            if node.selection_set is not None:
                self._collect(node.selection_set, type_name, out, set())
        return out

    def collect_root(self, selection_set: SelectionSetNode) -> Fields:
        out: Fields = {}
        self._collect(selection_set, "Query", out, set())
        return out

    def _collect(self, selection_set: SelectionSetNode, type_name: str, out: Fields, visited: set[str]) -> None:
        for sel in selection_set.selections:
            if not self.include(sel):
                continue
            if isinstance(sel, FieldNode):
                key = sel.alias.value if sel.alias else sel.name.value
                out.setdefault(key, []).append(sel)
            elif isinstance(sel, InlineFragmentNode):
                if self._matches(sel.type_condition, type_name):
                    self._collect(sel.selection_set, type_name, out, visited)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._matches(fragment.type_condition, type_name):
                    self._collect(fragment.selection_set, type_name, out, visited)

    def arguments(self, field_def: Any, node: FieldNode) -> dict[str, Any]:
        """The field's arguments, coerced (variables substituted, defaults applied)."""
        given = {a.name.value: a.value for a in node.arguments or ()}
        out: dict[str, Any] = {}
        for name, arg in field_def.args.items():
            if name in given:
                value_node = given[name]
                if isinstance(value_node, VariableNode) and value_node.name.value not in self.variables:
                    if arg.default_value is not Undefined:
                        out[name] = arg.default_value
                    continue
                value = value_from_ast(value_node, arg.type, self.variables)
                if value is Undefined:
                    raise GraphQLError(f"Argument {name!r} has an invalid value.", value_node)
                out[name] = value
            elif arg.default_value is not Undefined:
                out[name] = arg.default_value
        return out

    def spend(self, rows: int) -> None:
        self.objects_left -= rows
        if self.objects_left < 0:
            raise Budget(f"This query asks for more than {self.max_objects} objects; narrow it with filters or "
                         "paginate, or select fewer nested lists.", extensions={"code": "TOO_COMPLEX"})

    # --- plans ---------------------------------------------------------------------------------------------

    def object_plan(self, item: Exposed, nodes: list[FieldNode]) -> ObjectPlan:
        return ObjectPlan(self, item, self.collect(nodes, item.type_name))

    def dict_plan(self, type_name: str, nodes: list[FieldNode]) -> DictPlan:
        return DictPlan(self, type_name, self.collect(nodes, type_name))


class Columns:
    """The ``values_list`` columns of one query, each fetched once however often it is used."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, column: str) -> int:
        if column not in self.index:
            self.index[column] = len(self.names)
            self.names.append(column)
        return self.index[column]


def _order(queryset: models.QuerySet) -> models.QuerySet:
    """A total order, so that pages never overlap: the REST viewset's order, then the primary key."""
    if not queryset.ordered:
        return queryset.order_by("pk")
    order = list(queryset.query.order_by or queryset.model._meta.ordering)
    if not any(str(o).lstrip("-") in {"pk", "id"} for o in order):
        queryset = queryset.order_by(*order, "pk")
    return queryset


class ObjectPlan:
    """A compiled selection on one model's type: columns, per-key getters and child loaders."""

    def __init__(self, req: Request, item: Exposed, fields: Fields) -> None:
        self.req, self.item = req, item
        self.cols = Columns()
        self.cols.add("id")
        self.getters: list[tuple[str, Getter]] = []
        self.children: list[Any] = []
        self.tags_for_computed = False
        #: Whether the selection stays within REST's brief form of a nested object.
        self.brief_only = all(nodes[0].name.value in BRIEF for nodes in fields.values())
        type_def: GraphQLObjectType = req.schema.type_map[item.type_name]  # type: ignore[assignment]
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                self.getters.append((key, lambda row, t=item.type_name: t))
                continue
            spec = item.fields[name]
            self.getters.append((key, self._getter(spec, nodes, type_def.fields[name])))

    # --- getters -------------------------------------------------------------------------------------------

    def _getter(self, spec: FieldSpec, nodes: list[FieldNode], field_def: Any) -> Getter:
        kind = spec.kind
        if kind == "id":
            return lambda row: str(row[0])
        if kind in {"scalar", "custom_fields"}:
            i = self.cols.add(spec.column or spec.name)
            convert = scalars.output(spec.scalar or "")
            if kind == "custom_fields":
                return lambda row: row[i] or {}
            if convert is None:
                return lambda row: row[i]
            return lambda row: convert(row[i]) if row[i] is not None else None
        if kind == "choice":
            i = self.cols.add(spec.column or spec.name)
            return lambda row: row[i] if row[i] != "" else None
        if kind == "display":
            return self._display()
        if kind == "computed":
            return self._computed(spec)
        if kind == "family":
            i = self.cols.add("family")
            plan = self.req.dict_plan("IPAddressFamilyType", nodes)
            return lambda row: plan.project({"value": row[i], "label": f"IPv{row[i]}"})
        if kind == "content_type":
            i = self.cols.add(spec.column or "")
            plan = self.req.dict_plan("ContentTypeType", nodes)
            return lambda row: plan.project(_content_type(row[i])) if row[i] is not None else None
        if kind == "fk":
            child = ForeignKeyChild(self, spec, nodes)
            self.children.append(child)
            return child.get
        if kind in {"tags", "m2m"}:
            child = ManyChild(self, spec, nodes)
            self.children.append(child)
            return child.get
        if kind == "reverse":
            child = ReverseChild(self, spec, nodes, field_def)
            self.children.append(child)
            return child.get
        if kind.startswith("assigned_object"):
            return self._assigned(kind, nodes)
        raise GraphQLError(f"Field {spec.name!r} cannot be compiled.")  # a registry/schema mismatch

    def _display(self) -> Getter:
        """``display`` exactly as REST renders it: where REST's fast reader compiles the serializer, its
        display column (``display_field``, by default ``name``) or declared display columns; else ``str()``."""
        from cmdb.api.fastread import plan_for

        model = self.item.model
        if plan_for(self.item.viewset.serializer_class, False) is not None:
            mf = _field(model, getattr(model, "display_field", "name"))
            if mf is not None and not mf.is_relation:
                i = self.cols.add(mf.attname)
                return lambda row: str(row[i]) if row[i] is not None else ""
            columns = getattr(model, "display_columns", None)
            if columns:
                idx = [self.cols.add(c) for c in columns]
                display_of = model.display_of  # type: ignore[attr-defined]
                return lambda row: display_of(*[row[i] for i in idx])
        child = DisplayChild(self)
        self.children.append(child)
        return child.get

    def _computed(self, spec: FieldSpec) -> Getter:
        from cmdb.api.fastread import ReadContext

        columns, fn = spec.computed
        idx = [self.cols.add(c) for c in columns]
        self.tags_for_computed = True  # REST's computed fields read the page's tags (config contexts do)
        self.read_context = ReadContext(base_url="")
        return lambda row: fn([row[i] for i in idx], self.read_context)

    def _assigned(self, kind: str, nodes: list[FieldNode]) -> Getter:
        """NetBox's generic ``assigned_object`` of an IP address, from its two foreign keys."""
        vis = next((c for c in self.children if isinstance(c, AssignedVisibility)), None)
        if vis is None:
            vis = AssignedVisibility(self)
            self.children.append(vis)
        columns = vis.columns

        def which(row: tuple) -> int | None:
            """0 (an interface), 1 (a VM interface) or None: unassigned, or assigned where the reader may not see."""
            for n, i in enumerate(columns):
                if row[i] is not None:
                    return n if vis.seen(n, row[i]) else None
            return None

        if kind == "assigned_object_id":
            return lambda row: row[columns[n]] if (n := which(row)) is not None else None
        if kind == "assigned_object_type":
            plan = self.req.dict_plan("ContentTypeType", nodes)
            types = [_content_type_of(m) for m in vis.models]
            return lambda row: plan.project(types[n]) if (n := which(row)) is not None else None
        members = [UnionMemberChild(self, vis, n, nodes) for n in range(2)]
        self.children.extend(members)
        return lambda row: members[n].get(row) if (n := which(row)) is not None else None

    # --- execution -----------------------------------------------------------------------------------------

    def fetch(self, queryset: models.QuerySet, limit: int | None = None) -> list[tuple]:
        """The rows (at most ``limit``; :attr:`more` tells whether the query had more) with their children."""
        rows = list(queryset.values_list(*self.cols.names))
        self.more = limit is not None and len(rows) > limit
        if self.more:
            rows = rows[:limit]
        self.req.spend(len(rows))
        if self.tags_for_computed and rows:
            self.read_context.tags = _tag_ids(self.item.model, [r[0] for r in rows])
        for child in self.children:
            child.load(rows)
        return rows

    def render(self, rows: list[tuple]) -> list[dict[str, Any]]:
        getters = self.getters
        return [{key: get(row) for key, get in getters} for row in rows]


def _field(model: type[models.Model], name: str) -> Any:
    try:
        return model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist
        return None


_ct_cache: dict[int, dict[str, Any]] = {}


def _content_type(ct_id: int) -> dict[str, Any]:
    found = _ct_cache.get(ct_id)
    if found is None:
        ct = ContentType.objects.get_for_id(ct_id)
        found = _ct_cache[ct_id] = {"id": str(ct.pk), "app_label": ct.app_label, "model": ct.model}
    return found


def _content_type_of(model: type[models.Model]) -> dict[str, Any]:
    return _content_type(ContentType.objects.get_for_model(model).pk)


def _tag_ids(model: type[models.Model], ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """Tag ids per object, for computed fields that read them (config contexts)."""
    through = model._meta.get_field("tags").remote_field.through  # type: ignore[union-attr]
    src = through._meta.get_field(model._meta.get_field("tags").m2m_field_name()).attname  # type: ignore[union-attr]
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for pk, tag_id in through._base_manager.filter(**{f"{src}__in": ids}).values_list(src, "tag_id"):
        out[pk].append({"id": tag_id})
    return out


# --- children --------------------------------------------------------------------------------------------------


class ForeignKeyChild:
    """A nested object behind a foreign key, loaded for the whole page with one query."""

    def __init__(self, parent: ObjectPlan, spec: FieldSpec, nodes: list[FieldNode]) -> None:
        self.parent = parent
        self.target = parent.req.exposed[spec.target]  # type: ignore[index]
        self.plan = parent.req.object_plan(self.target, nodes)
        self.i = parent.cols.add(spec.column or "")
        self.found: dict[Any, dict[str, Any]] = {}

    def load(self, rows: list[tuple]) -> None:
        from cmdb.users.permissions import reference_queryset, restrict

        ids = {row[self.i] for row in rows} - {None}
        if not ids:
            return
        req = self.parent.req
        queryset = self.target.queryset().filter(pk__in=ids).order_by()
        if not req.superuser:
            queryset = reference_queryset(queryset, req.user, self.parent.item.model, "view")
            if not self.plan.brief_only:
                queryset = restrict(queryset, req.user, "view")
        found = self.plan.fetch(queryset)
        self.found = dict(zip((r[0] for r in found), self.plan.render(found), strict=True))

    def get(self, row: tuple) -> Any:
        return self.found.get(row[self.i])


class DisplayChild:
    """``display`` of models whose ``str()`` needs more than their own columns (one query per page)."""

    def __init__(self, parent: ObjectPlan) -> None:
        self.parent = parent
        self.found: dict[Any, str] = {}

    def load(self, rows: list[tuple]) -> None:
        if rows:
            model = self.parent.item.model
            objects = model._base_manager.select_related().filter(pk__in=[r[0] for r in rows])
            self.found = {obj.pk: str(obj) for obj in objects}

    def get(self, row: tuple) -> str:
        return self.found.get(row[0], "")


class ManyChild:
    """Tags and other many-to-many lists, through their link table (two queries per page)."""

    def __init__(self, parent: ObjectPlan, spec: FieldSpec, nodes: list[FieldNode]) -> None:
        self.parent, self.spec = parent, spec
        self.target = parent.req.exposed[spec.target]  # type: ignore[index]
        self.plan = parent.req.object_plan(self.target, nodes)
        self.lists: dict[Any, list[dict[str, Any]]] = {}

    def load(self, rows: list[tuple]) -> None:
        from cmdb.users.permissions import reference_queryset

        ids = [r[0] for r in rows]
        if not ids:
            return
        src, dst = self.spec.through_columns
        links = list(self.spec.through._base_manager.filter(**{f"{src}__in": ids})  # type: ignore[union-attr]
                     .values_list(src, dst))
        wanted = {d for _s, d in links}
        if not wanted:
            return
        req = self.parent.req
        queryset = _order(self.target.queryset().filter(pk__in=wanted))
        if not req.superuser and self.spec.kind != "tags":  # REST shows every tag of a visible object
            queryset = reference_queryset(queryset, req.user, self.parent.item.model, "view")
        found = self.plan.fetch(queryset)
        rendered = dict(zip((r[0] for r in found), self.plan.render(found), strict=True))
        position = {pk: n for n, pk in enumerate(rendered)}
        grouped: dict[Any, list[Any]] = defaultdict(list)
        for s, d in links:
            if d in rendered:
                grouped[s].append(d)
        self.lists = {s: [rendered[d] for d in sorted(ds, key=position.__getitem__)] for s, ds in grouped.items()}

    def get(self, row: tuple) -> list[dict[str, Any]]:
        return self.lists.get(row[0], [])


class ReverseChild:
    """The served objects pointing at each row (a device's interfaces), with optional filters."""

    def __init__(self, parent: ObjectPlan, spec: FieldSpec, nodes: list[FieldNode], field_def: Any) -> None:
        self.parent, self.spec = parent, spec
        req = parent.req
        self.target = req.exposed[spec.target]  # type: ignore[index]
        self.plan = req.object_plan(self.target, nodes)
        self.key_i = parent.cols.add(spec.parent_column)
        self.fk_i = self.plan.cols.add(spec.child_column or "")
        args = req.arguments(field_def, nodes[0])
        self.filters = args.get("filters")
        self.lists: dict[Any, list[dict[str, Any]]] = {}

    def load(self, rows: list[tuple]) -> None:
        from cmdb.users.permissions import restrict

        keys = {row[self.key_i] for row in rows} - {None}
        if not keys:
            return
        req = self.parent.req
        queryset = self.target.queryset().filter(**{f"{self.spec.child_column}__in": keys})
        if self.filters:
            queryset = queryset.filter(to_q(self.target, self.filters, req.filters, f"{self.spec.name}.filters"))
        queryset = _order(restrict(queryset, req.user, "view"))
        # One more than the budget allows, so that an oversized list fails instead of being cut silently.
        found = self.plan.fetch(queryset[: max(req.objects_left, 0) + 1])
        rendered = self.plan.render(found)
        grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        fk_i = self.fk_i
        for row, obj in zip(found, rendered, strict=True):
            grouped[row[fk_i]].append(obj)
        self.lists = grouped

    def get(self, row: tuple) -> list[dict[str, Any]]:
        return self.lists.get(row[self.key_i], [])


class AssignedVisibility:
    """Which interfaces and VM interfaces of a page of IP addresses the reader may see (as REST hides them)."""

    def __init__(self, parent: ObjectPlan) -> None:
        model = parent.item.model
        self.parent = parent
        self.fields = [model._meta.get_field("interface"), model._meta.get_field("vminterface")]
        self.models = [f.related_model for f in self.fields]
        self.columns = [parent.cols.add(f.attname) for f in self.fields]
        self.visible: list[set[Any] | None] = [None, None]  # None: all

    def load(self, rows: list[tuple]) -> None:
        from cmdb.users.permissions import restrict, rows_filter

        req = self.parent.req
        if req.superuser:
            return
        for n, (target, i) in enumerate(zip(self.models, self.columns, strict=True)):
            ids = {row[i] for row in rows} - {None}
            if ids and rows_filter(target, req.user, "view") is not None:
                self.visible[n] = set(restrict(target._base_manager.filter(pk__in=ids), req.user, "view")
                                      .values_list("pk", flat=True))

    def seen(self, n: int, pk: Any) -> bool:
        allowed = self.visible[n]
        return allowed is None or pk in allowed


class UnionMemberChild:
    """One concrete type of the ``assigned_object`` union: the rows whose key points at it."""

    def __init__(self, parent: ObjectPlan, vis: AssignedVisibility, n: int, nodes: list[FieldNode]) -> None:
        self.parent, self.vis, self.n = parent, vis, n
        req = parent.req
        self.target = req.exposed.get(vis.models[n])
        self.plan = req.object_plan(self.target, nodes) if self.target is not None else None
        self.i = vis.columns[n]
        self.found: dict[Any, dict[str, Any]] = {}

    def load(self, rows: list[tuple]) -> None:
        from cmdb.users.permissions import restrict

        ids = {row[self.i] for row in rows} - {None}
        if not ids or self.plan is None or self.target is None:
            return
        req = self.parent.req
        queryset = self.target.queryset().filter(pk__in=ids).order_by()
        if not req.superuser:
            queryset = restrict(queryset, req.user, "view")
        found = self.plan.fetch(queryset)
        type_name = self.target.type_name
        self.found = {r[0]: Typed(obj, type_name) for r, obj in zip(found, self.plan.render(found), strict=True)}

    def get(self, row: tuple) -> Any:
        return self.found.get(row[self.i])


class Typed(dict):
    """A union member's value, which says its type (graphql-core's executor asks it in introspection requests)."""

    __slots__ = ("typename",)

    def __init__(self, value: dict[str, Any], typename: str) -> None:
        super().__init__(value)
        self.typename = typename


# --- plain values (content types, families, impact answers) --------------------------------------------------


class DictPlan:
    """A selection on a type backed by plain dicts: project each value onto the selected keys."""

    def __init__(self, req: Request, type_name: str, fields: Fields) -> None:
        type_def: GraphQLObjectType = req.schema.type_map[type_name]  # type: ignore[assignment]
        self.keys: list[tuple[str, str, DictPlan | None]] = []
        self.type_name = type_name
        for key, nodes in fields.items():
            name = nodes[0].name.value
            sub = None
            if name != "__typename":
                inner = type_def.fields[name].type
                while hasattr(inner, "of_type"):
                    inner = inner.of_type
                if isinstance(inner, GraphQLObjectType):
                    sub = DictPlan(req, inner.name, req.collect(nodes, inner.name))
            self.keys.append((key, name, sub))

    def project(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.project(v) for v in value]
        out = {}
        for key, name, sub in self.keys:
            if name == "__typename":
                out[key] = self.type_name
            elif sub is None:
                out[key] = value.get(name)
            else:
                out[key] = sub.project(value.get(name))
        return out
