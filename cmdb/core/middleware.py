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
