"""Compare GraphQL answers with REST answers for the same objects and the same reader.

The GraphQL type of a model shows the fields its REST serializer shows, under the same names; a
value is compared according to how each API spells it (GraphQL ids are strings, REST's are
numbers; REST shows a choice as ``{value, label}``, GraphQL as NetBox's raw value; a nested object
is compared by id, ``null`` where REST shows ``null``).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from cmdb.api.registry import endpoint_path
from cmdb.graphql.registry import Exposed, FieldSpec, exposed


def served() -> list[Exposed]:
    return [item for item in exposed().values() if endpoint_path(item.model)]


def selection(item: Exposed) -> str:
    """Every field of the type that REST also shows, nested objects by id."""
    parts = []
    for spec in item.fields.values():
        if spec.kind == "reverse":
            continue
        if spec.kind in {"fk", "tags", "m2m"}:
            parts.append(f"{spec.name} {{ id }}")
        elif spec.kind in {"content_type", "assigned_object_type"}:
            parts.append(f"{spec.name} {{ app_label model }}")
        elif spec.kind == "family":
            parts.append(f"{spec.name} {{ value label }}")
        elif spec.kind == "assigned_object":
            parts.append(f"{spec.name} {{ __typename ... on InterfaceType {{ id }} ... on VMInterfaceType {{ id }} }}")
        else:
            parts.append(spec.name)
    return " ".join(parts)


def _instant(value: str) -> dt.datetime | dt.date:
    text = value.replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text) if "T" in text or " " in text else dt.date.fromisoformat(text)


def same_value(spec: FieldSpec, rest: Any, gql: Any) -> bool:
    kind = spec.kind
    if kind == "id":
        return gql == str(rest)
    if kind in {"fk", "assigned_object"}:
        return (rest is None and gql is None) or (
            rest is not None and gql is not None and str(rest["id"]) == gql["id"])
    if kind in {"tags", "m2m"}:
        rest_ids = sorted(str(v["id"] if isinstance(v, dict) else v) for v in rest)
        return rest_ids == sorted(v["id"] for v in gql)
    if kind in {"content_type", "assigned_object_type"}:
        return (rest is None and gql is None) or (gql is not None and rest == f"{gql['app_label']}.{gql['model']}")
    if kind == "choice":
        return (rest["value"] if isinstance(rest, dict) else rest) == gql
    if rest is None or gql is None:
        return rest is None and gql is None
    if spec.scalar == "Decimal":
        return decimal.Decimal(str(rest)) == decimal.Decimal(gql)
    if spec.scalar in {"DateTime", "Date"}:
        return _instant(rest) == _instant(gql)
    return rest == gql


def _unchecked_by_rest(item: Exposed) -> set[str]:
    """Nested objects REST renders with a method of its own (an object change's ``user``), which its
    hiding of unseen objects does not check: GraphQL nests them by its rule (``null`` unless the reader
    may refer to them), so there it may be ``null`` where REST shows one."""
    from cmdb.api.fields import RelatedObjectField

    fields = item.viewset.serializer_class(context={"request": None}).fields
    return {name for name, spec in item.fields.items()
            if spec.kind == "fk" and name in fields and not isinstance(fields[name], RelatedObjectField)}


def differences(item: Exposed, rest_rows: list[dict[str, Any]], gql_rows: list[dict[str, Any]]) -> list[str]:
    """What differs between the two answers (ids first, then field by field); empty when they agree."""
    rest_by_id = {str(r["id"]): r for r in rest_rows}
    gql_by_id = {g["id"]: g for g in gql_rows}
    if set(rest_by_id) != set(gql_by_id):
        return [f"{item.base}: REST ids {sorted(rest_by_id)} != GraphQL ids {sorted(gql_by_id)}"]
    out = []
    unchecked = _unchecked_by_rest(item)
    for pk, rest in rest_by_id.items():
        gql = gql_by_id[pk]
        for spec in item.fields.values():
            if spec.kind == "reverse" or spec.name not in rest:
                continue
            if spec.name in unchecked and gql[spec.name] is None:
                continue
            if not same_value(spec, rest[spec.name], gql[spec.name]):
                out.append(f"{item.base} {pk}.{spec.name}: REST {rest[spec.name]!r} != GraphQL {gql[spec.name]!r}")
    return out
