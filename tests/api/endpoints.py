"""Walk the URL resolver: every route under /api/, and the list endpoints among them.

The tests use this instead of a hand-kept list, so a new endpoint is checked the day it is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    path: str  # "/api/dcim/sites/{}/" (parameters as {})
    callback: Any

    @property
    def view_class(self) -> Any:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def actions(self) -> dict[str, str]:
        return getattr(self.callback, "actions", None) or {}


def _route_text(pattern: Any) -> str:
    text = str(pattern.pattern)
    text = text.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
    text = re.sub(r"\(\?P<[^>]+>[^)]*\)", "{}", text)
    return re.sub(r"<[^>]+>", "{}", text)


def walk(patterns: Any = None, prefix: str = "/") -> list[Route]:
    out: list[Route] = []
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            out += walk(p.url_patterns, prefix + _route_text(p))
        elif isinstance(p, URLPattern):
            out.append(Route(prefix + _route_text(p), p.callback))
    return out


def api_routes() -> list[Route]:
    return [r for r in walk() if r.path.startswith("/api/")]


def list_routes() -> list[Route]:
    """Model endpoints with a list action (the strict-filter rules apply to all of them)."""
    return [r for r in api_routes() if r.actions.get("get") == "list"]


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)
