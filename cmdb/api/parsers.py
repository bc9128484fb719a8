"""JSON request parsing that turns every malformed body into a 400."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:  # e.g. 100,000 nested brackets
            raise ParseError("JSON parse error - nested too deeply.") from exc
