"""Model instances from hand-written SELECTs, converted exactly as the ORM would.

For the few statements that run on every API request or discovery report (token
lookup, a host with its claims): there the ORM spends more time compiling the
query than PostgreSQL spends answering it, and ``Model.objects.raw`` adds its
own per-query column mapping on top.  The column list and each column's
converters (backend's, then the field's, the SQL compiler's order) are worked
out once per model.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


@cache
def _plan(model: type[models.Model], vendor: str) -> tuple[list[models.Field], list[str], list[list[Any]]]:
    fields = list(model._meta.concrete_fields)
    converters = [[*connection.ops.get_db_converters(f.cached_col), *f.cached_col.get_db_converters(connection)]
                  for f in fields]
    return fields, [f.attname for f in fields], converters


def columns(model: type[models.Model], alias: str) -> str:
    """``alias."col", ...`` for every concrete field, in the order :func:`build` expects."""
    return _columns(model, alias, connection.vendor)


@cache
def _columns(model: type[models.Model], alias: str, vendor: str) -> str:
    quote = connection.ops.quote_name
    fields, _names, _conv = _plan(model, vendor)
    return ", ".join(f"{alias}.{quote(f.column)}" for f in fields)


def width(model: type[models.Model]) -> int:
    return len(_plan(model, connection.vendor)[0])


def build(model: type[M], values: Any) -> M:
    """An instance from one row's values for :func:`columns` (converted, ``from_db`` as the ORM does)."""
    fields, names, converters = _plan(model, connection.vendor)
    out = list(values)
    for i, conv in enumerate(converters):
        if conv:
            f = fields[i]
            for converter in conv:
                out[i] = converter(out[i], f.cached_col, connection)
    return model.from_db(connection.alias, names, out)
