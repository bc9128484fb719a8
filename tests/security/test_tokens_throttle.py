"""Findings 7 and the token items of 9: token expiry, IPv4-mapped client addresses, tenant users'
own tokens, and login throttling that all web workers share (replayed against a real 4-worker
``cmdb serve`` with 48 parallel attempts)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import pickle
import re
import sqlite3
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cmdb.core.cache import TABLE
from cmdb.users.models import Token
from cmdb.users.networks import address_in_networks, parse_address
from cmdb.users.services import token_create

from .serve import cmdb_serve, postgres_url, server_env, worker_pids

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _no_login_counters(db: Any) -> Any:
    caches["shared"].clear()
    yield
    caches["shared"].clear()


def keyed(key: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return c


# --- expiry must lie in the future ------------------------------------------------------------


@pytest.mark.parametrize("expires", ["2001-01-01T00:00:00Z", "past"])
def test_api_refuses_an_expiry_in_the_past(world: Any, expires: str) -> None:
    if expires == "past":
        expires = (timezone.now() - dt.timedelta(seconds=5)).isoformat()
    before = Token.objects.count()
    r = world.a_api.post("/api/users/tokens/", {"expires": expires}, format="json")
    assert r.status_code == 400 and "future" in r.json()["expires"][0]
    r = world.a_api.post("/api/users/tokens/", [{"description": "ok"}, {"expires": expires}], format="json")
    assert r.status_code == 400 and r.json()[0] == {} and "expires" in r.json()[1]
    assert Token.objects.count() == before  # the valid item of the batch is not created either


def test_api_refuses_moving_an_expiry_into_the_past(world: Any) -> None:
    token = Token.objects.get(key_prefix=world.a_api.key[:8])
    r = world.a_api.patch(f"/api/users/tokens/{token.pk}/", {"expires": "2001-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 400 and "expires" in r.json()
    token.refresh_from_db()
    assert token.expires is None


def test_a_future_expiry_is_accepted_and_enforced(world: Any) -> None:
    soon = timezone.now() + dt.timedelta(hours=1)
    r = world.a_api.post("/api/users/tokens/", {"expires": soon.isoformat()}, format="json")
    assert r.status_code == 201, r.content
    assert keyed(r.json()["key"]).get("/api/dcim/devices/").status_code == 200


def test_cli_and_service_refuse_an_expiry_in_the_past(world: Any) -> None:
    with pytest.raises(CommandError, match="--expires"):
        call_command("token", "create", "alice", "--expires", "2001-01-01", stdout=StringIO())
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        token_create(user=world.alice, expires=timezone.now() - dt.timedelta(days=1))
    assert "expires" in err.value.message_dict
    assert not Token.objects.filter(user=world.alice, expires__isnull=False).exists()


def test_ui_refuses_an_expiry_in_the_past(world: Any) -> None:
    client = Client()
    client.force_login(world.alice)
    r = client.post("/user/tokens/", {"action": "create", "expires": "2001-01-01T10:00"})
    assert r.status_code == 200 and "future" in r.content.decode()
    assert 'id="new-token-key"' not in r.content.decode()
    assert Token.objects.filter(user=world.alice).count() == 1  # the fixture's only


# --- allowed_ips and IPv4-mapped IPv6 client addresses ----------------------------------------


@pytest.mark.parametrize(("rule", "client", "allowed"), [
    ("10.0.0.0/8", "::ffff:10.0.0.5", True),        # dual-stack socket reports an IPv4 client like this
    ("10.0.0.0/8", "::ffff:11.0.0.5", False),
    ("::ffff:10.0.0.0/104", "10.0.0.5", True),      # the rule written the other way round
    ("::ffff:10.0.0.0/104", "::ffff:10.0.0.5", True),
    ("::ffff:10.0.0.0/104", "11.0.0.5", False),
    ("::ffff:10.0.0.5/128", "10.0.0.5", True),
    ("2001:db8::/32", "2001:db8::1", True),
    ("2001:db8::/32", "10.0.0.5", False),
    ("10.0.0.0/8", "2001:db8::1", False),
])
def test_allowed_ips_match_ipv4_mapped_addresses_both_ways(world: Any, rule: str, client: str, allowed: bool) -> None:
    _token, key = token_create(user=world.alice, allowed_ips=[rule])
    r = keyed(key).get("/api/dcim/devices/", REMOTE_ADDR=client)
    assert r.status_code == (200 if allowed else 401), (rule, client, r.content)
    assert address_in_networks(client, [rule]) is allowed


def test_address_parsing_is_strict() -> None:
    assert str(parse_address("::ffff:192.0.2.1")) == "192.0.2.1"
    assert parse_address("") is None and parse_address("not-an-ip") is None and parse_address(None) is None
    assert not address_in_networks("10.0.0.1", ["garbage"])


def test_login_throttle_counts_a_mapped_client_as_its_ipv4_address(world: Any) -> None:
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "alice", "password": "nope"}, REMOTE_ADDR="::ffff:10.0.0.5")
    r = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.5")
    assert r.status_code == 429


# --- tenant-limited users manage their own tokens, never another user's ------------------------


def test_tenant_user_lists_only_own_tokens(world: Any) -> None:
    token_create(user=world.bob, description="bob's second")
    r = world.a_api.get("/api/users/tokens/")
    assert r.status_code == 200
    assert {t["user"]["username"] for t in r.json()["results"]} == {"alice"}
    assert r.json()["count"] == 1
    bob_token = Token.objects.filter(user=world.bob).first()
    assert world.a_api.get(f"/api/users/tokens/{bob_token.pk}/").status_code == 404
    # Filtering by a user alice may not see is refused like an unknown id (the scope gate's rule for filters).
    r = world.a_api.get(f"/api/users/tokens/?user_id={world.bob.pk}")
    unknown = world.a_api.get("/api/users/tokens/?user_id=999999")
    assert r.status_code == unknown.status_code == 400
    assert r.json()["user_id"] == [m.replace("999999", str(world.bob.pk)) for m in unknown.json()["user_id"]]


def test_tenant_user_creates_read_write_token_for_themselves(world: Any) -> None:
    r = world.a_api.post("/api/users/tokens/", {"write_enabled": True, "description": "ansible"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["user"]["username"] == "alice"
    new = keyed(r.json()["key"])
    # The new token can do exactly what alice may: write in tenant A, not in tenant B.
    assert new.patch(f"/api/dcim/devices/{world.srv_a.pk}/", {"serial": "NEW-A"}, format="json").status_code == 200
    assert new.patch(f"/api/dcim/devices/{world.srv_b.pk}/", {"serial": "X"}, format="json").status_code == 404
    r = world.a_api.post("/api/users/tokens/", {"user": world.alice.pk, "write_enabled": False}, format="json")
    assert r.status_code == 201 and r.json()["write_enabled"] is False


def test_server_fields_cannot_be_set(world: Any) -> None:
    r = world.a_api.post("/api/users/tokens/", {"last_used": "2001-01-01T00:00:00Z", "key_prefix": "deadbeef",
                                                "key": "0" * 40, "created": "2001-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 201, r.content
    token = Token.objects.get(pk=r.json()["id"])
    assert token.last_used is None and token.key_prefix == r.json()["key"][:8] != "deadbeef"
    assert r.json()["key"] != "0" * 40


def test_read_only_user_gets_read_only_tokens_only(world: Any) -> None:
    viewer = APIClient()
    viewer.force_authenticate(world.viewer)  # a session-like caller: the viewer's own token is read-only
    r = viewer.post("/api/users/tokens/", {"write_enabled": True}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "read_only_user"
    r = viewer.post("/api/users/tokens/", {"description": "grafana"}, format="json")
    assert r.status_code == 201 and r.json()["write_enabled"] is False
    # And a read-only token cannot create tokens at all.
    assert world.viewer_api.post("/api/users/tokens/", {}, format="json").status_code == 403


@pytest.mark.parametrize("who", ["bob", "missing", "bob-by-name"])
def test_tenant_user_cannot_create_a_token_for_someone_else(world: Any, who: str) -> None:
    user = {"bob": world.bob.pk, "missing": 999_999, "bob-by-name": {"username": "bob"}}[who]
    before = Token.objects.count()
    r = world.a_api.post("/api/users/tokens/", {"user": user, "write_enabled": True}, format="json")
    # The same answer whether or not the user exists: ids cannot be probed this way.
    assert r.status_code == 403 and r.json() == {"user": ["You may only create tokens for yourself."]}
    r = world.a_api.post("/api/users/tokens/", [{"description": "mine"}, {"user": user}], format="json")
    assert r.status_code == 403
    assert Token.objects.count() == before


def test_tenant_user_cannot_touch_another_users_token(world: Any) -> None:
    bob_token = Token.objects.get(key_prefix=world.b_api.key[:8])
    url = f"/api/users/tokens/{bob_token.pk}/"
    assert world.a_api.patch(url, {"description": "mine now"}, format="json").status_code == 404
    assert world.a_api.put(url, {"description": "mine now"}, format="json").status_code == 404
    assert world.a_api.delete(url).status_code == 404
    own = Token.objects.get(key_prefix=world.a_api.key[:8])
    r = world.a_api.delete("/api/users/tokens/", [{"id": own.pk}, {"id": bob_token.pk}], format="json")
    assert r.status_code == 404
    r = world.a_api.patch("/api/users/tokens/", [{"id": bob_token.pk, "write_enabled": False}], format="json")
    assert r.status_code == 404
    # Nor can alice move her own token to bob.
    r = world.a_api.patch(f"/api/users/tokens/{own.pk}/", {"user": world.bob.pk}, format="json")
    assert r.status_code == 403
    bob_token.refresh_from_db()
    assert bob_token.description == "" and bob_token.write_enabled and bob_token.user_id == world.bob.pk
    assert world.b_api.get("/api/dcim/devices/").status_code == 200
    assert Token.objects.filter(pk=own.pk, user=world.alice).exists()


def test_tenant_user_revokes_own_token(world: Any) -> None:
    token, key = token_create(user=world.alice, write_enabled=True, description="old")
    assert keyed(key).get("/api/dcim/devices/").status_code == 200
    assert world.a_api.delete(f"/api/users/tokens/{token.pk}/").status_code == 204
    assert keyed(key).get("/api/dcim/devices/").status_code == 401
    more = [token_create(user=world.alice)[0].pk for _ in range(2)]
    r = world.a_api.delete("/api/users/tokens/", [{"id": pk} for pk in more], format="json")
    assert r.status_code == 204 and not Token.objects.filter(pk__in=more).exists()


def test_admin_manages_every_token(world: Any, api: APIClient, superuser: Any) -> None:
    r = api.get("/api/users/tokens/?limit=0")
    assert {t["user"]["username"] for t in r.json()["results"]} >= {"alice", "bob", "viewer", "admin"}
    r = api.post("/api/users/tokens/", {"user": world.bob.pk, "write_enabled": True}, format="json")
    assert r.status_code == 201 and r.json()["user"]["username"] == "bob"
    bob_token = Token.objects.get(key_prefix=world.b_api.key[:8])
    assert api.patch(f"/api/users/tokens/{bob_token.pk}/", {"description": "seen"}, format="json").status_code == 200
    assert api.delete(f"/api/users/tokens/{bob_token.pk}/").status_code == 204
    assert world.b_api.get("/api/dcim/devices/").status_code == 401


def test_tenant_user_manages_own_tokens_in_the_ui(world: Any) -> None:
    bob_token = Token.objects.get(key_prefix=world.b_api.key[:8])
    client = Client()
    client.force_login(world.alice)
    page = client.get("/user/tokens/").content.decode()
    assert world.a_api.key[:8] in page and world.b_api.key[:8] not in page
    r = client.post("/user/tokens/", {"action": "create", "description": "from the ui", "write_enabled": "on",
                                      "allowed_ips": "10.0.0.0/8, ::ffff:192.0.2.0/120"})
    body = r.content.decode()
    key = re.search(r'id="new-token-key">([0-9a-f]{40})<', body).group(1)
    token = Token.objects.get(key_prefix=key[:8])
    assert token.user == world.alice and token.write_enabled
    assert token.allowed_ips == ["10.0.0.0/8", "::ffff:192.0.2.0/120"]
    assert keyed(key).get("/api/dcim/devices/", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert key not in client.get("/user/tokens/").content.decode()  # shown once
    # Another user's token cannot be revoked from here.
    assert client.post("/user/tokens/", {"action": "revoke", "pk": bob_token.pk}).status_code == 404
    assert Token.objects.filter(pk=bob_token.pk).exists()
    r = client.post("/user/tokens/", {"action": "revoke", "pk": token.pk})
    assert r.status_code == 302 and not Token.objects.filter(pk=token.pk).exists()
    # A bad network is named, and nothing is created.
    r = client.post("/user/tokens/", {"action": "create", "allowed_ips": "10.0.0.0/8 nonsense"})
    assert "nonsense" in r.content.decode() and Token.objects.filter(user=world.alice).count() == 1


def test_viewer_ui_offers_read_only_tokens(world: Any) -> None:
    client = Client()
    client.force_login(world.viewer)
    r = client.post("/user/tokens/", {"action": "create", "description": "ro", "write_enabled": "on"})
    assert 'id="new-token-key"' in r.content.decode()
    assert Token.objects.get(description="ro").write_enabled is False


# --- login throttling shared by all workers -------------------------------------------------


def test_throttle_counts_live_outside_the_process(world: Any) -> None:
    """The counters are in the shared store (the database or Redis), where another worker's own cache
    connection reads them, not in this process's memory."""
    from django.core.cache import CacheHandler
    from django.test import RequestFactory

    from cmdb.core.cache import SharedDatabaseCache, SharedRedisCache
    from cmdb.ui import ratelimit

    client = Client()
    for _ in range(5):
        assert client.post("/login/", {"username": "alice", "password": "nope"}).status_code == 200
    another_worker = CacheHandler()["shared"]  # a new backend object, as a freshly started worker builds it
    assert another_worker is not caches["shared"]
    assert isinstance(another_worker, SharedDatabaseCache | SharedRedisCache)
    user_key, ip_key = ratelimit._keys(RequestFactory().post("/login/"), "alice")
    assert (another_worker.get(user_key), another_worker.get(ip_key)) == (5, 5)
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 429


def test_shared_cache_hit_is_one_atomic_count(world: Any) -> None:
    shared = caches["shared"]
    assert shared.hit("probe", 1, 60) == 1
    assert shared.hit("probe", 1, 60) == 2
    assert shared.hit("probe", -1, 60) == 1
    assert shared.get("probe") == 1  # the ordinary cache API reads the same value
    assert shared.hit("probe", -5, 60) == 0  # never below zero: no bonus attempts
    assert shared.hit("other", -1, 60) == 0
    assert shared.hit("other", 1, 60) == 1


def test_successful_logins_give_back_the_ip_budget(world: Any, make_user: Any) -> None:
    """25 people behind one NAT address log in correctly: none is throttled (the per-IP limit is 20)."""
    User = get_user_model()
    for i in range(25):
        User.objects.create_user(f"staff{i}", password=PASSWORD)
        r = Client().post("/login/", {"username": f"staff{i}", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
        assert r.status_code == 302, i


def _csrf_session(base: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return session, token.group(1)


class ServerCounters:
    """Where the server under test keeps its login counters, to read and to clean them up: its database
    cache table (PostgreSQL through this test's connection, or its own SQLite file), or Redis."""

    def __init__(self, backend: str, *, redis_url: str | None = None, sqlite_file: Path | None = None) -> None:
        self.backend, self.redis_url, self.sqlite_file = backend, redis_url, sqlite_file

    def _sql(self, statement: str) -> list[tuple[Any, ...]]:
        if self.sqlite_file is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_file)) as db, db:
                return db.execute(statement.replace("%s", "?"), ["%login-attempts:%"]).fetchall()
        with connection.cursor() as cursor:
            cursor.execute(statement, ["%login-attempts:%"])
            return cursor.fetchall() if cursor.description else []

    def read(self) -> dict[str, int]:
        if self.backend == "redis":
            client = redis.Redis.from_url(self.redis_url)
            return {k.decode().split(":", 2)[2]: int(client.get(k)) for k in client.scan_iter(REDIS_PATTERN)}
        rows = self._sql(f"SELECT cache_key, value FROM {TABLE} WHERE cache_key LIKE %s")  # noqa: S608
        return {k.split(":", 2)[2]: pickle.loads(base64.b64decode(v)) for k, v in rows}  # noqa: S301 - our own rows

    def forget(self) -> None:
        if self.backend == "redis":
            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(REDIS_PATTERN):
                client.delete(key)
        else:
            self._sql(f"DELETE FROM {TABLE} WHERE cache_key LIKE %s")  # noqa: S608


REDIS_PATTERN = "shared:*:login-attempts:*"


def _password_hash() -> str:
    """A real (slow) password hash, so that each evaluated attempt takes the time in which others could race
    past it; the server uses Django's default hashers, whatever this test module's fast hasher is."""
    hasher = PBKDF2PasswordHasher()
    return hasher.encode(PASSWORD, hasher.salt())


def _sqlite_instance(data_dir: Path, username: str) -> dict[str, str]:
    """A fresh SQLite instance, as ``cmdb setup`` would make it (migrations create the cache table), with one user."""
    env = server_env(CMDB_DATA_DIR=str(data_dir), DATABASE_URL=None, REDIS_URL=None, MFA_REQUIRED_GROUPS=None)
    cmdb = [str(Path(sys.executable).parent / "cmdb")]
    subprocess.run([*cmdb, "migrate", "--verbosity", "0"], env=env, check=True, timeout=600)
    create = ("from django.contrib.auth import get_user_model; "
              f"get_user_model().objects.create(username={username!r}, password={_password_hash()!r})")
    subprocess.run([*cmdb, "shell", "-c", create], env=env, check=True, timeout=120)
    return env


@pytest.mark.live
@pytest.mark.parametrize("backend", ["postgresql", "sqlite", "redis"])
def test_parallel_wrong_passwords_across_four_workers(transactional_db: Any, tmp_path: Path, backend: str) -> None:
    """48 wrong-password logins for one user at the same moment, spread over 4 gunicorn workers:
    exactly LOGIN_FAILURE_LIMIT (5) are evaluated, 43 get 429, and no attempt is lost from the count.

    "postgresql" and "sqlite": no Redis, the counters are in the database cache; "redis": in Redis."""
    username = f"target-{uuid.uuid4().hex[:8]}"
    limits = {"LOGIN_FAILURE_LIMIT": "5", "LOGIN_FAILURE_WINDOW": "900", "CMDB_TASK_BACKEND": "database"}
    if backend == "sqlite":
        env = {**_sqlite_instance(tmp_path, username), **limits}
        counters = ServerCounters(backend, sqlite_file=tmp_path / "cmdb.sqlite3")
    else:
        redis_url = None
        if backend == "redis":
            redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
            try:
                redis.Redis.from_url(redis_url, socket_timeout=2).ping()
            except redis.exceptions.ConnectionError as exc:
                pytest.skip(f"no Redis at {redis_url}: {exc}")
        env = server_env(DATABASE_URL=postgres_url(), REDIS_URL=redis_url, MFA_REQUIRED_GROUPS=None, **limits)
        get_user_model().objects.create(username=username, password=_password_hash())
        counters = ServerCounters(backend, redis_url=redis_url)
    counters.forget()
    try:
        with cmdb_serve(env, workers=4) as (base, master):
            assert len(worker_pids(master)) == 4
            clients = [_csrf_session(base) for _ in range(48)]
            barrier = threading.Barrier(len(clients))

            def attempt(client: tuple[requests.Session, str]) -> requests.Response:
                session, csrf = client
                barrier.wait()
                return session.post(f"{base}/login/", data={"username": username, "password": "wrong-password",
                                                            "csrfmiddlewaretoken": csrf}, allow_redirects=False,
                                    timeout=120)

            with ThreadPoolExecutor(len(clients)) as pool:
                results = list(pool.map(attempt, clients))
            evaluated = [r for r in results if r.status_code == 200 and "Wrong user name or password" in r.text]
            refused = [r for r in results if r.status_code == 429]
            assert len(evaluated) + len(refused) == 48, (sorted({r.status_code for r in results}),
                                                         [r.text[:3000] for r in results if r.status_code >= 500][:1])
            assert len(evaluated) == 5
            counts = counters.read()
            user_counts = [v for k, v in counts.items() if k.startswith("login-attempts:user:")]
            assert user_counts == [48]  # every attempt counted once: no increment lost to a race
            assert counts["login-attempts:ip:127.0.0.1"] == 5  # only the evaluated ones count for the address
            # The right password is refused too now, by whichever worker answers.
            session, csrf = _csrf_session(base)
            r = session.post(f"{base}/login/", data={"username": username, "password": PASSWORD,
                                                     "csrfmiddlewaretoken": csrf}, allow_redirects=False, timeout=60)
            assert r.status_code == 429
    finally:
        counters.forget()
