"""``/graphql/``: the endpoint (POST, or GET with ``?query=``) and, for browsers, GraphiQL.

Authentication is the REST API's own: the same DRF authentication classes (``Authorization:
Token <key>`` or ``Bearer <key>``; a read-only token is enough, every query only reads) and the
session with its CSRF check, and anonymous requests are refused with REST's 401.  Sessions pass
the UI's guard first (:mod:`cmdb.ui.middleware`: lifetime, idle expiry, second factor), which
treats ``/graphql/`` as an API path, so a session that may not use the API may not use this.

GraphiQL is served from our own static files (``cmdb/graphql/static``, see ``scripts/vendor-graphiql``)
under the site's Content-Security-Policy: no CDN, no inline script.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from rest_framework import permissions
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.views import APIView

from . import execution
from .schema import get_schema


class _Authenticated(permissions.BasePermission):
    """Any authenticated reader: what each query may see is decided per model by ``restrict()``."""

    message = "Authentication credentials were not provided."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(getattr(request.user, "is_authenticated", False))


def _json_param(raw: str | None, name: str) -> Any:
    if raw in (None, ""):
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ParseError(f"{name} is not valid JSON.") from exc


class GraphQLView(APIView):
    permission_classes = [_Authenticated]
    body_limit = "default"  # cmdb.core.bodylimit: a query is small; bulk bodies are REST's
    schema = None  # not part of the REST OpenAPI schema

    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        return self._answer(request, params.get("query"), _json_param(params.get("variables"), "variables"),
                            params.get("operationName"))

    def post(self, request: Request) -> HttpResponse:
        body = request.data
        if not isinstance(body, dict):
            raise ParseError("Send a JSON object: {\"query\": \"...\", \"variables\": {...}}.")
        return self._answer(request, body.get("query"), body.get("variables"), body.get("operationName"))

    def _answer(self, request: Request, query: Any, variables: Any, operation_name: Any) -> HttpResponse:
        answer = execution.run(get_schema(), query, variables, operation_name, request.user)
        # As GraphQL over HTTP says for application/json: 200 once a query ran; 400 if none could.
        status = 400 if answer.data is None and answer.errors else 200
        return HttpResponse(orjson.dumps(answer.as_dict()), status=status, content_type="application/json")


@login_required
def graphiql(request: HttpRequest) -> HttpResponse:
    return render(request, "graphql/graphiql.html", {"csrf_token": get_token(request)})


def wants_graphiql(request: HttpRequest) -> bool:
    """A browser opening ``/graphql/`` (HTML, no query and no token): the GraphiQL page, not the endpoint."""
    from cmdb.users.authentication import has_token_header

    return (request.method == "GET" and "text/html" in request.headers.get("Accept", "")
            and "query" not in request.GET and not has_token_header(request))


_endpoint = GraphQLView.as_view()


def endpoint(request: HttpRequest) -> HttpResponse:
    return graphiql(request) if wants_graphiql(request) else _endpoint(request)


endpoint.csrf_exempt = True  # type: ignore[attr-defined]  # DRF's SessionAuthentication checks CSRF itself
endpoint.body_limit = "default"  # type: ignore[attr-defined]
