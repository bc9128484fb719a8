"""Template context every UI page needs: the navigation menu built from the registry."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def ui(request: HttpRequest) -> dict[str, Any]:
    from .registry import menu

    if not request.path.startswith("/api/") and getattr(request, "user", None) is not None:
        return {"ui_menu": menu(request.user) if request.user.is_authenticated else []}
    return {}
