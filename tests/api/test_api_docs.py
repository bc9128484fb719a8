"""Issue 14: every API endpoint is documented and listed, and the docs pages work offline under the CSP.

The URL resolver is walked (tests/api/endpoints.py), so an endpoint added later is checked without
anyone updating a list here.  The browser half (the pages render, no request leaves 127.0.0.1) is
tests/e2e/test_api_docs_browser.py.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from cmdb.ui.middleware import DEFAULT_CSP

from .endpoints import api_routes, normalise
from .helpers import ok

pytestmark = pytest.mark.django_db


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(normalise(path)).replace(r"\{\}", "[^/]+") + "$")


def test_every_route_under_api_is_in_the_schema(api):
    schema = ok(api.get("/api/schema/?format=json"))
    documented = {normalise(p) for p in schema["paths"]}
    routes = {normalise(r.path) for r in api_routes()}
    assert len(routes) > 140
    assert routes - documented == set()
    # ... including the ones issue 14 found missing.
    for path in ("/api/monitoring/sd/{}/", "/api/monitoring/alertmanager/", "/api/ansible/inventory/",
                 "/api/services/impact/", "/api/services/stack/", "/api/software/compliance/",
                 "/api/reconcile/runs/{}/plan/", "/api/core/search/", "/api/", "/api/dcim/"):
        assert path in documented, path


def test_every_route_is_reachable_from_the_root_and_app_listings(api):
    root = ok(api.get("/api/"))
    listed: list[str] = []
    for name, url in root.items():
        listed.append(urlsplit(url).path)
        if name not in ("status", "schema", "docs", "redoc"):
            app = ok(api.get(url))
            assert app, name
            listed += [urlsplit(u).path for u in app.values()]
    for app in ("dcim", "ipam", "monitoring", "ansible", "services", "software", "reconcile", "discovery", "jobs",
                "core", "extras", "users", "tenancy", "virtualization"):
        assert f"/api/{app}/" in listed, app
    for route in api_routes():
        pattern = _pattern(route.path)
        assert any(pattern.match(p) or (normalise(route.path).startswith(p) and p != "/api/") for p in listed) \
            or route.path == "/api/", route.path
    apps = {urlsplit(u).path for u in root.values()}
    # The service-discovery sources, impact, compliance and inventory are named in their apps.
    monitoring = ok(api.get("/api/monitoring/"))
    assert {"sd/devices", "sd/virtual-machines", "alertmanager", "monitors"} <= set(monitoring)
    assert api.get(monitoring["sd/devices"]).status_code == 200
    assert {"impact", "stack"} <= set(ok(api.get("/api/services/")))
    assert "compliance" in ok(api.get("/api/software/"))
    assert ok(api.get("/api/ansible/")) == {"inventory": "http://testserver/api/ansible/inventory/"}
    assert "/api/docs/" in apps and "/api/redoc/" in apps


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_are_offline_and_under_the_ui_csp(client, path):
    r = client.get(path)  # no login: public like the schema
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    # Nothing from another origin: every src/href is a path on this server.
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
    assert "https://" not in html and "http://" not in html
    # No inline script: every <script> has a src.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    csp = r["Content-Security-Policy"]
    ui_csp = client.get("/login/")["Content-Security-Policy"]
    assert ui_csp == DEFAULT_CSP
    if path == "/api/docs/":
        assert csp == ui_csp
    else:
        # ReDoc's page: the UI's policy plus a nonce and two hashes for styles, and blob: workers.
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        assert f'data-style-nonce="{nonce}"' in html
        assert csp.startswith(ui_csp.split("style-src")[0])
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert client.get(path)["Content-Security-Policy"] != csp  # a fresh nonce per response


def test_browsable_api_pages_get_the_csp_and_json_does_not_need_it(api, client):
    assert "Content-Security-Policy" in client.get("/api/", HTTP_ACCEPT="text/html")
    assert api.get("/api/dcim/sites/")["Content-Type"].startswith("application/json")


def test_schema_is_public_cached_and_lists_the_representation_parameters(db):
    anonymous = APIClient()
    first = anonymous.get("/api/schema/?format=json")
    assert first.status_code == 200
    assert anonymous.get("/api/schema/?format=json").content == first.content
    params = {p["name"] for p in first.json()["paths"]["/api/dcim/devices/{id}/"]["get"]["parameters"]}
    assert {"brief", "fields", "exclude"} <= params
