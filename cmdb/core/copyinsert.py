"""Insert many model instances through PostgreSQL's COPY, as ``bulk_create`` would.

Why: Django's ``bulk_create`` on PostgreSQL sends every column as an array
(``INSERT ... SELECT * FROM UNNEST(...)``), and psycopg builds those array
literals in Python, quoting value by value; with the SQL compiler's per-value
preparation that is about a fifth of a 500-device bulk API create.  COPY
streams the rows instead.  The ids are drawn from the table's sequence first,
in order, so callers get primary keys back exactly as from ``bulk_create``
(which COPY itself cannot return), and the insertion order is the id order
(the change log's chain relies on that).

Values are prepared by the model fields (``pre_save`` then
``get_db_prep_save``), as ``bulk_create`` does, except where that is known to
be the identity (a ``str`` for a plain text column, an ``int`` for an integer
or a foreign key to an integer key, an aware datetime): there the value goes
to COPY as it is.  JSON is encoded with orjson (COPY's text format parses it
on the server).  Any other value, or any other field class, takes Django's
path; a value that repeats across the batch is then prepared once.

Up to ``SMALL_ROWS`` rows (the change record or two of a single write) go in one
``INSERT ... VALUES`` with the same prepared values instead: drawing ids plus a
COPY would be three round trips.  Other databases and models without an integer
sequence use ``bulk_create`` unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import orjson
from django.db import connection, models

M = TypeVar("M", bound=models.Model)

_TEXT = frozenset({models.CharField, models.TextField, models.SlugField})
_INT = frozenset({models.IntegerField, models.PositiveIntegerField, models.PositiveSmallIntegerField,
                  models.SmallIntegerField, models.BigIntegerField, models.PositiveBigIntegerField})
_INT_KEYS = _INT | {models.AutoField, models.BigAutoField, models.SmallAutoField}

#: Batches of at least this many rows take this module's path on PostgreSQL (every non-empty one).
MIN_ROWS = 1
#: Up to this many rows: one INSERT ... VALUES instead of drawing ids and a COPY.
SMALL_ROWS = 8


def _copy_possible(model: type[models.Model], count: int) -> bool:
    pk = model._meta.pk
    return (connection.vendor == "postgresql" and count >= MIN_ROWS
            and isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField))


def insert(model: type[M], objs: Sequence[M], *, batch_size: int = 1000, related_prepared: bool = False,
           ids: Sequence[int] | None = None) -> list[M]:
    """Insert unsaved ``objs`` and set their primary keys; return them in the given order.

    ``related_prepared``: the caller already ran ``_prepare_related_fields_for_save`` on them.
    ``ids``: primary keys the caller drew from the sequence already (ascending), one per object.
    """
    objs = list(objs)
    if ids is not None and len(ids) != len(objs):
        raise ValueError(f"{len(ids)} ids for {len(objs)} objects")
    if not objs:
        return objs
    if not _copy_possible(model, len(objs)):
        if ids is not None:
            for pk, obj in zip(ids, objs, strict=True):
                obj.pk = pk
        return model._default_manager.bulk_create(objs, batch_size=batch_size)
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = [meta.pk.column, *(f.column for f in fields)]
    for obj in () if related_prepared else objs:
        # Copy ids from related objects assigned while unsaved, and refuse unsaved ones, as save() would.
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    small = len(objs) <= SMALL_ROWS
    if ids is None and not small:
        ids = draw_ids(model, len(objs))
    prepared: dict[tuple[int, type, Any], Any] = {}
    kinds = [_kind(f) for f in fields]

    def prep(k: int, f: models.Field, value: Any) -> Any:
        if value is None:
            return None
        kind = kinds[k]
        if kind is not None and type(value) in kind[0]:
            out = kind[1](value)
            if out is not _Fallback:
                return out
        key = (k, type(value), value)
        try:
            return prepared[key]
        except KeyError:
            prepared[key] = result = f.get_db_prep_save(value, connection)
            return result
        except TypeError:  # unhashable: a JSON object or array
            return f.get_db_prep_save(value, connection)

    if small:
        rows = [[prep(k, f, f.pre_save(obj, True)) for k, f in enumerate(fields)] for obj in objs]
        ids = _values_insert(meta, [f.column for f in fields], rows, ids)
    else:
        copy_rows(meta.db_table, columns,
                  ([pk, *(prep(k, f, f.pre_save(obj, True)) for k, f in enumerate(fields))]
                   for pk, obj in zip(ids, objs, strict=True)))
    alias = connection.alias
    for pk, obj in zip(ids, objs, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
    return objs


def _values_insert(meta: Any, columns: list[str], rows: list[list[Any]], ids: Sequence[int] | None) -> Sequence[int]:
    """A few rows in one ``INSERT ... VALUES`` round trip (ids given, or drawn by ``RETURNING``).

    COPY costs two round trips and drawing ids a third: for the one or two change records of
    a typical API write or discovery report, one statement is cheaper.  The values are the
    ones COPY would get, passed as parameters.
    """
    quote = connection.ops.quote_name
    names = [quote(c) for c in columns]
    params: list[Any] = []
    if ids is not None:
        names.insert(0, quote(meta.pk.column))
        for pk, row in zip(ids, rows, strict=True):
            params += [pk, *row]
    else:
        for row in rows:
            params += row
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(names)}) "  # noqa: S608 - names from the model
           f"VALUES {', '.join([one] * len(rows))}")
    with connection.cursor() as cursor:
        if ids is not None:
            cursor.execute(sql, params)
            return ids
        # Multi-row VALUES draw ids in row order, as bulk_create relies on too.
        cursor.execute(sql + f" RETURNING {quote(meta.pk.column)}", params)
        return [row[0] for row in cursor.fetchall()]


def draw_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence, ascending (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [model._meta.db_table, model._meta.pk.column, count])
        return sorted(row[0] for row in cursor.fetchall())


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows of already prepared values into ``table`` (PostgreSQL only).

    For hot paths that need neither model instances nor ids back (discovery's first
    inventory of a host).  The raw psycopg cursor bypasses Django's error translation:
    it is put back here, so a unique violation is an ``IntegrityError`` to callers.
    """
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor, connection.wrap_database_errors, \
            cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _same(value: Any) -> Any:
    return value


def _aware(value: dt.datetime) -> Any:
    return value if value.tzinfo is not None else _Fallback


def _json(value: Any) -> Any:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return _Fallback


class _Fallback:
    """Marker: orjson could not encode the value; let the field prepare it."""


def _kind(f: models.Field) -> tuple[tuple[type, ...], Any] | None:
    """Which value types a field passes through unchanged, and how; None: always ask the field."""
    cls = type(f)
    if cls in _TEXT:
        return (str,), _same
    if cls in _INT:
        return (int,), _same
    if cls is models.BooleanField:
        return (bool,), _same
    if cls in (models.ForeignKey, models.OneToOneField) and type(f.target_field) in _INT_KEYS:
        return (int,), _same
    if cls is models.DateTimeField:
        return (dt.datetime,), _aware
    if cls is models.JSONField and f.encoder is None:
        return (dict, list, str, int, float, bool), _json
    return None
