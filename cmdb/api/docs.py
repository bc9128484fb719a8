"""``/api/docs/`` (Swagger UI) and ``/api/redoc/`` (ReDoc), entirely from the product's own static files.

drf-spectacular's stock views load both from a CDN (``@latest``) and put the start-up code in an
inline ``<script>``: blank offline, and refused by the Content-Security-Policy every other page
has.  These views serve our templates instead: the JavaScript of Swagger UI and ReDoc comes from
``drf-spectacular-sidecar``'s static files, the start-up code from ``ui/api-docs.js``, and the page
passes what the script needs (the schema URL, the CSRF token for "Try it out" with the session)
in ``data-`` attributes, so the pages run under the same CSP as the rest of the UI
(:mod:`cmdb.ui.middleware`) with nothing inline.

ReDoc needs three additions on its own page, each as narrow as it can be: its CSS-in-JS writes
``<style>`` elements at run time, allowed through a per-request nonce that ReDoc puts on them; two
style elements its bundle inserts while loading (before it knows the nonce) are allowed by their
hashes; and its search runs in a worker made from a ``blob:`` URL.  Its sidebar's "Redocly" logo
comes from a CDN and stays refused (``img-src 'self'``): nothing leaves the machine.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from cmdb.ui.middleware import csp_with

#: The two ``<style>`` elements redoc.standalone.js (drf-spectacular-sidecar) inserts as it loads: an
#: empty one and its scrollbar CSS.  If an update of the bundle changes them, the browser test
#: (tests/e2e/test_api_docs_browser.py) reports the refusal with the new hash.
REDOC_LOAD_STYLE_HASHES = ("'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
                           "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='")


class _DocsPage(APIView):
    """Public like the schema: the page reveals nothing the schema does not."""

    permission_classes = [AllowAny]
    renderer_classes = [TemplateHTMLRenderer]
    template_name = ""
    _ignore_model_permissions = True

    @extend_schema(responses={(200, "text/html"): str}, description="The interactive API documentation (HTML).")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return render(request._request, self.template_name, {
            "schema_url": f"{reverse('api-schema')}?format=json",
            "csrf_token_value": get_token(request._request),
            **self.extra_context(),
        })

    def extra_context(self) -> dict[str, Any]:
        return {}


class SwaggerUIView(_DocsPage):
    template_name = "api/swagger_ui.html"


class RedocView(_DocsPage):
    template_name = "api/redoc.html"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        self.nonce = secrets.token_urlsafe(18)
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = csp_with(
            f"'nonce-{self.nonce}' {' '.join(REDOC_LOAD_STYLE_HASHES)}", "worker-src 'self' blob:")
        return response

    def extra_context(self) -> dict[str, Any]:
        return {"style_nonce": self.nonce}
