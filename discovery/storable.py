"""What a report's shape allows but the database cannot store: refused with a 400 before any write.

The JSON schema describes a report's shape; a few values fit it and still cannot be written,
and each used to end in a server error half-way through an ingest:

* a lone UTF-16 surrogate (the JSON escape ``"\\ud800"`` decodes to one, and it is not text
  that UTF-8 can encode) or a NUL character, in any string or object key: neither PostgreSQL's
  ``text`` nor its ``jsonb`` can hold them.  Checked *before* the schema, whose messages quote
  the offending value back;
* integers beyond 64 bits and numbers that are not finite (``1e309`` parses as infinity) in
  the attributes and interfaces: the columns are 64-bit, and neither ``jsonb`` nor the claim
  digests of source precedence have an infinity;
* JSON nested deeper than :data:`MAX_DEPTH` in the attributes (the claim digest's encoder
  stops at 255 levels);
* identifiers that grow past their column once lower-cased (``"İ".lower()`` is two characters);
* a ``collected_at`` whose time in UTC falls outside the years 1 to 9999.

The error names the JSON path; the value itself is never echoed.  A valid report costs one
``orjson.dumps`` of the whole report (tens of microseconds for 200 packages) plus a walk over
its attributes and interfaces, which the schema bounds.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import orjson

from discovery.schema import ReportInvalid, parse_time

#: Deepest nesting accepted in a report's attributes (``extra`` is free-form JSON).
MAX_DEPTH = 64
#: Most errors reported for one report: enough to fix it, never a copy of a huge input.
MAX_ERRORS = 20
INT64 = (-(2**63), 2**63 - 1)
#: Column widths of the normalised identifier values (``Identifier.value``, ``Host.fqdn``).
IDENTIFIER_LENGTH = 255

NUL = "contains a NUL character, which cannot be stored."
SURROGATE = "contains a lone UTF-16 surrogate, which is not text."
BAD_KEY = "has a key that contains a NUL character or a lone UTF-16 surrogate."


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def _segment(key: str) -> str:
    return f".{key if len(key) <= 40 else key[:40] + '…'}"


def _walk(value: Any, path: str, visit: Any, errors: dict[str, list[str]]) -> None:
    """Every nested value with its JSON path and depth, iteratively (no recursion limit to hit)."""
    stack = [(value, path, 0)]
    while stack and len(errors) < MAX_ERRORS:
        node, where, depth = stack.pop()
        problem = visit(node, depth)
        if problem:
            errors.setdefault(where, []).append(problem)
            continue
        if isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str) or _text_problem(key):
                    errors.setdefault(where, []).append(BAD_KEY)
                    continue
                stack.append((child, where + _segment(key), depth + 1))
        elif isinstance(node, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(node))


def _text_visit(node: Any, _depth: int) -> str | None:
    return _text_problem(node) if isinstance(node, str) else None


def check_text(report: Any) -> None:
    """Refuse a report with a lone surrogate or a NUL anywhere (before the schema quotes either back)."""
    try:
        blob = orjson.dumps(report)
    except (orjson.JSONEncodeError, TypeError):
        blob = None  # a surrogate, or something the walk below finds harmless (an integer beyond 64 bits)
    if blob is not None and b"\\u0000" not in blob:
        return
    errors: dict[str, list[str]] = {}
    _walk(report, "$", _text_visit, errors)
    if errors:
        raise ReportInvalid(dict(sorted(errors.items())))


def _number_visit(node: Any, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} levels deep."
    if isinstance(node, bool):
        return None
    if isinstance(node, int) and not INT64[0] <= node <= INT64[1]:
        return "is an integer beyond 64 bits."
    if isinstance(node, float) and not math.isfinite(node):
        return "is not a finite number."
    return None


def _numbers_fit(value: Any) -> bool:
    """The quick yes of :func:`_number_visit` for a whole tree: no paths built, containers only stacked."""
    low, high = INT64
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif (kind is int and not low <= child <= high) or (kind is float and not math.isfinite(child)):
                return False
    return True


def check_values(report: dict[str, Any]) -> None:
    """Refuse numbers, nesting, identifiers and times the database cannot hold (after the schema)."""
    errors: dict[str, list[str]] = {}
    attributes = report.get("attributes") or {}
    interfaces = report.get("interfaces") or []
    if not _numbers_fit(attributes):
        _walk(attributes, "$.attributes", _number_visit, errors)
    if not _numbers_fit(interfaces):
        _walk(interfaces, "$.interfaces", _number_visit, errors)
    memory = attributes.get("memory_mb")
    if isinstance(memory, float) and abs(memory) > INT64[1]:  # 1e300 is an integer to JSON Schema
        errors.setdefault("$.attributes.memory_mb", []).append("is an integer beyond 64 bits.")
    ids = report["identifiers"]
    serial = ids.get("serial")
    if serial and len(f"{(ids.get('manufacturer') or '').lower()}|{serial.lower()}") > IDENTIFIER_LENGTH:
        errors.setdefault("$.identifiers.serial", []).append(
            f"Manufacturer and serial exceed {IDENTIFIER_LENGTH} characters once lower-cased.")
    for key in ("fqdn", "hostname"):
        if ids.get(key) and len(ids[key].lower()) > IDENTIFIER_LENGTH:
            errors.setdefault(f"$.identifiers.{key}", []).append(
                f"Exceeds {IDENTIFIER_LENGTH} characters once lower-cased.")
    try:
        parse_time(report["collected_at"]).astimezone(dt.UTC)
    except OverflowError:
        errors.setdefault("$.collected_at", []).append("Is outside the years 1 to 9999 in UTC.")
    if errors:
        raise ReportInvalid(dict(sorted(errors.items())))
