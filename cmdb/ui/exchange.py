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
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import models
from django.db.models import QuerySet

from cmdb.core.storable import nested_deeper_than
from cmdb.users.permissions import referable_ids, reference_queryset

from . import importvalues
from .importvalues import shown
from .registry import ModelView, _model_field, natural_key

#: Primary keys are 64-bit.
MAX_PK = 2**63 - 1

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
    data: dict[Any, Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def display(self) -> dict[str, str]:
        """The row as short, encodable text for the preview table."""
        return {shown(k): shown(v) for k, v in self.data.items()}


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
        return _parse_csv(text)
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"Invalid JSON at line {exc.lineno}: {exc.msg}.") from exc
        except ValueError as exc:  # a number of more than 4,300 digits (Python's limit for int())
            raise ParseError("Invalid JSON: a number is too long.") from exc
        except RecursionError as exc:
            raise ParseError("Invalid JSON: nested too deeply.") from exc
        items = data if isinstance(data, list) else [data]
        lines = list(range(1, len(items) + 1))
    elif fmt == "yaml":
        items, lines = _parse_yaml(text)
    else:
        raise ParseError(f"Unknown format {shown(fmt)!r}; use csv, json or yaml.")
    out = []
    for line, item in zip(lines, items, strict=True):
        if not isinstance(item, dict):
            raise ParseError(f"Line {line}: each item must be an object of field values.")
        if nested_deeper_than(item, MAX_DEPTH):
            raise ParseError(f"Line {line}: nested deeper than {MAX_DEPTH} levels.")
        out.append(Record(line, item))
    return out


#: No column of an import holds more than a list of tags or a small JSON value.
MAX_DEPTH = 32


def _parse_csv(text: str) -> list[Record]:
    reader = csv.DictReader(io.StringIO(text.strip("\ufeff")))
    out = []
    start = 2
    try:
        header = [name.strip() if name else name for name in reader.fieldnames or []]
        seen = set()
        for name in header:
            if name and name in seen:
                raise ParseError(f"Line 1: the column {shown(name)!r} appears more than once.")
            seen.add(name)
        for row in reader:
            if None in row:
                raise ParseError(f"Line {start}: more values than columns.")
            out.append(Record(start, {k.strip(): v for k, v in row.items() if k}))
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit(), an unterminated quote at the end
        raise ParseError(f"Line {reader.line_num}: {exc}.") from exc
    return out


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, and with decimal integers only.

    An alias (``*ref``) shares a node, so a few kilobytes of nested aliases stand for billions of
    values ("billion laughs"), which any walk over the rows would visit.  YAML 1.1 reads ``0042``
    as octal 34, ``1:20`` as 80 and ``0x1f`` as 31: a serial number or asset tag written that way
    would be stored changed without a word, so such plain scalars stay text here.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("Aliases (*name) are not supported in imports; write the values out.")
        return super().compose_node(parent, index)


_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                              list("-+0123456789"))


def _parse_yaml(text: str) -> tuple[list[Any], list[int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ParseError(f"Invalid YAML: {shown(str(exc), 300)}") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise ParseError("Invalid YAML: a number is too long.") from exc
    except RecursionError as exc:
        raise ParseError("Invalid YAML: nested too deeply.") from exc
    finally:
        loader.dispose()
    items = data if isinstance(data, list) else [data]
    lines = ([n.start_mark.line + 1 for n in node.value] if isinstance(node, yaml.SequenceNode)
             else [1] * len(items))
    return items, lines


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def resolve(view: ModelView, records: list[Record], user: Any) -> None:
    """Turn raw values into model attributes; unknown columns and unknown related objects are row errors."""
    model = view.model
    allowed = set(view.import_fields)
    for rec in records:
        for key in rec.data:
            if key not in allowed and key != "id":
                rec.errors.setdefault(shown(key), []).append(
                    f"Unknown column; expected one of {', '.join(sorted(allowed))}.")
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
            try:
                rec.values[name] = importvalues.convert(f, value)
            except importvalues.Refused as exc:
                rec.errors.setdefault(name, []).append(str(exc))


def _keys(value: Any, label: str, many: bool) -> list[str]:
    """The keys (names, slugs or IDs as text) of a related-object cell: one, or a list or comma-separated text."""
    if not many:
        return [importvalues.reference(value, label)]
    if isinstance(value, list):
        keys = [importvalues.reference(v, label) for v in value if not _empty(v)]
    else:
        keys = importvalues.reference(value, label).split(",")
    return [k.strip() for k in keys if k.strip()]


def _pk(key: str) -> int | None:
    """A key that can be a primary key: ASCII digits within 64 bits (``"²".isdigit()`` is true too)."""
    if key.isascii() and key.isdigit() and len(key) <= 19:
        value = int(key)
        return value if value <= MAX_PK else None
    return None


def _resolve_related(view: ModelView, f: Any, records: list[Record], user: Any) -> None:
    related = f.related_model
    natural = natural_key(related)
    label = related._meta.verbose_name
    qs = reference_queryset(related._default_manager.all(), user, view.model, "add", field=f.name)
    keys: dict[int, list[str]] = {}
    for i, rec in enumerate(records):
        if f.name not in rec.data:
            continue
        raw = rec.data[f.name]
        if _empty(raw):
            if f.many_to_many:
                rec.values[f.name] = []
            elif f.null:
                rec.values[f.name] = None
            continue
        try:
            keys[i] = _keys(raw, label, f.many_to_many)
        except importvalues.Refused as exc:
            rec.errors.setdefault(f.name, []).append(str(exc))
    wanted = {k for ks in keys.values() for k in ks}
    if not wanted:
        return
    ids = {pk for pk in map(_pk, wanted) if pk is not None}
    by_key: dict[str, list[Any]] = defaultdict(list)
    by_id: dict[int, Any] = {}
    lookup = models.Q(**{f"{natural}__in": wanted}) if natural != "pk" else models.Q(pk__in=[])
    for obj in qs.filter(lookup | models.Q(pk__in=ids)):
        by_id[obj.pk] = obj
        by_key[str(getattr(obj, natural, obj.pk))].append(obj)
    for i, row_keys in keys.items():
        rec = records[i]
        found = []
        for key in row_keys:
            pk = _pk(key)
            matches = by_key.get(key) or ([by_id[pk]] if pk in by_id else [])
            if len(matches) > 1:
                site = rec.values.get("site")
                matches = [m for m in matches if site is not None and getattr(m, "site_id", None) == site.pk]
            if len(matches) == 1:
                found.append(matches[0])
            elif not matches:
                rec.errors.setdefault(f.name, []).append(f"No {label} {shown(key)!r} (or you may not use it).")
            else:
                rec.errors.setdefault(f.name, []).append(
                    f"Several {label} objects are named {shown(key)!r}; use the ID.")
        if not rec.errors.get(f.name):
            rec.values[f.name] = found if f.many_to_many else found[0]
