"""Who may use /graphql/: exactly who may use the REST API, by token or by session (with the UI's guard)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cmdb.ui.middleware import LAST_SEEN
from cmdb.users.models import Token

QUERY = {"query": "{ device_list { name } }"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}


def _post(client: Any, body: Any = QUERY, **extra: Any) -> Any:
    return client.post("/graphql/", body, content_type="application/json", **extra)


def test_anonymous_requests_are_refused_as_by_rest(world: Any) -> None:
    client = APIClient()
    rest = client.get("/api/dcim/devices/")
    r = _post(client)
    assert r.status_code == rest.status_code == 401
    assert r["WWW-Authenticate"] == rest["WWW-Authenticate"] == "Token"
    assert r.json() == rest.json()
    assert client.get("/graphql/?query={device_list{name}}").status_code == 401


@pytest.mark.parametrize("header", ["Token nope", "Bearer nope", "Token", "Token a b"])
def test_bad_tokens_are_refused_as_by_rest(world: Any, header: str) -> None:
    client = APIClient()
    rest = client.get("/api/dcim/devices/", HTTP_AUTHORIZATION=header)
    r = _post(client, HTTP_AUTHORIZATION=header)
    assert r.status_code == rest.status_code == 401
    assert r.json() == rest.json()


def test_token_and_bearer_read_only_tokens_work(world: Any, superuser: Any, make_token: Any) -> None:
    key = make_token(superuser, write=False)
    for scheme in ("Token", "Bearer"):
        r = _post(APIClient(), HTTP_AUTHORIZATION=f"{scheme} {key}")
        assert r.status_code == 200, r.content
        assert len(r.json()["data"]["device_list"]) == 4
    # GET with ?query= too (read-only, as GraphQL over HTTP allows).
    r = APIClient().get("/graphql/", {"query": f"{{ site(id: {world.zittau.pk}) {{ name }} }}"},
                        HTTP_AUTHORIZATION=f"Token {key}")
    assert r.json() == {"data": {"site": {"name": "Zittau"}}}


def test_expired_and_network_limited_tokens_are_refused(world: Any, superuser: Any, make_token: Any) -> None:
    expired = make_token(superuser)
    Token.objects.filter(user=superuser).update(expires=timezone.now() - dt.timedelta(minutes=1))
    assert _post(APIClient(), HTTP_AUTHORIZATION=f"Token {expired}").status_code == 401
    elsewhere = make_token(superuser, allowed_ips=["10.99.0.0/16"])
    r = _post(APIClient(), HTTP_AUTHORIZATION=f"Token {elsewhere}")
    assert r.status_code == 401 and "address" in r.json()["detail"]


def test_session_needs_csrf_like_the_rest_api(world: Any, superuser: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    r = _post(client)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    page = client.get("/graphql/", **HTML)  # the GraphiQL page carries the token
    token = page.content.decode().split('data-csrf-token="')[1].split('"')[0]
    r = _post(client, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200 and len(r.json()["data"]["device_list"]) == 4


def test_session_without_the_second_factor_is_refused(world: Any, superuser: Any, settings: Any) -> None:
    settings.MFA_REQUIRED_GROUPS = ["@writers"]
    client = Client()
    client.force_login(superuser)  # a password login: no second factor in this session
    r = _post(client)
    assert r.status_code == 403 and r.json()["code"] == "mfa_required"
    # The GraphiQL page is a page: the browser goes to the enrolment page.
    assert client.get("/graphql/", **HTML)["Location"] == "/user/security/"


def test_idle_session_expires(world: Any, superuser: Any, settings: Any) -> None:
    settings.SESSION_IDLE_TIMEOUT = 600
    client = Client()
    client.force_login(superuser)
    assert _post(client).status_code == 200
    session = client.session
    session[LAST_SEEN] -= 601
    session.save()
    r = _post(client)
    assert r.status_code == 401 and r.json()["code"] == "session_expired"
    assert _post(client).status_code == 401  # logged out, not refused once


def test_a_token_decides_even_beside_a_stale_session(world: Any, superuser: Any, make_token: Any,
                                                     settings: Any) -> None:
    settings.MFA_REQUIRED_GROUPS = ["@writers"]
    client = Client()
    client.force_login(superuser)  # unverified session cookie: refused on its own
    assert _post(client).status_code == 403
    r = _post(client, HTTP_AUTHORIZATION=f"Token {make_token(superuser, write=False)}")
    assert r.status_code == 200


def test_graphiql_page_is_served_from_our_static_files_under_the_csp(world: Any, superuser: Any) -> None:
    anonymous = Client()
    r = anonymous.get("/graphql/", **HTML)
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=/graphql/")
    client = Client()
    client.force_login(superuser)
    r = client.get("/graphql/", **HTML)
    assert r.status_code == 200
    csp = r["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    html = r.content.decode()
    assert "<script>" not in html and "http" not in html.replace('href="/', "").replace('src="/', "")
    for path in ("graphql/graphiql/graphiql.min.js", "graphql/graphiql/graphiql.min.css",
                 "graphql/graphiql/react.production.min.js", "graphql/graphiql/react-dom.production.min.js",
                 "graphql/graphiql-page.js", "graphql/graphiql-page.css"):
        assert f"/static/{path}" in html
        assert finders.find(path), path
    # The vendored stylesheet loads nothing the CSP would refuse (fonts as data: URLs were removed).
    with open(finders.find("graphql/graphiql/graphiql.min.css"), encoding="utf-8") as f:
        css = f.read()
    assert "@font-face" not in css and "http" not in css.replace("http://www.w3.org", "")
