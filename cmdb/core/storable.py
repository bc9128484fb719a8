"""What the database and the change log can store: text and JSON values checked before a write.

Python takes values that PostgreSQL, SQLite or the change log's canonical JSON cannot: a NUL
character (PostgreSQL's text and jsonb refuse it), a lone UTF-16 surrogate (the JSON escape
``"\\ud800"`` decodes to one, and no UTF-8 encoder writes it), a non-finite number (``1e309`` is
valid JSON and parses as infinity, which jsonb refuses) and nesting deep enough to exhaust the
recursion of every encoder that walks it (DRF's JSON field, ``json.dumps``, the change log).
Checked here once, at the edge (API fields, the web import), each is a message for the client
naming the field, instead of a database error or a ``RecursionError`` after the work is done.

The walks are iterative, so a value nested 100,000 levels deep costs a loop, not a crash.
"""

from __future__ import annotations

import math
from typing import Any

#: Deepest nesting accepted in a JSON field: far beyond any configuration context or custom field
#: value, well below what the encoders recurse through (orjson stops at 255, ``json`` at ~1,000).
MAX_JSON_DEPTH = 64

NUL = "contains a NUL character, which cannot be stored."
SURROGATE = "contains a lone UTF-16 surrogate, which is not text."


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, or ``None``."""
    if "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def json_problem(data: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why the JSON value ``data`` cannot be stored and logged, or ``None``.

    The message says what is wrong without quoting the value (it may be large, or not text).
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"A string {problem}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "Numbers must be finite (not infinity or NaN)."
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                return f"Nested deeper than {max_depth} levels."
            if isinstance(item, dict):
                for key, value in item.items():
                    if isinstance(key, str) and text_problem(key):
                        return f"A key {text_problem(key)}"
                    stack.append((value, depth + 1))
            else:
                stack.extend((value, depth + 1) for value in item)
    return None


def nested_deeper_than(data: Any, max_depth: int) -> bool:
    """Whether lists and objects in ``data`` nest more than ``max_depth`` levels (``[[1]]`` is two)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return True
            stack.extend((value, depth + 1) for value in (item.values() if isinstance(item, dict) else item))
    return False
