"""``cmdb token create|list|revoke``."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from cmdb.users.models import Token

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("token", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def client(key: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return c


def test_create_write_token_with_expiry(make_user):
    make_user("ops", superuser=True)
    out = run("create", "ops", "--write", "--expires", "30d", "--description", "ansible")
    key = out.strip().splitlines()[-1]
    assert len(key) == 40 and all(ch in "0123456789abcdef" for ch in key)
    assert "read-write" in out
    token = Token.objects.get(key_prefix=key[:8])
    assert token.write_enabled and token.description == "ansible"
    assert timezone.now() + dt.timedelta(days=29) < token.expires <= timezone.now() + dt.timedelta(days=30)
    c = client(key)
    assert c.get("/api/dcim/sites/").status_code == 200
    assert c.post("/api/dcim/sites/", {"name": "Zittau", "slug": "zittau"}, format="json").status_code == 201


def test_create_without_write_is_read_only(make_user):
    make_user("viewer", superuser=True)
    out = run("create", "viewer")
    key = out.strip().splitlines()[-1]
    assert "read-only" in out
    token = Token.objects.get(key_prefix=key[:8])
    assert not token.write_enabled and token.expires is None
    c = client(key)
    assert c.get("/api/dcim/sites/").status_code == 200
    assert c.post("/api/dcim/sites/", {"name": "Zittau", "slug": "zittau"}, format="json").status_code == 403


def test_create_with_iso_expiry_and_allowed_ips(make_user):
    make_user("ops", superuser=True)
    key = run("create", "ops", "--expires", "2999-03-31", "--allowed-ips", "10.0.0.0/8", "192.0.2.0/24")
    key = key.strip().splitlines()[-1]
    token = Token.objects.get(key_prefix=key[:8])
    assert timezone.localtime(token.expires).date() == dt.date(2999, 3, 31)  # local time, like the ORM
    assert token.allowed_ips == ["10.0.0.0/8", "192.0.2.0/24"]
    assert client(key).get("/api/dcim/sites/").status_code == 401  # 127.0.0.1 is not allowed
    assert client(key).get("/api/dcim/sites/", REMOTE_ADDR="10.1.1.1").status_code == 200


@pytest.mark.parametrize("expires", ["garbage", "30x", "soon", "-5d", "2024-13-45"])
def test_garbage_expiry_is_a_command_error(make_user, expires):
    make_user("ops")
    with pytest.raises(CommandError, match="--expires"):
        run("create", "ops", "--expires", expires)
    assert not Token.objects.exists()


def test_bad_network_and_unknown_user_are_errors(make_user):
    with pytest.raises(CommandError, match="nobody"):
        run("create", "nobody")
    make_user("ops")
    with pytest.raises(CommandError, match="not-a-network"):
        run("create", "ops", "--allowed-ips", "not-a-network")
    assert not Token.objects.exists()


def test_list_shows_prefixes_not_keys(make_user):
    make_user("ops")
    make_user("dev")
    k1 = run("create", "ops", "--write").strip().splitlines()[-1]
    k2 = run("create", "dev").strip().splitlines()[-1]
    listing = run("list")
    assert k1[:8] in listing and k2[:8] in listing
    assert k1 not in listing and k2 not in listing
    only_ops = run("list", "ops")
    assert k1[:8] in only_ops and k2[:8] not in only_ops


def test_revoke(make_user):
    make_user("ops", superuser=True)
    key = run("create", "ops").strip().splitlines()[-1]
    token = Token.objects.get(key_prefix=key[:8])
    assert client(key).get("/api/dcim/sites/").status_code == 200
    assert f"#{token.pk}" in run("revoke", str(token.pk))
    assert not Token.objects.filter(pk=token.pk).exists()
    assert client(key).get("/api/dcim/sites/").status_code == 401
    with pytest.raises(CommandError):
        run("revoke", str(token.pk))
