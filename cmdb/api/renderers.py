"""JSON rendering with orjson: the list endpoints spend most time here otherwise."""

from __future__ import annotations

import json
from typing import Any

import orjson
from rest_framework import renderers


class FastJSONRenderer(renderers.BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        try:
            return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            # Integers beyond 64 bits (valid JSON a client may store) and lone UTF-16 surrogates (an error
            # message quoting a client's "\ud800") that orjson cannot encode.  ASCII output writes a
            # surrogate back as the escape it came in as, where UTF-8 could not encode it at all.
            return json.dumps(data, default=str, ensure_ascii=True, separators=(",", ":")).encode()


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, without the raw-data forms (they instantiate every serializer).

    Encoded here, with a lone surrogate written as its escape (``\\ud800``): the page shows the
    data and the error messages, which may quote a client's surrogate, and UTF-8 cannot encode it.
    """

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        page = super().render(data, accepted_media_type, renderer_context)
        return page.encode("utf-8", "backslashreplace") if isinstance(page, str) else page

    def get_rendered_html_form(self, data: Any, view: Any, method: str, request: Any) -> Any:
        return None

    def get_filter_form(self, data: Any, view: Any, request: Any) -> Any:
        return None

    def get_context(self, data: Any, accepted_media_type: Any, renderer_context: Any) -> Any:
        context = super().get_context(data, accepted_media_type, renderer_context)
        # Pygments' CSS comes as an inline <style>, which the pages' Content-Security-Policy refuses.
        context["code_style"] = None
        return context
