"""Finding 4: MFA and session lifetime hold on every path (pages, admin, REST API through the session).

With ``MFA_REQUIRED_GROUPS=@writers`` the two tenant admins (alice, bob) must use a second factor;
the campus viewer need not.  Each test logs in through the real login form (password only), then
tries the paths the attack used: the API through the session, creating a token, the admin.
"""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cmdb.ui.middleware import AUTH_TIME, LAST_SEEN
from cmdb.users.models import Token

from .conftest import token_client

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _writers_need_mfa(settings: Any) -> None:
    settings.MFA_REQUIRED_GROUPS = ["@writers"]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's slow-down after wrong codes is not under test


@pytest.fixture(autouse=True)
def _no_login_counters(db: Any) -> Any:
    from django.core.cache import caches

    caches["shared"].clear()
    yield
    caches["shared"].clear()


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def password_login(username: str) -> Client:
    client = Client()
    r = client.post("/login/", {"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.content[:500]
    return client


def enrol_in_session(client: Client, user: Any) -> TOTPDevice:
    """What the user does on /user/security/: start, scan, confirm with a first code."""
    client.post("/user/security/", {"action": "start"})
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    r = client.post("/user/security/", {"action": "confirm", "code": _code(device)})
    assert 'id="recovery-codes"' in r.content.decode()
    device.refresh_from_db()
    return device


# --- a session without the second factor reaches only enrolment and logout -------------------


API_PATHS = ["/api/dcim/devices/", "/api/users/tokens/", "/api/status/", "/api/", "/api/core/search/?q=srv",
             "/api/schema/?format=json"]


@pytest.mark.parametrize("path", API_PATHS)
def test_unenrolled_writer_gets_no_api_through_the_session(world: Any, path: str) -> None:
    client = password_login("alice")
    r = client.get(path)
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "mfa_required" and "/user/security/" in body["detail"]


def test_unenrolled_writer_cannot_write_or_mint_a_token_through_the_session(world: Any) -> None:
    client = password_login("alice")
    before = Token.objects.filter(user=world.alice).count()
    r = client.post("/api/users/tokens/", {"write_enabled": True, "description": "forever"},
                    content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "mfa_required"
    r = client.patch(f"/api/dcim/devices/{world.srv_a.pk}/", {"serial": "X"}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "mfa_required"
    assert Token.objects.filter(user=world.alice).count() == before
    world.srv_a.refresh_from_db()
    assert world.srv_a.serial == "SER-A"


@pytest.mark.parametrize("path", ["/dashboard/", f"/dcim/devices/{0}/", "/user/tokens/", "/search/?q=srv"])
def test_unenrolled_writer_pages_lead_to_enrolment(world: Any, path: str) -> None:
    client = password_login("alice")
    path = path.replace("/0/", f"/{world.srv_a.pk}/")
    r = client.get(path)
    assert r.status_code == 302 and r["Location"] == "/user/security/"
    assert client.get("/user/security/").status_code == 200
    # Logout stays reachable and ends the session.
    assert client.post("/logout/").status_code == 302
    assert client.get("/api/dcim/devices/").status_code in (401, 403)
    assert client.get("/dashboard/")["Location"].startswith("/login/")


def test_the_admin_is_guarded_too(world: Any, make_user: Any) -> None:
    make_user("boss", superuser=True, is_staff=True)
    client = password_login("boss")
    r = client.get("/admin/")
    assert r.status_code == 302 and r["Location"] == "/user/security/"
    assert client.get("/admin/users/token/").status_code == 302
    assert client.get("/api/users/tokens/").json()["code"] == "mfa_required"


def test_after_enrolment_the_session_works_everywhere_and_may_create_tokens(world: Any) -> None:
    client = password_login("alice")
    enrol_in_session(client, world.alice)
    assert client.get("/dashboard/").status_code == 200
    r = client.get("/api/dcim/devices/")
    assert r.status_code == 200 and {d["name"] for d in r.json()["results"]} == {"srv-a"}
    r = client.post("/api/users/tokens/", {"write_enabled": True, "description": "ansible"},
                    content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["user"]["username"] == "alice" and r.json()["write_enabled"] is True
    key = r.json()["key"]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/dcim/devices/").status_code == 200


def test_enrolled_user_with_a_password_only_session_must_log_in_again(world: Any) -> None:
    """A session opened before the user enrolled elsewhere (or without the code) is not verified."""
    stale = password_login("alice")  # opened before the enrolment
    device = enrol_in_session(password_login("alice"), world.alice)
    r = stale.get("/api/dcim/devices/")
    assert r.status_code == 403 and r.json()["code"] == "mfa_required" and "log in again" in r.json()["detail"]
    assert stale.get("/dashboard/")["Location"] == "/user/security/"
    page = stale.get("/user/security/").content.decode()
    assert "opened without it" in page
    # It cannot replace the authenticator either: that would hand the second factor to a password thief.
    stale.post("/user/security/", {"action": "start"})
    assert list(TOTPDevice.objects.filter(user=world.alice).values_list("pk", flat=True)) == [device.pk]
    # Logging in properly (password, then code) gives a verified session.
    fresh_login = Client()
    assert fresh_login.post("/login/", {"username": "alice", "password": PASSWORD})["Location"] == "/login/verify/"
    device.refresh_from_db()
    device.last_t = -1  # the enrolment already used this time step's code
    device.save()
    assert fresh_login.post("/login/verify/", {"code": _code(device)}).status_code == 302
    assert fresh_login.get("/api/dcim/devices/").status_code == 200


def test_user_outside_the_required_groups_is_not_held_up(world: Any) -> None:
    client = password_login("viewer")  # view-only: not a writer
    assert client.get("/api/dcim/devices/").status_code == 200
    assert client.get("/dashboard/").status_code == 200


# --- tokens: unaffected by session MFA, but creating one needs a verified session ---------------


def test_token_requests_are_decided_by_the_token_alone(world: Any) -> None:
    assert world.a_api.get("/api/dcim/devices/").status_code == 200
    # A token header next to an unverified session cookie: the token decides ...
    client = password_login("alice")
    r = client.get("/api/dcim/devices/", HTTP_AUTHORIZATION=f"Token {world.a_api.key}")
    assert r.status_code == 200
    # ... and a wrong token does not fall back to the session.
    r = client.get("/api/dcim/devices/", HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert r.status_code == 401


def test_a_token_of_a_user_who_must_use_mfa_cannot_mint_tokens(world: Any) -> None:
    before = Token.objects.filter(user=world.alice).count()
    for payload in ({"write_enabled": True}, {"write_enabled": False}, [{"description": "a"}, {"description": "b"}]):
        r = world.a_api.post("/api/users/tokens/", payload, format="json")
        assert r.status_code == 403, r.content
        assert r.json()["code"] == "mfa_required"
    assert Token.objects.filter(user=world.alice).count() == before


def test_a_token_cannot_widen_tokens_but_may_narrow_and_revoke_them(world: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from cmdb.users.services import token_create

    soon = timezone.now() + dt.timedelta(days=1)
    other, _key = token_create(user=world.alice, write_enabled=False, expires=soon, allowed_ips=["10.0.0.0/8"])
    url = f"/api/users/tokens/{other.pk}/"
    for widening in ({"write_enabled": True}, {"expires": None}, {"expires": (soon + dt.timedelta(days=9)).isoformat()},
                     {"allowed_ips": []}, {"allowed_ips": ["0.0.0.0/0"]}):
        r = world.a_api.patch(url, widening, format="json")
        assert r.status_code == 403 and r.json()["code"] == "mfa_required", widening
    other.refresh_from_db()
    assert (other.write_enabled, other.expires, other.allowed_ips) == (False, soon, ["10.0.0.0/8"])
    r = world.a_api.patch(url, {"description": "renamed", "allowed_ips": ["10.1.0.0/16"]}, format="json")
    assert r.status_code == 200, r.content  # narrowing needs no second factor
    assert world.a_api.delete(url).status_code == 204


def test_the_ui_token_page_needs_the_verified_session(world: Any) -> None:
    client = password_login("alice")
    r = client.post("/user/tokens/", {"action": "create", "description": "ui"})
    assert r.status_code == 302 and r["Location"] == "/user/security/"
    assert not Token.objects.filter(description="ui").exists()
    enrol_in_session(client, world.alice)
    r = client.post("/user/tokens/", {"action": "create", "description": "ui", "write_enabled": "on"})
    assert r.status_code == 200 and 'id="new-token-key"' in r.content.decode()
    assert Token.objects.get(description="ui").write_enabled


def test_without_mfa_requirement_a_token_may_create_tokens(world: Any, settings: Any) -> None:
    settings.MFA_REQUIRED_GROUPS = []
    r = world.a_api.post("/api/users/tokens/", {"write_enabled": True, "description": "rotated"}, format="json")
    assert r.status_code == 201 and r.json()["user"]["username"] == "alice"


def test_the_operator_cli_needs_no_second_factor(world: Any) -> None:
    out = StringIO()
    call_command("token", "create", "alice", "--write", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert Token.objects.get(key_prefix=key[:8]).write_enabled
    assert token_client(world.alice).get("/api/dcim/devices/").status_code == 200


# --- idle and absolute expiry, for API sessions as for pages ------------------------------------


def _age(client: Client, **shifts: int) -> None:
    session = client.session
    for key, seconds in shifts.items():
        session[key] -= seconds
    session.save()


def test_idle_api_session_expires(world: Any, settings: Any) -> None:
    settings.SESSION_IDLE_TIMEOUT = 600
    client = password_login("viewer")
    assert client.get("/api/dcim/devices/").status_code == 200
    _age(client, **{LAST_SEEN: 601})
    r = client.get("/api/dcim/devices/")
    assert r.status_code == 401 and r.json()["code"] == "session_expired" and "inactivity" in r.json()["detail"]
    # The session is gone, not just refused once.
    assert client.get("/api/dcim/devices/").status_code in (401, 403)
    assert client.get("/dashboard/")["Location"].startswith("/login/")


def test_active_session_still_ends_after_its_lifetime(world: Any) -> None:
    client = password_login("viewer")
    assert client.get("/api/dcim/devices/").status_code == 200
    _age(client, **{AUTH_TIME: settings.SESSION_COOKIE_AGE + 1})
    # It was used a moment ago, so the idle limit does not apply; the absolute one does.
    r = client.get("/api/dcim/devices/")
    assert r.status_code == 401 and r.json()["code"] == "session_expired" and "lifetime" in r.json()["detail"]
    assert client.get("/dashboard/")["Location"].startswith("/login/")

    page = password_login("viewer")
    _age(page, **{AUTH_TIME: settings.SESSION_COOKIE_AGE + 1})
    r = page.get("/dashboard/")
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=")


def test_a_session_without_a_login_time_is_ended(world: Any) -> None:
    client = password_login("viewer")
    session = client.session
    del session[AUTH_TIME]
    session.save()
    assert client.get("/api/dcim/devices/").status_code == 401


def test_last_seen_is_refreshed_rarely(world: Any) -> None:
    client = password_login("viewer")
    stamp = client.session[LAST_SEEN]
    client.get("/api/dcim/devices/")
    assert client.session[LAST_SEEN] == stamp  # not rewritten on every request
    _age(client, **{LAST_SEEN: 61})
    client.get("/api/dcim/devices/")
    assert abs(client.session[LAST_SEEN] - int(time.time())) <= 2
