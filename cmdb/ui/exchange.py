"""Import and export: CSV, JSON and YAML, through the same services as the API's bulk create.

Export writes exactly the filtered set with the import columns (related objects by
their natural key: slug, name, ...; tags as slugs), so an export can be edited and
imported again.  Import parses, resolves related objects in one query per column
(within the writer's scope, like the API), validates the whole batch, and reports
every bad row with its line and field; applying is all-or-nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import models
from django.db.models import QuerySet

from cmdb.users.permissions import referable_ids, reference_queryset

from .registry import ModelView, _model_field, natural_key

FORMATS = ("csv", "json", "yaml")


# --- export -----------------------------------------------------------------------------------------------------

def export_columns(view: ModelView) -> list[tuple[str, str]]:
    """(column name, ORM path) pairs: ``site`` -> ``site__slug``."""
    out = [("id", "pk")]
    for name in view.import_fields:
        f = _model_field(view.model, name)
        if f is None or f.many_to_many:
            continue
        if f.is_relation:
            out.append((name, f"{name}__{natural_key(f.related_model)}"))
        else:
            out.append((name, name))
    return out


def export_rows(view: ModelView, queryset: QuerySet, user: Any = None) -> tuple[list[str], list[dict[str, Any]]]:
    """All rows of the filtered queryset: one query for the values, one for tags.

    With ``user``, a related object the user may not see is exported empty (as the API shows ``null``).
    """
    cols = export_columns(view)
    refs = [(n, view.model._meta.get_field(n)) for n, p in cols if n != "id" and p != n]
    id_cols = [f.attname for _n, f in refs]
    rows, ref_ids = [], []
    for values in queryset.values_list(*[p for _n, p in cols], *id_cols):
        rows.append({n: _plain(v) for (n, _p), v in zip(cols, values[: len(cols)], strict=True)})
        ref_ids.append(values[len(cols):])
    if user is not None:
        for j, (name, f) in enumerate(refs):
            ids = {r[j] for r in ref_ids if r[j] is not None}
            hidden = ids - referable_ids(f.related_model, ids, user, view.model, "view")
            for row, r in zip(rows, ref_ids, strict=True):
                if r[j] in hidden:
                    row[name] = None
    header = [n for n, _p in cols]
    if "tags" in view.import_fields and _model_field(view.model, "tags") is not None:
        through = view.model._meta.get_field("tags").remote_field.through
        source = next(f.name for f in through._meta.fields if f.related_model is view.model)
        tags: dict[int, list[str]] = defaultdict(list)
        for pk, slug in through.objects.filter(**{f"{source}__in": queryset.values("pk")}).values_list(
            f"{source}_id", "tag__slug"
        ).order_by("tag__slug"):
            tags[pk].append(slug)
        for row in rows:
            row["tags"] = tags.get(row["id"], [])
        header.append("tags")
    return header, rows


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def render_export(fmt: str, header: list[str], rows: list[dict[str, Any]]) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        return yaml.safe_dump(rows, sort_keys=False, allow_unicode=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (",".join(v) if isinstance(v, list) else ("" if v is None else v))
                         for k, v in row.items()})
    return buf.getvalue()


# --- import -----------------------------------------------------------------------------------------------------

class ParseError(ValueError):
    pass


@dataclass
class Record:
    line: int
    data: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def detect_format(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "json"
    first = stripped.splitlines()[0] if stripped else ""
    if stripped.startswith(("-", "---")) or (":" in first and "," not in first):
        return "yaml"
    return "csv"


def parse(text: str, fmt: str = "auto") -> list[Record]:
    """Rows with the line they start on (CSV and YAML) or their position (JSON)."""
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text.strip("\ufeff")))
        out = []
        start = 2
        for row in reader:
            if None in row:
                raise ParseError(f"Line {start}: more values than columns.")
            out.append(Record(start, {k.strip(): v for k, v in row.items() if k}))
            start = reader.line_num + 1
        return out
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"Invalid JSON at line {exc.lineno}: {exc.msg}.") from exc
        items = data if isinstance(data, list) else [data]
        lines = list(range(1, len(items) + 1))
    elif fmt == "yaml":
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ParseError(f"Invalid YAML: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        lines = ([n.start_mark.line + 1 for n in node.value] if isinstance(node, yaml.SequenceNode)
                 else [1] * len(items))
    else:
        raise ParseError(f"Unknown format {fmt!r}; use csv, json or yaml.")
    out = []
    for line, item in zip(lines, items, strict=True):
        if not isinstance(item, dict):
            raise ParseError(f"Line {line}: each item must be an object of field values.")
        out.append(Record(line, item))
    return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def resolve(view: ModelView, records: list[Record], user: Any) -> None:
    """Turn raw values into model attributes; unknown columns and unknown related objects are row errors."""
    model = view.model
    allowed = set(view.import_fields)
    for rec in records:
        for key in rec.data:
            if key not in allowed and key != "id":
                rec.errors.setdefault(key, []).append(f"Unknown column; expected one of {', '.join(sorted(allowed))}.")
    for name in view.import_fields:
        f = _model_field(model, name)
        if f is None:
            continue
        if f.is_relation:
            _resolve_related(view, f, records, user)
            continue
        for rec in records:
            if name not in rec.data:
                continue
            value = rec.data[name]
            if _empty(value):
                if f.null:
                    rec.values[name] = None
                elif isinstance(f, (models.CharField, models.TextField)):
                    rec.values[name] = ""
                continue  # other empty values keep the model default
            rec.values[name] = value.strip() if isinstance(value, str) else value


def _keys(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if not _empty(v)]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _resolve_related(view: ModelView, f: Any, records: list[Record], user: Any) -> None:
    related = f.related_model
    natural = natural_key(related)
    qs = reference_queryset(related._default_manager.all(), user, view.model, "add", field=f.name)
    wanted: set[str] = set()
    for rec in records:
        if f.name in rec.data and not _empty(rec.data[f.name]):
            wanted.update(_keys(rec.data[f.name]) if f.many_to_many else [str(rec.data[f.name]).strip()])
    if not wanted:
        return
    ids = {int(w) for w in wanted if w.isdigit()}
    by_key: dict[str, list[Any]] = defaultdict(list)
    by_id: dict[int, Any] = {}
    lookup = models.Q(**{f"{natural}__in": wanted}) if natural != "pk" else models.Q(pk__in=[])
    for obj in qs.filter(lookup | models.Q(pk__in=ids)):
        by_id[obj.pk] = obj
        by_key[str(getattr(obj, natural, obj.pk))].append(obj)
    label = related._meta.verbose_name
    for rec in records:
        raw = rec.data.get(f.name)
        if f.name not in rec.data:
            continue
        if _empty(raw):
            if f.many_to_many:
                rec.values[f.name] = []
            elif f.null:
                rec.values[f.name] = None
            continue
        keys = _keys(raw) if f.many_to_many else [str(raw).strip()]
        found = []
        for key in keys:
            matches = by_key.get(key) or ([by_id[int(key)]] if key.isdigit() and int(key) in by_id else [])
            if len(matches) > 1:
                site = rec.values.get("site")
                matches = [m for m in matches if site is not None and getattr(m, "site_id", None) == site.pk]
            if len(matches) == 1:
                found.append(matches[0])
            elif not matches:
                rec.errors.setdefault(f.name, []).append(f"No {label} {key!r} (or you may not use it).")
            else:
                rec.errors.setdefault(f.name, []).append(f"Several {label} objects are named {key!r}; use the ID.")
        if not rec.errors.get(f.name):
            rec.values[f.name] = found if f.many_to_many else found[0]
