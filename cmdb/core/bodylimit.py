"""The most bytes a request may send, per endpoint, refused with 413 before the body is read.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` guards ``request.body`` and form fields only: DRF's
parsers (ours included) read the request as a stream and so accept a body of any size, and a
file upload is spooled to disk whatever its size.  So the limit is enforced here, once, for
every view:

* each view names its limit with a ``body_limit`` attribute (a key of the
  ``REQUEST_BODY_LIMITS`` setting, or a number of bytes): on the view class (DRF views and
  viewsets, class-based views) or on the view function (:func:`body_limit`); views that name
  none get ``"default"``;
* a request whose ``Content-Length`` is over the limit is answered 413 at once, without reading
  any of the body;
* a chunked request (no ``Content-Length``; the server, e.g. gunicorn, de-chunks it and says so
  with ``wsgi.input_terminated``) is read here, counting, up to one byte past the limit: over it,
  413; within it, the body is handed on as if it had had a ``Content-Length``.  (Without this
  Django would read such a body as empty.)

The check runs in ``process_view``, when the URL has been resolved to its view and before
``CsrfViewMiddleware`` parses a form, which is why the middleware comes before it in
``settings.MIDDLEWARE``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

DEFAULT = "default"
_READ_CHUNK = 64 * 1024

V = TypeVar("V", bound=Callable[..., Any])


def body_limit(name: str | int) -> Callable[[V], V]:
    """Give a view function the limit ``name`` (a ``REQUEST_BODY_LIMITS`` key or bytes); returns the view itself."""

    def mark(view: V) -> V:
        view.body_limit = name  # type: ignore[attr-defined]
        return view

    return mark


def limit_of(name: str | int | None) -> tuple[str, int]:
    """The (name, bytes) of a declared limit; an unknown name falls back to the default."""
    if isinstance(name, int) and not isinstance(name, bool):
        return f"{name} bytes", name
    limits: dict[str, int] = settings.REQUEST_BODY_LIMITS
    key = name if isinstance(name, str) and name in limits else DEFAULT
    return key, limits[key]


def declared(view_func: Any) -> str | int | None:
    """The ``body_limit`` a resolved view declares: on the function, else on its class (Django or DRF)."""
    found = getattr(view_func, "body_limit", None)
    if found is not None:
        return found
    for attr in ("cls", "view_class"):  # DRF's as_view() sets ``cls``; Django's sets ``view_class``
        cls = getattr(view_func, attr, None)
        if cls is not None and getattr(cls, "body_limit", None) is not None:
            return cls.body_limit
    return None


def too_large(name: str, limit: int) -> HttpResponse:
    return JsonResponse(
        {"detail": f"Request body too large: this endpoint ({name}) accepts at most {limit:,} bytes.",
         "limit": limit},
        status=413,
    )


def _content_length(request: HttpRequest) -> int | None:
    value = request.META.get("CONTENT_LENGTH")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0  # as Django reads it: no body


def _is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def _read_counted(request: HttpRequest, limit: int) -> bytes | None:
    """Read a de-chunked body up to ``limit`` bytes; None as soon as it turns out to be longer."""
    stream = request.META["wsgi.input"]
    parts: list[bytes] = []
    total = 0
    while True:
        part = stream.read(min(_READ_CHUNK, limit + 1 - total))
        if not part:
            break
        total += len(part)
        if total > limit:
            return None
        parts.append(part)
    return b"".join(parts)


class RequestBodyLimitMiddleware:
    """413 for a request body over its view's limit (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any,
                     view_kwargs: Any) -> HttpResponse | None:
        name, limit = limit_of(declared(view_func))
        length = _content_length(request)
        if length is not None:
            return too_large(name, limit) if length > limit else None
        if not _is_chunked(request) or not request.META.get("wsgi.input_terminated"):
            return None  # no body, or one Django would not read anyway
        body = _read_counted(request, limit)
        if body is None:
            return too_large(name, limit)
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[attr-defined]
        return None
