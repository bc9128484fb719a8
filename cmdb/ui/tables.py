"""List pages: filtering through the API's filter sets, sorting, column choice and cell rendering.

Everything here works on a whole page at once: the selected columns decide the
``select_related``/``prefetch_related`` of the page query, so a page costs the
same few queries whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework.exceptions import ValidationError as DRFValidationError

from cmdb.api.filters import _subset
from cmdb.users.permissions import restrict

from .registry import LARGE_MODELS, Column, ModelView, _model_field, object_url

PAGE_SIZES = (25, 50, 100, 250, 500, 1000)
DEFAULT_PAGE_SIZE = 50
#: Query parameters of the list page itself, never passed to the filter set.
LIST_PARAMS = {"page", "per_page", "sort", "columns", "format", "export"}


def apply_filters(view: ModelView, params: QueryDict, queryset: QuerySet) -> tuple[QuerySet, dict[str, list[str]]]:
    """Filter ``queryset`` with the model's API filter set; invalid values give errors, never a 500."""
    if view.filterset is None:
        return queryset, {}
    names = frozenset(n for n in params if n in view.filterset.base_filters and params.get(n, "") != "")
    if not names:
        return queryset, {}
    data = params.copy()
    for key in list(data):
        data.setlist(key, [v for v in data.getlist(key) if v != ""])
    filterset = _subset(view.filterset, names)(data=data, queryset=queryset)
    if not filterset.is_valid():
        return queryset.none(), {k: [str(e) for e in v] for k, v in filterset.errors.items()}
    try:
        qs = filterset.qs
        # Unknown related values are found while filtering; make the query now to report them.
        str(qs.query)
    except DRFValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"filter": exc.detail}
        return queryset.none(), {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
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
    """Load every relation the columns show in the same query (or one prefetch per m2m)."""
    select = sorted({s for c in columns for s in c.select if s})
    prefetch = sorted({p for c in columns for p in c.prefetch})
    if select:
        queryset = queryset.select_related(*select)
    if prefetch:
        queryset = queryset.prefetch_related(*prefetch)
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


def cell(obj: Model, col: Column, *, link_self: bool = False) -> Cell:
    if col.kind == "tags":
        return Cell(tags=list(obj.tags.all()))
    value = _resolve(obj, col.accessor)
    if col.kind == "fk":
        if value is None:
            return Cell("—", css="muted")
        return Cell(str(value), object_url(type(value), value.pk))
    if col.kind == "choice":
        owner = _resolve(obj, col.accessor.rpartition(".")[0]) if "." in col.accessor else obj
        field_name = col.accessor.rpartition(".")[2]
        if value in (None, ""):
            return Cell("—", css="muted")
        display = getattr(owner, f"get_{field_name}_display", lambda: value)()
        return Cell(str(display), css=f"badge {value}")
    if col.kind == "bool":
        return Cell("✓" if value else "✗", css="ok" if value else "muted")
    if value in (None, ""):
        return Cell("—", css="muted", url=object_url(type(obj), obj.pk) if link_self else None)
    text = value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") and hasattr(value, "hour") else str(value)
    return Cell(text, object_url(type(obj), obj.pk) if link_self else None)


def rows(objs: list[Model], columns: list[Column]) -> list[dict[str, Any]]:
    """Table rows; the first column links to the object itself.  ``html`` is the row's cells, pre-rendered."""
    out = []
    for obj in objs:
        cells = [cell(obj, c, link_self=(i == 0 and c.kind not in ("fk", "tags"))) for i, c in enumerate(columns)]
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
            if related._meta.label_lower in LARGE_MODELS:
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
