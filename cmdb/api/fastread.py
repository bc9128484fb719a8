"""Fast read path: a serializer's field list compiled into one query per page.

DRF serializes an object by calling a field object per attribute, which with
nested objects costs ~50 function calls per row.  Here the serializer's
fields are compiled once per class into (a) the columns to fetch with a
single ``values_list`` query and (b) a list of small closures that turn a
row tuple into the NetBox-shaped dict.  Nested related objects (site, role,
primary IP, ...) and tags come from one extra query per related model for
the whole page, not from joins: PostgreSQL needs ~50-100 ms just to plan a
dozen-way join and joins every matching row before LIMIT, while a lookup by
primary key costs well under a millisecond.  Serializers with fields this
compiler does not understand fall back to DRF (``plan_for`` returns
``None``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models
from django.db.models import F, Lookup
from rest_framework import serializers

from .fields import (
    ChoiceField,
    ContentTypeField,
    CustomFieldsField,
    PreferredRelatedField,
    RelatedObjectField,
    TagListField,
)
from .registry import endpoint_path
from .serializers import DisplayField, ObjectURLField

Getter = Callable[[tuple, "ReadContext"], Any]


@dataclass
class ReadContext:
    base_url: str
    tags: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: Brief form of the related objects the page refers to: related model -> pk -> dict.
    related: dict[type[models.Model], dict[Any, dict[str, Any]]] = field(default_factory=dict)
    #: Per-page caches of computed fields (e.g. the config-context index).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Count name -> object id -> number of related rows (``Serializer.fast_counts``).
    counts: dict[str, dict[Any, int]] = field(default_factory=dict)


@dataclass
class RelatedLookup:
    """The brief form of one related model, loaded for a whole page with one query."""

    model: type[models.Model]
    prefix: str  # "/api/dcim/sites/"
    display: str  # column shown as ``display``
    extras: list[str]  # name/slug/model/address columns copied as they are
    fk_indexes: list[int] = field(default_factory=list)  # row positions of the foreign keys to it
    #: Foreign keys shown nested inside the brief form (``Model.brief_nested``: a device type's manufacturer).
    nested: tuple[str, ...] = ()


@dataclass
class RelatedCount:
    """``<name>``: how many ``model`` rows point at each object of the page through ``fk``; one query a page."""

    name: str
    model_label: str  # "ipam.Prefix"
    fk: str  # "site"


@dataclass
class Plan:
    model: type[models.Model]
    columns: list[str]
    getters: list[tuple[str, Getter]]
    needs_tags: bool
    related: list[RelatedLookup] = field(default_factory=list)
    counts: list[RelatedCount] = field(default_factory=list)


def _column_getter(i: int, model_field: models.Field | None) -> Getter:
    """The value of column ``i`` as JSON wants it; one call per value (this runs for every cell)."""
    if isinstance(model_field, (models.DateTimeField, models.DateField, models.TimeField)):
        return lambda row, ctx: row[i].isoformat() if row[i] is not None else None
    if isinstance(model_field, models.DecimalField):
        return lambda row, ctx: float(row[i]) if row[i] is not None else None
    if isinstance(model_field, models.UUIDField):
        return lambda row, ctx: str(row[i]) if row[i] is not None else None
    return lambda row, ctx: row[i]


def _display_column(model: type[models.Model]) -> str | None:
    name = getattr(model, "display_field", "name")
    try:
        f = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return f.attname if not f.is_relation else None


class _Columns:
    def __init__(self) -> None:
        self.columns: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, column: str) -> int:
        if column not in self.index:
            self.index[column] = len(self.columns)
            self.columns.append(column)
        return self.index[column]


def _display_getter(model: type[models.Model], cols: _Columns) -> Getter | None:
    """``display`` from the model's display column, or from the ``display_columns`` its ``display_of`` joins.

    A model whose ``str()`` names related rows (an installation is "<product> <version> on <CI>")
    declares those columns, fetched with the page's own query, instead of ``str()`` costing a
    query per related row per object (5 ms a row for installations through DRF).
    """
    disp = _display_column(model)
    if disp is not None:
        i = cols.add(disp)
        return lambda row, ctx: str(row[i]) if row[i] is not None else ""
    columns = getattr(model, "display_columns", None)
    if not columns:
        return None
    idx = [cols.add(c) for c in columns]
    display_of = model.display_of  # type: ignore[attr-defined]
    return lambda row, ctx: display_of(*[row[i] for i in idx])


def _nested_getter(cols: _Columns, related_lookups: dict[type[models.Model], RelatedLookup],
                   related: type[models.Model], fk_attname: str) -> Getter | None:
    path = endpoint_path(related)
    if path is None:
        return None
    disp = _display_column(related)
    if disp is None:
        return None
    lookup = related_lookups.get(related)
    if lookup is None:
        lookup = _lookup_for(related)
        if lookup is None:
            return None
        lookup.nested = tuple(getattr(related, "brief_nested", ()))
        related_lookups[related] = lookup
    id_i = cols.add(fk_attname)
    lookup.fk_indexes.append(id_i)
    objects = lookup.model

    def get(row: tuple, ctx: ReadContext) -> Any:
        pk = row[id_i]
        if pk is None:
            return None
        brief = ctx.related[objects].get(pk)
        # Missing only if the related row was deleted between the two queries (its FK is nulled too).
        return dict(brief) if brief is not None else None

    return get


def compile_plan(serializer_class: type[serializers.Serializer], brief: bool,
                 only: tuple[str, ...] | None = None) -> Plan | None:
    """The plan for the serializer's fields (its brief fields with ``brief``), or just ``only`` in their order."""
    if not getattr(serializer_class, "fast_read", True):
        return None
    serializer = serializer_class(context={"request": None})
    model: type[models.Model] = serializer.Meta.model  # type: ignore[attr-defined]
    names = list(getattr(serializer.Meta, "brief_fields", ())) if brief else list(serializer.fields)  # type: ignore[attr-defined]
    if only is not None:
        names = list(only)
    computed = getattr(serializer_class, "fast_computed", {})
    count_specs = getattr(serializer_class, "fast_counts", {})
    counts: list[RelatedCount] = []
    path = endpoint_path(model)
    cols = _Columns()
    id_i = cols.add("id")
    getters: list[tuple[str, Getter]] = []
    related_lookups: dict[type[models.Model], RelatedLookup] = {}
    needs_tags = False
    for name in names:
        if name in count_specs:
            counts.append(RelatedCount(name, *count_specs[name]))
            getters.append((name, lambda row, ctx, n=name: ctx.counts[n].get(row[id_i], 0)))
            continue
        if name in computed:
            columns, fn = computed[name]
            idx = [cols.add(c) for c in columns]
            getters.append((name, lambda row, ctx, idx=idx, fn=fn: fn([row[i] for i in idx], ctx)))
            continue
        f = serializer.fields.get(name)
        if f is None:
            return None
        source = f.source
        if isinstance(f, ObjectURLField):
            prefix = f"/api/{path}/"
            getters.append((name, lambda row, ctx, p=prefix: f"{ctx.base_url}{p}{row[id_i]}/"))
        elif isinstance(f, DisplayField):
            getter = _display_getter(model, cols)
            if getter is None:
                return None
            getters.append((name, getter))
        elif isinstance(f, TagListField):
            needs_tags = True
            getters.append((name, lambda row, ctx: ctx.tags.get(row[id_i], [])))
        elif isinstance(f, CustomFieldsField):
            i = cols.add(source)
            getters.append((name, lambda row, ctx, i=i: row[i] or {}))
        elif isinstance(f, PreferredRelatedField):
            choices = []
            for src in f.sources:
                mf = model._meta.get_field(src)
                getter = _nested_getter(cols, related_lookups, mf.related_model, mf.attname)
                if getter is None:
                    return None
                choices.append(getter)
            getters.append((name, lambda row, ctx, gs=choices, f=f: next(
                (v for v in f.ordered([g(row, ctx) for g in gs]) if v is not None), None)))
        elif isinstance(f, RelatedObjectField):
            mf = model._meta.get_field(source)
            getter = _nested_getter(cols, related_lookups, mf.related_model, mf.attname)
            if getter is None:
                return None
            getters.append((name, getter))
        elif isinstance(f, ContentTypeField):
            mf = model._meta.get_field(source)
            a, m = cols.add(f"{source}__app_label"), cols.add(f"{source}__model")
            getters.append((name, lambda row, ctx, a=a, m=m: f"{row[a]}.{row[m]}" if row[a] else None))
        elif isinstance(f, ChoiceField):
            i = cols.add(source)
            labels = {k: str(v) for k, v in f.choices.items()}
            getters.append(
                (name, lambda row, ctx, i=i, lb=labels: {"value": row[i], "label": lb.get(row[i], row[i])}
                 if row[i] not in ("", None) else None)
            )
        elif isinstance(f, serializers.ManyRelatedField | serializers.SerializerMethodField | serializers.Serializer):
            return None
        else:
            try:
                mf = model._meta.get_field(source)
            except FieldDoesNotExist:
                # An annotation on the viewset's queryset (e.g. a count).
                mf = None
            if mf is not None and mf.is_relation and source != mf.attname:
                return None
            getters.append((name, _column_getter(cols.add(source if mf is None else mf.attname), mf)))
    return Plan(model, cols.columns, getters, needs_tags, list(related_lookups.values()), counts)


_plans: dict[tuple[type, bool, tuple[str, ...] | None], Plan | None] = {}
_PLANS_MAX = 1024


def plan_for(serializer_class: type[serializers.Serializer], brief: bool,
             only: tuple[str, ...] | None = None) -> Plan | None:
    """The compiled plan, cached per serializer, brief flag and field selection (``?fields=``/``?exclude=``)."""
    key = (serializer_class, brief, only)
    if key not in _plans:
        if len(_plans) >= _PLANS_MAX:
            _plans.clear()
        _plans[key] = compile_plan(serializer_class, brief, only)
    return _plans[key]


class _AnyOf(Lookup):
    """``column = ANY(%s)`` with the ids as one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def _filter_in(queryset: models.QuerySet, column: str, ids: Any) -> models.QuerySet:
    """``column IN ids``.  On PostgreSQL as ``= ANY(array)``: for a page of 1,000 ids, 1,000 bound
    parameters cost Django and PostgreSQL ~25 ms, one array parameter ~2 ms."""
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(_AnyOf(F(column), list(ids)))
    return queryset.filter(**{f"{column}__in": ids})


def _load_tags(model: type[models.Model], ids: list[int], base_url: str) -> dict[int, list[dict[str, Any]]]:
    through = model._meta.get_field("tags").remote_field.through  # type: ignore[union-attr]
    src = f"{model._meta.model_name}_id"
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        _filter_in(through.objects.all(), src, ids)
        .order_by("tag__name")
        .values_list(src, "tag_id", "tag__name", "tag__slug", "tag__color")
    )
    for pk, tag_id, name, slug, color in rows:
        out[pk].append({"id": tag_id, "url": f"{base_url}/api/extras/tags/{tag_id}/", "display": name,
                        "name": name, "slug": slug, "color": color})
    return out


def _load_related(lookup: RelatedLookup, rows: list[tuple], base_url: str) -> dict[Any, dict[str, Any]]:
    ids = {row[i] for row in rows for i in lookup.fk_indexes}
    ids.discard(None)
    return _briefs(lookup, ids, base_url)


def _briefs(lookup: RelatedLookup, ids: set[Any], base_url: str, depth: int = 0) -> dict[Any, dict[str, Any]]:
    """The brief form of ``ids``: one query, plus one per nested foreign key (one level deep)."""
    if not ids:
        return {}
    prefix = f"{base_url}{lookup.prefix}"
    nested = [lookup.model._meta.get_field(n) for n in lookup.nested] if depth == 0 else []
    width = 2 + len(lookup.extras)
    rows = list(_filter_in(lookup.model._base_manager.all(), "pk", ids).order_by().values_list(
        "pk", lookup.display, *lookup.extras, *(f.attname for f in nested)))
    inner: dict[str, dict[Any, dict[str, Any]]] = {}
    for k, f in enumerate(nested):
        sub = _lookup_for(f.related_model)
        inner[f.name] = _briefs(sub, {r[width + k] for r in rows} - {None}, base_url, depth + 1) if sub else {}
    out = {}
    for row in rows:
        pk, display = row[0], row[1]
        brief = {"id": pk, "url": f"{prefix}{pk}/", "display": str(display)}
        brief.update(zip(lookup.extras, row[2:width], strict=True))
        for k, f in enumerate(nested):
            target = inner[f.name].get(row[width + k])
            brief[f.name] = dict(target) if target is not None else None
        out[pk] = brief
    return out


def _lookup_for(model: type[models.Model]) -> RelatedLookup | None:
    path, disp = endpoint_path(model), _display_column(model)
    if path is None or disp is None:
        return None
    extras = []
    for attr in ("name", "slug", "model", "address"):
        try:
            f = model._meta.get_field(attr)
        except FieldDoesNotExist:
            continue
        if not f.is_relation:
            extras.append(attr)
    return RelatedLookup(model, f"/api/{path}/", disp, extras)


def _load_counts(spec: RelatedCount, ids: list[Any], user: Any) -> dict[Any, int]:
    """One grouped query: related rows per object of the page, only those the reader may see.

    Counting rows the reader may not view would tell a tenant-limited user how many of
    another faculty's prefixes (say) sit at a shared site.
    """
    from django.apps import apps
    from django.db.models import Count

    model = apps.get_model(spec.model_label)
    column = model._meta.get_field(spec.fk).attname
    queryset = model._base_manager.all()
    if user is not None:
        from cmdb.users.permissions import restrict

        queryset = restrict(queryset, user, "view")
    queryset = _filter_in(queryset, column, ids).order_by().values_list(column).annotate(n=Count("pk"))
    return dict(queryset)


def render(plan: Plan, queryset: models.QuerySet, base_url: str, user: Any = None) -> list[dict[str, Any]]:
    """The page's rows; ``user`` limits what computed counts count (None: everything, for internal callers)."""
    rows = list(queryset.values_list(*plan.columns))
    ctx = ReadContext(base_url=base_url)
    if rows:
        for spec in plan.counts:
            ctx.counts[spec.name] = _load_counts(spec, [r[0] for r in rows], user)
    if plan.needs_tags and rows:
        ctx.tags = _load_tags(plan.model, [r[0] for r in rows], base_url)
    for lookup in plan.related:
        ctx.related[lookup.model] = _load_related(lookup, rows, base_url)
    getters = plan.getters
    return [{name: get(row, ctx) for name, get in getters} for row in rows]
