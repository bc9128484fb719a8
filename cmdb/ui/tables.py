"""List pages: filtering through the API's filter sets, sorting, column choice and cell rendering.

Everything here works on a whole page at once: the selected columns decide the
``select_related``/``prefetch_related`` of the page query, so a page costs the
same few queries whatever its size.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework.exceptions import ValidationError as DRFValidationError

from cmdb.api.filters import _subset, reject_unknown, with_custom_fields
from cmdb.ui.format import badge_class, format_when
from cmdb.users.permissions import referable_ids, restrict

from .registry import Column, ModelView, _model_field, is_large, object_url

PAGE_SIZES = (25, 50, 100, 250, 500, 1000)
DEFAULT_PAGE_SIZE = 50
#: Query parameters of the list page itself, never passed to the filter set.
LIST_PARAMS = {"page", "per_page", "sort", "columns", "format", "export"}


def _errors(exc: DRFValidationError) -> dict[str, list[str]]:
    detail = exc.detail if isinstance(exc.detail, dict) else {"filter": exc.detail}
    return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}


def apply_filters(view: ModelView, params: QueryDict, queryset: QuerySet,
                  request: Any = None) -> tuple[QuerySet, dict[str, list[str]]]:
    """Filter ``queryset`` with the model's API filter set; invalid values give errors, never a 500.

    As strict as the API: an unknown parameter or a sort by an unknown column is an error shown
    above an empty list, never the full list.  With ``request``, related values resolve only to
    objects the user's rows may name (as in the API).
    """
    filterset = with_custom_fields(view.filterset) if view.filterset is not None else None
    filters = filterset.base_filters if filterset is not None else {"q": None}
    try:
        reject_unknown(params, filters, LIST_PARAMS, common=())
    except DRFValidationError as exc:
        return queryset.none(), _errors(exc)
    sort = params.get("sort", "")
    if sort and ordering(view, sort) is None:
        sortable = sorted(name for name, col in view.columns.items() if col.order_by)
        return queryset.none(), {"sort": [f"Cannot sort by {sort!r}; sort by one of: {', '.join(sortable)}."]}
    if filterset is None:
        return queryset, {}
    names = frozenset(n for n in params if n in filterset.base_filters and params.get(n, "") != "")
    if not names:
        return queryset, {}
    data = params.copy()
    for key in list(data):
        data.setlist(key, [v for v in data.getlist(key) if v != ""])
    filterset = _subset(filterset, names)(data=data, queryset=queryset, request=request)
    if not filterset.is_valid():
        return queryset.none(), {k: [str(e) for e in v] for k, v in filterset.errors.items()}
    try:
        qs = filterset.qs
        # Unknown related values are found while filtering; make the query now to report them.
        with contextlib.suppress(EmptyResultSet):  # a filter that matches nothing compiles to no SQL
            str(qs.query)
    except DRFValidationError as exc:
        return queryset.none(), _errors(exc)
    return qs, {}


def chosen_columns(view: ModelView, request: Any) -> list[Column]:
    """Columns from ``?columns=a,b`` (remembered in the session per model) or the defaults."""
    store = request.session.get("ui_columns", {})
    raw = request.GET.getlist("columns")
    if raw:
        names = [n for part in raw for n in part.split(",") if n in view.columns]
        if names and store.get(view.label) != names:
            store[view.label] = names
            request.session["ui_columns"] = store
    names = store.get(view.label) or view.default_columns
    return [view.columns[n] for n in names if n in view.columns] or [view.columns[n] for n in view.default_columns]


def ordering(view: ModelView, sort: str) -> tuple[str, ...] | None:
    name = sort.lstrip("-")
    col = view.columns.get(name)
    if col is None or not col.order_by:
        return None
    prefix = "-" if sort.startswith("-") else ""
    return (f"{prefix}{col.order_by}", f"{prefix}pk")


def with_columns(queryset: QuerySet, columns: list[Column]) -> QuerySet:
    """Load every relation the columns show with a fixed number of queries, whatever the page size.

    Foreign keys to small reference tables (site, tenant, role, rack, ...) are prefetched: one
    ``pk IN (...)`` query each, and the hundred rows share a handful of related instances.
    Joining them all instead makes PostgreSQL plan a ten-way join (~10 ms) and Django build
    one related object per row and relation.  Large or nested relations are joined.
    """
    select: set[str] = set()
    prefetch: set[str] = set()
    for c in columns:
        prefetch.update(c.prefetch)
        for path in c.select:
            if not path:
                continue
            f = _model_field(queryset.model, path) if "__" not in path else None
            if f is not None and not is_large(f.related_model):
                prefetch.add(path)
            else:
                select.add(path)
    if select:
        queryset = queryset.select_related(*sorted(select))
    if prefetch:
        queryset = queryset.prefetch_related(*sorted(prefetch))
    return queryset


@dataclass
class Cell:
    text: str = ""
    url: str | None = None
    css: str = ""
    tags: list[Any] | None = None

    def __str__(self) -> str:
        """The cell's HTML, built in Python: a template include per cell costs ~10x more on 1,000 cells."""
        if self.tags is not None:
            if not self.tags:
                return mark_safe('<span class="muted">—</span>')
            return format_html_join("", '<span class="tag">{}</span>', ((t.name,) for t in self.tags))
        if self.url:
            if self.css:
                return format_html('<a href="{}" class="{}">{}</a>', self.url, self.css, self.text)
            return format_html('<a href="{}">{}</a>', self.url, self.text)
        if self.css:
            return format_html('<span class="{}">{}</span>', self.css, self.text)
        return conditional_escape(self.text)

    def __html__(self) -> str:  # already escaped piecewise above
        return str(self)


def _resolve(obj: Any, accessor: str) -> Any:
    for part in accessor.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def unseen(objs: list[Model], columns: list[Column], user: Any, model: type[Model]) -> dict[str, set[Any]]:
    """Per foreign-key column, the referenced objects a row of ``model`` may not name for ``user``.

    A visible row may point at another tenant's object (an administrator related two faculties'
    CIs); the API shows such a reference as ``null`` and the pages as "hidden" (one query per column).
    """
    out: dict[str, set[Any]] = {}
    if user is None:
        return out
    for col in columns:
        if col.kind != "fk":
            continue
        values = [v for o in objs if isinstance(v := _resolve(o, col.accessor), Model)]
        if not values:
            continue
        ids = {v.pk for v in values}
        hidden = ids - referable_ids(type(values[0]), ids, user, model, "view")
        if hidden:
            out[col.name] = hidden
    return out


def cell(obj: Model, col: Column, *, link_self: bool = False, hidden: set[Any] | None = None) -> Cell:
    if col.kind == "tags":
        return Cell(tags=list(obj.tags.all()))
    value = _resolve(obj, col.accessor)
    if col.kind == "fk":
        if value is None:
            return Cell("—", css="muted")
        if hidden and value.pk in hidden:
            return Cell("hidden", css="muted")
        return Cell(str(value), object_url(type(value), value.pk))
    if col.kind == "choice":
        owner = _resolve(obj, col.accessor.rpartition(".")[0]) if "." in col.accessor else obj
        field_name = col.accessor.rpartition(".")[2]
        if value in (None, ""):
            return Cell("—", css="muted")
        display = getattr(owner, f"get_{field_name}_display", lambda: value)()
        return Cell(str(display), css=badge_class(value))
    if col.kind == "bool":
        return Cell("✓" if value else "✗", css="ok" if value else "muted")
    if value in (None, ""):
        return Cell("—", css="muted", url=object_url(type(obj), obj.pk) if link_self else None)
    text = format_when(value)
    return Cell(text, object_url(type(obj), obj.pk) if link_self else None)


def rows(objs: list[Model], columns: list[Column], user: Any = None) -> list[dict[str, Any]]:
    """Table rows; the first column links to the object itself.  ``html`` is the row's cells, pre-rendered.

    With ``user``, references the user may not see are shown as "hidden" (see :func:`unseen`).
    """
    out = []
    hidden = unseen(objs, columns, user, type(objs[0])) if objs and user is not None else {}
    for obj in objs:
        cells = [cell(obj, c, link_self=(i == 0 and c.kind not in ("fk", "tags")), hidden=hidden.get(c.name))
                 for i, c in enumerate(columns)]
        html = mark_safe("".join(f"<td>{c}</td>" for c in cells))  # noqa: S308 - each cell is escaped by format_html
        out.append({"pk": obj.pk, "cells": cells, "html": html, "url": object_url(type(obj), obj.pk)})
    return out


def filter_widgets(view: ModelView, user: Any, params: QueryDict) -> list[dict[str, Any]]:
    """The filter bar: a select per choice/boolean/foreign-key filter (options the user may see)."""
    out: list[dict[str, Any]] = []
    for name in view.list_filters:
        f = _model_field(view.model, name)
        if f is None:
            continue
        label = str(f.verbose_name)
        if f.is_relation:
            related = f.related_model
            if is_large(related):
                continue
            param = f"{name}_id"
            qs = restrict(related._default_manager.all(), user, "view")
            shown = getattr(related, "display_field", "name")
            shown_field = _model_field(related, shown)
            if shown_field is not None and not shown_field.is_relation:
                options = [(str(pk), str(text)) for pk, text in qs.values_list("pk", shown)]
            else:
                options = [(str(o.pk), str(o)) for o in qs]
        elif f.choices:
            param, options = name, [(str(k), str(v)) for k, v in f.choices]
        else:
            param, options = name, [("true", "yes"), ("false", "no")]
        selected = set(params.getlist(param))
        html = format_html_join("", '<option value="{}"{}>{}</option>',
                                ((v, " selected" if v in selected else "", text) for v, text in options))
        out.append({"param": param, "label": label[:1].upper() + label[1:], "options_html": html})
    return out
