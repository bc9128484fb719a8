"""What an imported value may be for each kind of model field, and what it becomes.

CSV carries only text, while JSON and YAML carry types: the same column arrives as ``"42"``,
``42``, ``42.0``, ``true``, ``[42]`` or ``{"id": 42}``.  Django's own conversions are lenient in
ways an import must not be: a list for a name is stored as the text ``"['x']"``, a number for a
date raises ``TypeError``, ``1e309`` (infinity) for a position raises ``OverflowError``.  And the
database cannot take a NUL character, a lone UTF-16 surrogate or an integer beyond 64 bits.
Each value is therefore converted here, before the model sees it, by these rules (see
docs/ui.md, "Import"):

* text: a string (surrounding white space removed); a whole number is taken as its digits; a
  date from YAML as ``YYYY-MM-DD``; anything else (true/false, a fraction, a list, an object) is
  refused rather than guessed;
* whole numbers: a number without a fraction, or a string of digits, within 64 bits;
* decimals: a finite number or a string such as ``"12.50"``;
* yes/no: ``true``/``false``, 1/0, or one of ``true, yes, y, on, 1`` / ``false, no, n, off, 0``;
* dates: ``YYYY-MM-DD`` (or a YAML date); times: ISO 8601 (or a YAML timestamp), naive ones in the
  server's time zone, within the years 1-9999 once in UTC;
* JSON fields: any JSON value that :func:`cmdb.core.storable.json_problem` accepts.

A refused value raises :class:`Refused` with a message for the import's error table; the preview
and the apply both convert through here, so a row the preview accepts is a row the apply can write.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cmdb.core.storable import json_problem, text_problem

#: The range of every integer column (PostgreSQL's bigint; SQLite's integers are 64-bit too).
INT64 = (-(2**63), 2**63 - 1)
_DIGITS = re.compile(r"[+-]?[0-9]{1,25}")
_TRUE = {"true", "yes", "y", "on", "1", "t"}
_FALSE = {"false", "no", "n", "off", "0", "f"}


class Refused(ValueError):
    """An imported value the field cannot take; the message is shown by line and field."""


def what(value: Any) -> str:
    """A short description of a value's kind for messages (never the value itself: it may be huge or not text)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, dt.datetime):
        return "a date and time"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__


def text(value: Any) -> str:
    """A text value: a string, or a whole number or a date written as text."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise Refused(f"The text {problem}")
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    raise Refused(f"Expected text, not {what(value)} (write it as a quoted string).")


def integer(value: Any) -> int:
    if isinstance(value, bool):
        raise Refused("Expected a whole number, not true/false.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise Refused("Expected a whole number.")
        value = int(value)
    elif isinstance(value, str):
        stripped = value.strip()
        if not _DIGITS.fullmatch(stripped):
            raise Refused("Expected a whole number.")
        value = int(stripped)
    elif not isinstance(value, int):
        raise Refused(f"Expected a whole number, not {what(value)}.")
    if not INT64[0] <= value <= INT64[1]:
        raise Refused("The number is out of range (64 bits).")
    return value


def decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Refused(f"Expected a number, not {what(value)}.")
    if isinstance(value, str):
        value = value.strip()
        if len(value) > 100:
            raise Refused("Expected a number.")
    try:
        # A float through its shortest text: Decimal(0.1) would carry the binary expansion.
        result = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation as exc:
        raise Refused("Expected a number.") from exc
    if not result.is_finite():
        raise Refused("Expected a finite number.")
    return result


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise Refused("Expected true or false.")


def date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise Refused(f"Expected a date as YYYY-MM-DD, not {what(value)}.")
    try:
        parsed = parse_date(value.strip())
    except ValueError as exc:
        raise Refused("Not a valid date.") from exc
    if parsed is None:
        raise Refused("Expected a date as YYYY-MM-DD.")
    return parsed


def datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | None = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError as exc:
            raise Refused("Not a valid date and time.") from exc
        if parsed is None:
            raise Refused("Expected a date and time such as 2026-01-31T12:00:00+01:00.")
    else:
        raise Refused(f"Expected a date and time, not {what(value)}.")
    try:
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        parsed.astimezone(dt.UTC)  # stored in UTC: 0001-01-01T00:00+01:00 is before the year 1
    except (OverflowError, ValueError) as exc:
        raise Refused("The date and time is out of range (years 1-9999 in UTC).") from exc
    return parsed


def json_value(value: Any) -> Any:
    problem = json_problem(value)
    if problem:
        raise Refused(problem)
    return value


def convert(field: models.Field, value: Any) -> Any:
    """The model value for a non-empty imported ``value`` of ``field``; raises :class:`Refused`."""
    if isinstance(field, models.BooleanField):
        return boolean(value)
    if isinstance(field, (models.IntegerField, models.AutoField)):
        return integer(value)
    if isinstance(field, models.DecimalField):
        return decimal(value)
    if isinstance(field, models.FloatField):
        number = decimal(value)
        return float(number)
    if isinstance(field, models.DateTimeField):
        return datetime(value)
    if isinstance(field, models.DateField):
        return date(value)
    if isinstance(field, models.JSONField):
        return json_value(value)
    return text(value)


def reference(value: Any, label: str) -> str:
    """A related object's key as text: a name, slug or ID (as a string or a whole number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise Refused(f"Expected the name or ID of a {label}, not {what(value)}.")
    problem = text_problem(value)
    if problem:
        raise Refused(f"The text {problem}")
    return value.strip()


def shown(value: Any, limit: int = 80) -> str:
    """``value`` as safe, short text for the preview and error tables (no surrogates, no megabytes)."""
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        value = ", ".join(str(v) for v in value[:limit])  # tags as a list
    elif isinstance(value, (list, dict)):
        value = what(value)
    elif not isinstance(value, str):
        value = "" if value is None else str(value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
