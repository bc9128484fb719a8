"""The scalars NetBox's schema uses beyond GraphQL's own, with the same wire formats.

Output values are produced by the compiler (:mod:`cmdb.graphql.compiler`) already in their wire
form, so ``serialize`` here only has to accept that form (the slow path through graphql-core's
executor passes values through it again).  Input parsing turns a bad literal into a validation
error naming the value, never an exception from deeper down.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from django.utils import timezone
from graphql import GraphQLError, GraphQLScalarType, ValueNode
from graphql.language import (
    BooleanValueNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
)
from graphql.utilities import value_from_ast_untyped

#: The database's 64-bit integers.
BIG = 2**63 - 1


def _identity(value: Any) -> Any:
    return value


def _literal(node: ValueNode, variables: Any = None) -> Any:
    """A literal's Python value (strings, numbers and booleans only)."""
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode | BooleanValueNode):
        return value_from_ast_untyped(node, variables)
    raise GraphQLError(f"Expected a string or number, not {node.kind.replace('_value', '')}.", node)


def _big_int(value: Any) -> int:
    if isinstance(value, bool):
        raise GraphQLError(f"BigInt cannot represent {value!r}.")
    try:
        number = int(value) if isinstance(value, int | str) else None
    except ValueError:
        number = None
    if number is None or not -BIG <= number <= BIG:
        raise GraphQLError(f"BigInt cannot represent {value!r}: a whole number of at most 64 bits.")
    return number


def _decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise GraphQLError(f"Decimal cannot represent {value!r}.")
    try:
        number = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        number = None
    # Beyond any column's precision: a database would refuse it (or take long to compare it).
    if number is None or not number.is_finite() or abs(number.adjusted()) > 40 or len(number.as_tuple().digits) > 40:
        raise GraphQLError(f"Decimal cannot represent {value!r}.")
    return number


def _datetime(value: Any) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    try:
        if parsed is not None:
            parsed = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
            parsed.astimezone(dt.UTC)  # the database stores UTC: year 1 or 9999 may not convert
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None:
        raise GraphQLError(f"DateTime cannot represent {value!r}: use ISO 8601, e.g. 2025-01-31T12:00:00+00:00.")
    return parsed


def _date(value: Any) -> dt.date:
    try:
        parsed = dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise GraphQLError(f"Date cannot represent {value!r}: use ISO 8601, e.g. 2025-01-31.")
    return parsed


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(value) if isinstance(value, str) else uuid.UUID(int=-1)
    except ValueError:
        raise GraphQLError(f"UUID cannot represent {value!r}.") from None


def _json_literal(node: ValueNode, variables: Any = None) -> Any:
    if isinstance(node, ObjectValueNode | ListValueNode):
        return value_from_ast_untyped(node, variables)
    return value_from_ast_untyped(node, variables)


BigInt = GraphQLScalarType(
    "BigInt", description="A 64-bit integer (NetBox's BigInt).", serialize=_identity, parse_value=_big_int,
    parse_literal=lambda node, variables=None: _big_int(_literal(node, variables)),
)
Decimal = GraphQLScalarType(
    "Decimal", description="A decimal number, sent as a string to keep its precision.", serialize=_identity,
    parse_value=_decimal, parse_literal=lambda node, variables=None: _decimal(_literal(node, variables)),
)
DateTime = GraphQLScalarType(
    "DateTime", description="An ISO 8601 date and time.", serialize=_identity, parse_value=_datetime,
    parse_literal=lambda node, variables=None: _datetime(_literal(node, variables)),
)
Date = GraphQLScalarType(
    "Date", description="An ISO 8601 date.", serialize=_identity, parse_value=_date,
    parse_literal=lambda node, variables=None: _date(_literal(node, variables)),
)
UUID = GraphQLScalarType(
    "UUID", description="A UUID.", serialize=_identity, parse_value=_uuid,
    parse_literal=lambda node, variables=None: _uuid(_literal(node, variables)),
)
JSON = GraphQLScalarType(
    "JSON", description="Any JSON value.", serialize=_identity, parse_value=_identity, parse_literal=_json_literal,
    specified_by_url="https://ecma-international.org/publications-and-standards/standards/ecma-404/",
)

CUSTOM = {s.name: s for s in (BigInt, Decimal, DateTime, Date, UUID, JSON)}


def output(scalar: str) -> Any:
    """The function that turns a database value into the scalar's wire form (None: as it is)."""
    if scalar == "ID":
        return str
    if scalar in {"DateTime", "Date"}:
        return lambda v: v.isoformat()
    if scalar in {"Decimal", "UUID"}:
        return str
    return None
