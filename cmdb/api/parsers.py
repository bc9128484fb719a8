"""JSON request parsing that turns every malformed body into a 400."""

from __future__ import annotations

import io
from typing import Any

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: Every digit made "0", so a run of 19 digits is a plain substring search (a regex took 0.2 ms on
#: a 19 KB discovery report, three times orjson's parse).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


class JSONParser(parsers.JSONParser):
    """orjson first (several times faster on large bodies such as discovery reports and bulk writes).

    Anything orjson refuses (lone surrogate escapes, malformed input) goes through DRF's own
    parser, so what is accepted and every error message stay DRF's.  So does any body with a
    run of 19 or more digits: orjson reads integers beyond 64 bits as floats, losing digits,
    where Python keeps them exact (a digit run inside a string only costs the slower parser).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        if encoding.lower().replace("-", "") == "utf8" and hasattr(stream, "read"):
            body = stream.read()
            if _LONG_RUN not in body.translate(_DIGITS_TO_ZERO):
                try:
                    return orjson.loads(body)
                except orjson.JSONDecodeError:
                    pass
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:  # e.g. 100,000 nested brackets
            raise ParseError("JSON parse error - nested too deeply.") from exc
