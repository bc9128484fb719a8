"""API tokens: hashed at rest, both header styles, expiry, source networks, read-only tokens."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from cmdb.dcim.models import Site
from cmdb.users.models import Token
from tests import factories

pytestmark = pytest.mark.django_db


def client(header: str | None = None, **meta) -> APIClient:
    c = APIClient()
    if header is not None:
        c.credentials(HTTP_AUTHORIZATION=header, **meta)
    return c


def test_key_is_not_stored_in_clear(superuser, make_token):
    key = make_token(superuser)
    token = Token.objects.get(user=superuser)
    assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.key_prefix == key[:8]
    assert len(key) >= 40
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Token._meta.db_table}")  # noqa: S608
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert all(key not in str(value) for value in rows[0])


def test_token_and_bearer_headers_both_work(superuser, make_token):
    key = make_token(superuser)
    for header in (f"Token {key}", f"Bearer {key}", f"token {key}", f"bearer {key}"):
        r = client(header).get("/api/dcim/sites/")
        assert r.status_code == 200, header


@pytest.mark.parametrize("header", ["Token wrong", "Bearer 0123456789abcdef0123456789abcdef01234567", "Token",
                                    "Token a b", None])
def test_wrong_or_missing_key_is_refused(superuser, make_token, header):
    key = make_token(superuser)
    if header == "Token wrong":
        header = f"Token {key}x"
    r = client(header).get("/api/dcim/sites/")
    assert r.status_code == 401  # with a Token challenge, DRF answers 401 rather than 403
    assert r["WWW-Authenticate"] == "Token"


def test_expired_token_is_refused(superuser, make_token):
    expired = make_token(superuser, expires=timezone.now() + dt.timedelta(minutes=1))
    # Time passes: the token's expiry now lies behind (a new token cannot be created like that).
    Token.objects.filter(key_prefix=expired[:8]).update(expires=timezone.now() - dt.timedelta(minutes=1))
    valid = make_token(superuser, expires=timezone.now() + dt.timedelta(days=1))
    r = client(f"Token {expired}").get("/api/dcim/sites/")
    assert r.status_code == 401
    assert "expired" in r.json()["detail"].lower()
    assert client(f"Token {valid}").get("/api/dcim/sites/").status_code == 200


def test_allowed_ips_refuse_other_networks(superuser, make_token):
    # The test client's REMOTE_ADDR is 127.0.0.1.
    elsewhere = make_token(superuser, allowed_ips=["10.0.0.0/8"])
    local = make_token(superuser, allowed_ips=["192.0.2.0/24", "127.0.0.0/8"])
    r = client(f"Token {elsewhere}").get("/api/dcim/sites/")
    assert r.status_code == 401
    assert "address" in r.json()["detail"]
    assert client(f"Token {local}").get("/api/dcim/sites/").status_code == 200
    # The same token from inside its network works.
    assert client(f"Token {elsewhere}").get("/api/dcim/sites/", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client(f"Token {local}").get("/api/dcim/sites/", REMOTE_ADDR="10.20.30.40").status_code == 401


def test_invalid_allowed_ips_are_rejected(superuser, make_token):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        make_token(superuser, allowed_ips=["not-a-network"])
    assert not Token.objects.exists()


def test_inactive_user_is_refused(make_user, make_token):
    user = make_user("leaver", superuser=True)
    key = make_token(user)
    assert client(f"Token {key}").get("/api/dcim/sites/").status_code == 200
    user.is_active = False
    user.save()
    r = client(f"Token {key}").get("/api/dcim/sites/")
    assert r.status_code == 401
    assert "inactive" in r.json()["detail"].lower()


def test_read_only_token_can_read_but_not_write(superuser, make_token):
    site = factories.site("Zittau")
    c = client(f"Token {make_token(superuser, write=False)}")
    assert c.get("/api/dcim/sites/").status_code == 200
    assert c.get(f"/api/dcim/sites/{site.pk}/").status_code == 200
    r = c.post("/api/dcim/sites/", {"name": "Görlitz", "slug": "goerlitz"}, format="json")
    assert r.status_code == 403
    assert "read-only" in r.json()["detail"]
    assert c.patch(f"/api/dcim/sites/{site.pk}/", {"description": "x"}, format="json").status_code == 403
    assert c.put(f"/api/dcim/sites/{site.pk}/", {"name": "Z", "slug": "z"}, format="json").status_code == 403
    assert c.delete(f"/api/dcim/sites/{site.pk}/").status_code == 403
    assert c.patch("/api/dcim/sites/", [{"id": site.pk, "description": "x"}], format="json").status_code == 403
    assert c.delete("/api/dcim/sites/", [{"id": site.pk}], format="json").status_code == 403
    site.refresh_from_db()
    assert (site.name, site.description) == ("Zittau", "")
    assert list(Site.objects.values_list("slug", flat=True)) == ["zittau"]


def test_write_token_can_write(superuser, make_token):
    c = client(f"Token {make_token(superuser, write=True)}")
    assert c.post("/api/dcim/sites/", {"name": "Görlitz", "slug": "goerlitz"}, format="json").status_code == 201


def test_last_used_is_set(superuser, make_token):
    key = make_token(superuser)
    token = Token.objects.get(user=superuser)
    assert token.last_used is None
    before = timezone.now()
    assert client(f"Token {key}").get("/api/dcim/sites/").status_code == 200
    token.refresh_from_db()
    assert token.last_used is not None and token.last_used >= before
    # A refused request does not count as use.
    other = make_token(superuser, allowed_ips=["10.0.0.0/8"])
    client(f"Token {other}").get("/api/dcim/sites/")
    assert Token.objects.get(key_prefix=other[:8]).last_used is None


def test_token_api_shows_the_key_once(api, superuser):
    r = api.post("/api/users/tokens/", {"user": superuser.pk, "write_enabled": False, "description": "ci"},
                 format="json")
    assert r.status_code == 201, r.content
    key = r.json()["key"]
    assert key and len(key) >= 40
    assert r.json()["key_prefix"] == key[:8]
    listed = api.get(f"/api/users/tokens/{r.json()['id']}/").json()
    assert listed["key"] is None
    assert key not in str(api.get("/api/users/tokens/").content)
    assert client(f"Bearer {key}").get("/api/dcim/sites/").status_code == 200
