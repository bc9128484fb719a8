"""Login, second factor, rate limit, MFA enforcement and security headers of the web UI."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cmdb.ui import mfa

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _code(device: TOTPDevice, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def _enrol(user) -> TOTPDevice:
    device = mfa.totp_start(user)
    assert mfa.totp_confirm(device, _code(device)) is not None
    return device


@pytest.mark.django_db
def test_pages_require_login(client):
    r = client.get("/dashboard/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


@pytest.mark.django_db
def test_password_login_without_mfa(client, make_user):
    make_user("ops")
    r = client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.get("/").status_code == 200
    assert "Dashboard" in client.get("/").content.decode()


@pytest.mark.django_db
def test_wrong_password_is_refused(client, make_user):
    make_user("ops")
    r = client.post("/login/", {"username": "ops", "password": "nope"})
    assert r.status_code == 200 and "Wrong user name or password" in r.content.decode()
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.django_db
def test_login_rate_limited_per_user_and_ip(client, make_user):
    make_user("ops")
    for _ in range(5):
        client.post("/login/", {"username": "ops", "password": "nope"})
    r = client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many failed attempts" in r.content.decode()
    # Another client address is not locked out by these failures.
    r = client.post("/login/", {"username": "ops", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert r.status_code == 302


@pytest.mark.django_db
@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)  # django-otp slows retries after a wrong code; not under test here
def test_totp_second_step(client, make_user):
    user = make_user("ops")
    device = _enrol(user)
    r = client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert r["Location"] == "/login/verify/"
    assert client.get("/dashboard/").status_code == 302  # not logged in yet
    r = client.post("/login/verify/", {"code": "000000" if _code(device) != "000000" else "111111"})
    assert "not valid" in r.content.decode()
    r = client.post("/login/verify/", {"code": _code(device, 1)})
    assert r.status_code == 302
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_recovery_code_works_once(client, make_user):
    user = make_user("ops")
    device = mfa.totp_start(user)
    codes = mfa.totp_confirm(device, _code(device))
    assert codes and len(codes) == 10
    client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert client.post("/login/verify/", {"code": codes[0]}).status_code == 302
    client.post("/logout/")
    client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert client.post("/login/verify/", {"code": codes[0]}).status_code == 200  # used up


@pytest.mark.django_db
@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
def test_enrolment_page_shows_qr_and_confirms(client, make_user):
    user = make_user("ops")
    client.force_login(user)
    r = client.post("/user/security/", {"action": "start"})
    body = r.content.decode()
    assert "<svg" in body and "Confirm" in body
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    r = client.post("/user/security/", {"action": "confirm", "code": "12"})
    assert "not valid" in r.content.decode()
    r = client.post("/user/security/", {"action": "confirm", "code": _code(device)})
    assert 'id="recovery-codes"' in r.content.decode()
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1


@pytest.mark.django_db
@override_settings(MFA_REQUIRED_GROUPS=["admins"])
def test_mfa_enforced_for_group(client, make_user):
    from django.contrib.auth.models import Group

    user = make_user("ops")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 200  # not in the group
    user.groups.add(Group.objects.create(name="admins"))
    r = client.get("/dashboard/")
    assert r.status_code == 302 and r["Location"] == "/user/security/"
    assert client.get("/user/security/").status_code == 200


@pytest.mark.django_db
@override_settings(MFA_REQUIRED_GROUPS=["@writers"])
def test_mfa_enforced_for_writers(client, make_user):
    client.force_login(make_user("boss", superuser=True))
    assert client.get("/dashboard/")["Location"] == "/user/security/"


@pytest.mark.django_db
def test_security_headers(client, make_user):
    r = client.get("/login/")
    assert "default-src 'self'" in r["Content-Security-Policy"]
    assert r["X-Frame-Options"] == "DENY"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert "API-Version" in client.get("/api/").headers


@pytest.mark.django_db
@override_settings(SESSION_IDLE_TIMEOUT=60)
def test_idle_session_expires(client, make_user):
    client.force_login(make_user("ops"))
    assert client.get("/dashboard/").status_code == 200
    session = client.session
    session["ui_last_seen"] -= 3600
    session.save()
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.django_db
def test_login_is_csrf_protected(make_user):
    from django.test import Client

    make_user("ops")
    c = Client(enforce_csrf_checks=True)
    assert c.post("/login/", {"username": "ops", "password": PASSWORD}).status_code == 403


@pytest.mark.django_db
def test_admin_login_goes_through_the_ui_login(client, make_user):
    r = client.get("/admin/")
    assert r.status_code == 302
    r = client.get(r["Location"])
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=")
    user = make_user("boss", superuser=True)
    _enrol(user)
    # The admin's own password form is gone: posting to it does not log in.
    client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert client.get("/admin/").status_code == 302
