"""Give every request an id that the change log and the logs share."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cmdb import API_VERSION


class RequestIdMiddleware:
    """Stamp a request id and the API-Version header on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.id = uuid.uuid4()  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = str(request.id)  # type: ignore[attr-defined]
        if request.path.startswith("/api/"):
            response["API-Version"] = API_VERSION
        return response


class ChangeLoggingMiddleware:
    """Attribute writes made through the web UI (today Django's admin) to the user.

    API views open their own change-logging context with source ``api``;
    every other unsafe request runs inside one with source ``web``, so an
    admin edit is logged with its user and request id, atomically.  GraphQL
    (``/graphql/``) only reads: its POSTs need no write transaction (which on
    SQLite would take the database's write lock for every query).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith(("/api/", "/graphql/")):
            return self.get_response(request)
        from cmdb.core.context import change_logging

        with change_logging(user=request.user, source="web", request_id=getattr(request, "id", None)):
            return self.get_response(request)
