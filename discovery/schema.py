"""Validating a report against the versioned schema shipped with the agents (discovery/schema).

A report can be large (20,000 packages) and an attacker's report larger still, so the checks
run cheapest first and none of them repeats the input back:

1. the length of each of the schema's lists of records (``software``, ``interfaces``, ...)
   against its ``maxItems``, by ``len()`` alone;
2. the size of the report as JSON (``MAX_REPORT_BYTES``) and of the part of it kept on the
   host row, everything but ``software`` (``MAX_FACTS_BYTES``), measured by orjson; input that
   orjson cannot write (nested over 255 levels, integers beyond 64 bits, lone surrogates) is
   measured by a walk that gives up at ``MAX_DEPTH`` levels or once over the limit;
3. the whole schema by jsonschema-rs (Rust, ~0.02 ms for a 200-package report): valid reports,
   nearly all of them, stop here;
4. for an invalid one, the schema's errors, at most ``MAX_ERRORS`` paths, in our own words:
   a value over ``maxLength``/``maxItems``/``maxProperties`` by its size and the limit, any
   other value quoted to at most ``QUOTE`` characters.  jsonschema-rs collects every error
   before returning the first (2 s for 40,000 bad packages), so the records of each list are
   checked one by one with a validator of their own, stopping once enough errors are found.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs
import orjson

from discovery import conf
from discovery.agents.report import schema as report_schema

#: Levels of nesting any walk over a report descends at most (a valid report has six).
MAX_DEPTH = 32
#: Error paths a rejection lists at most.
MAX_ERRORS = 50
#: Characters of an input value (or of a key in a path) quoted in an error message at most.
QUOTE = 40
#: The report's key whose content goes to the installations table, not to the host row.
SOFTWARE = "software"


class ReportInvalid(Exception):
    """A report that does not fit the schema; ``errors`` maps a JSON path to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid discovery report")
        self.errors = errors


@cache
def fast_validator() -> Any:
    """The schema compiled by jsonschema-rs (Rust): a yes/no in ~0.02 ms for a 200-package report."""
    return jsonschema_rs.validator_for(report_schema())


def json_path(path: Any) -> str:
    """``$.software[3].version`` style: what an operator can find in the report (keys cut to ``QUOTE``)."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            out += f".{text[:QUOTE]}…" if len(text) > QUOTE else f".{text}"
    return out


def validate(report: Any) -> dict[str, Any]:
    """Return the report if valid, else raise :class:`ReportInvalid` naming each failing path (see above)."""
    errors = list_length_errors(report) or size_errors(report)
    if errors:
        raise ReportInvalid(errors)
    if fast_validator().is_valid(report):
        try:
            parse_time(report["collected_at"])
        except ValueError as exc:
            raise ReportInvalid({"$.collected_at": [str(exc)]}) from exc
        return report
    errors = schema_errors(report)
    if not errors:
        try:
            parse_time(report["collected_at"])
        except ValueError as exc:
            errors["$.collected_at"] = [str(exc)]
    raise ReportInvalid(dict(sorted(errors.items())))


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- 1. the lists of records ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordList:
    """A list the schema reaches from the root through properties alone: its path, limit and item validator."""

    path: tuple[str, ...]
    max_items: int | None
    item: Any


@cache
def record_lists() -> tuple[Any, tuple[RecordList, ...]]:
    """The schema with the items of its record lists left open (for their siblings' errors), and the lists."""
    original = report_schema()
    shallow = copy.deepcopy(original)
    defs = original.get("$defs", {})
    found: list[RecordList] = []

    def visit(node: dict[str, Any], orig: dict[str, Any], path: tuple[str, ...]) -> None:
        for name, sub in (orig.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
                item = jsonschema_rs.validator_for({**sub["items"], "$defs": defs})
                found.append(RecordList((*path, name), sub.get("maxItems"), item))
                node["properties"][name]["items"] = True
            elif "properties" in sub:
                visit(node["properties"][name], sub, (*path, name))

    visit(shallow, original, ())
    return jsonschema_rs.validator_for(shallow), tuple(found)


def _at(report: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(report, dict):
            return None
        report = report.get(key)
    return report


def list_length_errors(report: Any) -> dict[str, list[str]]:
    """Each record list longer than its ``maxItems``, measured with ``len()`` before anything else."""
    errors = {}
    for rl in record_lists()[1]:
        value = _at(report, rl.path)
        if rl.max_items is not None and isinstance(value, list) and len(value) > rl.max_items:
            errors[json_path(rl.path)] = [f"{len(value):,} items, more than the limit of {rl.max_items:,}."]
    return errors


# --- 2. size -------------------------------------------------------------------------------------


def size_errors(report: Any) -> dict[str, list[str]]:
    """The report over ``MAX_REPORT_BYTES`` as JSON, or its host-row part over ``MAX_FACTS_BYTES``."""
    most, facts_most = int(conf.get("MAX_REPORT_BYTES")), int(conf.get("MAX_FACTS_BYTES"))
    if isinstance(report, dict) and SOFTWARE in report:
        facts = json_size({k: v for k, v in report.items() if k != SOFTWARE}, most)
        software = json_size(report[SOFTWARE], most)
    else:
        facts, software = json_size(report, most), 0
    if facts is None or software is None:
        return {"$": [f"Nested deeper than {MAX_DEPTH} levels."]}
    if facts + software > most:
        return {"$": [f"The report is larger than the limit of {most:,} bytes as JSON."]}
    if facts > facts_most:
        return {"$": [f"The report without `{SOFTWARE}` (what is kept on the host) is larger than the limit of "
                      f"{facts_most:,} bytes as JSON."]}
    return {}


def json_size(value: Any, most: int) -> int | None:
    """Bytes of ``value`` as compact JSON; for what orjson refuses, an estimate that stops early.

    ``None`` means nested deeper than ``MAX_DEPTH``; past ``most`` the estimate stops counting.
    """
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return _estimate(value, most)


def _estimate(value: Any, most: int) -> int | None:
    """Compact-JSON size of ``value``, walked without recursion; stops once over ``most``."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            size += item.bit_length() * 3 // 10 + 2  # decimal digits and a sign
        elif isinstance(item, float):
            size += 24
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return None
            size += 2 + len(item)
            if isinstance(item, dict):
                for key, child in item.items():
                    size += len(str(key)) + 3
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        if size > most:
            return size
    return size


# --- 4. the schema's errors, quoting little ----------------------------------------------------------


def schema_errors(report: Any) -> dict[str, list[str]]:
    """The schema's errors by path, at most ``MAX_ERRORS`` paths, with messages of our own wording."""
    shallow, lists = record_lists()
    errors: dict[str, list[str]] = {}
    more = False

    def add(err: Any, prefix: tuple[Any, ...]) -> None:
        nonlocal more
        path = json_path([*prefix, *err.instance_path])
        if path not in errors and len(errors) >= MAX_ERRORS:
            more = True
            return
        errors.setdefault(path, []).append(message(err.kind, err.instance))

    for err in shallow.iter_errors(report):  # everything but the records: a bounded number of errors
        add(err, ())
    for rl in lists:
        records = _at(report, rl.path)
        if not isinstance(records, list):
            continue  # a wrong type is the shallow schema's error
        for i, record in enumerate(records):
            if more:
                break
            if not rl.item.is_valid(record):
                for err in rl.item.iter_errors(record):
                    add(err, (*rl.path, i))
    if more:
        errors.setdefault("$", []).append(f"More errors not listed (only the first {MAX_ERRORS} paths are).")
    return errors


def quote(value: Any) -> str:
    """A short rendering of an input value for a message: at most ``QUOTE`` characters of it."""
    if isinstance(value, str):
        return repr(value[:QUOTE]) + ("…" if len(value) > QUOTE else "")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, dict):
        return "an object of 1 property" if len(value) == 1 else f"an object of {len(value):,} properties"
    if isinstance(value, list):
        return "a list of 1 item" if len(value) == 1 else f"a list of {len(value):,} items"
    return type(value).__name__


def message(kind: Any, instance: Any) -> str:
    """One error in Python-jsonschema's wording (what the API has always said), the input cut short."""
    name = type(kind).__name__
    shown = quote(instance)
    size = len(instance) if isinstance(instance, (str, list, dict)) else 0
    limit = getattr(kind, "limit", None)
    if name == "Type":
        return f"{shown} is not of type {', '.join(repr(t) for t in kind.types)}"
    if name == "Enum":
        return f"{shown} is not one of {kind.options!r}"
    if name == "Constant":
        return f"{kind.expected_value!r} was expected"
    if name == "Pattern":
        return f"{shown} does not match {kind.pattern!r}"
    if name == "Required":
        return f"{kind.property!r} is a required property"
    if name == "AdditionalProperties":
        unexpected = list(kind.unexpected)
        names = ", ".join(quote(str(n)) for n in unexpected[:5])
        if len(unexpected) > 5:
            names += f" and {len(unexpected) - 5:,} more"
        verb = "was" if len(unexpected) == 1 else "were"
        return f"Additional properties are not allowed ({names} {verb} unexpected)"
    if name in ("MinLength", "MinItems", "MinProperties"):
        return f"{shown} should be non-empty" if limit == 1 else f"{shown} is too short (fewer than {limit})"
    if name == "MaxLength":
        return f"{size:,} characters, more than the limit of {limit:,}."
    if name == "MaxItems":
        return f"{size:,} items, more than the limit of {limit:,}."
    if name == "MaxProperties":
        return f"{size:,} properties, more than the limit of {limit:,}."
    if name == "Minimum":
        return f"{shown} is less than the minimum of {limit!r}"
    if name == "Maximum":
        return f"{shown} is greater than the maximum of {limit!r}"
    if name == "PropertyNames":
        inner = kind.error
        return f"Property name: {message(inner.kind, inner.instance)}"
    return f"{shown} is not valid here ({getattr(kind, 'name', name)})"
