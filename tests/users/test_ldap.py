"""Campus logins against a real OpenLDAP server (Debian's slapd, started by this module).

Every login goes through the real login form (``/login/``) with Django's test client; the server
is reached over StartTLS with a CA made for this run (or ldaps://), so certificate verification is
exercised on every test.  The OpenLDAP tree (``uid``, ``groupOfNames``, ``posixGroup``) and the
AD-like tree (``sAMAccountName``, ``group`` with nesting, ``memberOf``, ``userAccountControl``) are
described in :mod:`tests.users.slapd`; what only a real Active Directory could show is listed in
docs/security.md.

Directory changes a test makes (a member added or removed) are undone by the ``directory``
fixture's restore list, so the module's one server stays the same for every test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import ldap
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client

from cmdb.dcim.models import Device
from cmdb.users.directory import apply_mappings, normalise_dn
from cmdb.users.ldapconfig import LDAP_BACKEND, LOCAL_BACKEND, ldap_settings
from cmdb.users.models import DirectoryAccount, LDAPGroupMapping, ObjectPermission
from tests import factories

from . import slapd
from .slapd import AD_BASE, AD_READER_DN, PASSWORD, READER_DN, READER_PW, UNI, ad_group, uni_group

pytestmark = pytest.mark.django_db
ALL_ACTIONS = ["view", "add", "change", "delete"]
WRONG = "Wrong user name or password."


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Iterator[slapd.Slapd]:
    with slapd.running(tmp_path_factory.mktemp("slapd")) as running:
        yield running


@pytest.fixture
def directory(server: slapd.Slapd) -> Iterator[Callable[..., None]]:
    """``change(dn, op, attr, values)`` as an LDAP administrator; undone after the test."""
    undo: list[tuple[str, int, str, list[str]]] = []
    opposite = {ldap.MOD_ADD: ldap.MOD_DELETE, ldap.MOD_DELETE: ldap.MOD_ADD}

    def change(dn: str, op: int, attr: str, values: list[str]) -> None:
        server.modify(dn, op, attr, values)
        undo.append((dn, opposite[op], attr, values))

    yield change
    for dn, op, attr, values in reversed(undo):
        server.modify(dn, op, attr, values)


def openldap_env(server: slapd.Slapd, **extra: str) -> dict[str, str]:
    env = {
        "LDAP_SERVER_URI": server.uri,  # ldap:// → StartTLS, verified against the run's CA
        "LDAP_TLS_CA_FILE": str(server.ca_file),
        "LDAP_BIND_DN": READER_DN,
        "LDAP_BIND_PASSWORD": "env:CMDB_TEST_LDAP_READER",
        "CMDB_TEST_LDAP_READER": READER_PW,
        "LDAP_USER_SEARCH_BASE": f"ou=people,{UNI}",
        "LDAP_GROUP_SEARCH_BASE": f"ou=groups,{UNI}",
        "LDAP_REQUIRE_GROUP": uni_group("cmdb-users"),
        "LDAP_SUPERUSER_GROUPS": uni_group("cmdb-superusers"),
        "LDAP_STAFF_GROUPS": uni_group("cmdb-superusers"),
    }
    env.update(extra)
    return env


def ad_env(server: slapd.Slapd, **extra: str) -> dict[str, str]:
    """What an Active Directory configuration looks like (filters and group type as for a real AD)."""
    env = {
        "LDAP_SERVER_URI": server.ldaps_uri,
        "LDAP_TLS_CA_FILE": str(server.ca_file),
        "LDAP_BIND_DN": AD_READER_DN,
        "LDAP_BIND_PASSWORD": "env:CMDB_TEST_LDAP_READER",
        "CMDB_TEST_LDAP_READER": READER_PW,
        "LDAP_USER_SEARCH_BASE": f"OU=Staff,{AD_BASE}",
        "LDAP_USER_SEARCH_FILTER": "(&(objectClass=user)(sAMAccountName=%(user)s)"
                                   "(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
        "LDAP_GROUP_SEARCH_BASE": f"OU=Groups,{AD_BASE}",
        "LDAP_GROUP_TYPE": "nestedActiveDirectory",
        "LDAP_REQUIRE_GROUP": ad_group("CMDB-Users"),
    }
    env.update(extra)
    return env


@pytest.fixture
def configure(settings: Any) -> Callable[[dict[str, str]], None]:
    """Apply the settings the environment ``env`` gives, exactly as cmdb/settings.py does at start-up."""

    def apply(env: dict[str, str]) -> None:
        for name, value in ldap_settings(env).items():
            setattr(settings, name, value)

    return apply


@pytest.fixture(autouse=True)
def _clean_counters_and_fast_hashing(settings: Any) -> Iterator[None]:
    from django.core.cache import caches

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    caches["shared"].clear()
    yield
    caches["shared"].clear()


@pytest.fixture
def campus(server: slapd.Slapd, configure: Callable[[dict[str, str]], None]) -> slapd.Slapd:
    configure(openldap_env(server))
    return server


def login(username: str, password: str = PASSWORD, client: Client | None = None) -> tuple[Client, Any]:
    client = client or Client()
    response = client.post("/login/", {"username": username, "password": password})
    return client, response


def logged_in(username: str) -> Client:
    client, response = login(username)
    assert response.status_code == 302, response.content.decode()[-1500:]
    return client


def error_text(response: Any) -> str:
    return response.content.decode()


def faculty(name: str) -> Any:
    """A tenant with a device of its own, and a local group whose grants cover that tenant only."""
    tenant = factories.tenant(name)
    factories.device(f"{name.lower()}-srv", tenant=tenant)
    group = Group.objects.create(name=f"{name.lower()}-admins")
    perm = ObjectPermission(name=f"{name.lower()}-admins", object_types=["*"], actions=ALL_ACTIONS)
    perm.full_clean()
    perm.save()
    perm.groups.set([group])
    perm.tenants.set([tenant])
    return group


def mapping(dn: str, group: Group) -> LDAPGroupMapping:
    row = LDAPGroupMapping(dn=dn, group=group)
    row.full_clean()
    row.save()
    return row


def token_from_page(client: Client, *, write: bool = False) -> str:
    data = {"action": "create", "description": "laptop"}
    if write:
        data["write_enabled"] = "on"
    page = client.post("/user/tokens/", data)
    assert page.status_code == 200
    match = re.search(r'id="new-token-key">([0-9a-f]{40})<', page.content.decode())
    assert match, page.content.decode()[-2000:]
    return match.group(1)


def device_names(client: Client, key: str) -> set[str]:
    r = client.get("/api/dcim/devices/", HTTP_AUTHORIZATION=f"Token {key}")
    assert r.status_code == 200, r.content[:300]
    return {d["name"] for d in r.json()["results"]}


# --- configuration (no server needed) -----------------------------------------------------------------------------


def test_nothing_is_enabled_without_a_server_uri() -> None:
    assert ldap_settings({}) == {"LDAP_ENABLED": False, "AUTHENTICATION_BACKENDS": [LOCAL_BACKEND]}


def test_local_accounts_come_first_and_ldap_uses_starttls_with_verification_by_default(tmp_path: Any) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    out = ldap_settings({"LDAP_SERVER_URI": "ldap://ldap.uni.example", "LDAP_USER_SEARCH_BASE": "dc=uni",
                         "LDAP_TLS_CA_FILE": str(ca)})
    assert out["AUTHENTICATION_BACKENDS"] == [LOCAL_BACKEND, LDAP_BACKEND]
    assert out["AUTH_LDAP_START_TLS"] is True
    options = out["AUTH_LDAP_CONNECTION_OPTIONS"]
    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    assert options[ldap.OPT_X_TLS_CACERTFILE] == str(ca)
    assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX  # the TLS context is rebuilt after the options
    assert options[ldap.OPT_REFERRALS] == 0
    ldaps = ldap_settings({"LDAP_SERVER_URI": "ldaps://ad.uni.example", "LDAP_USER_SEARCH_BASE": "dc=uni"})
    assert ldaps["AUTH_LDAP_START_TLS"] is False
    assert ldaps["AUTH_LDAP_CONNECTION_OPTIONS"][ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    plain = ldap_settings({"LDAP_SERVER_URI": "ldap://ldap.uni.example", "LDAP_USER_SEARCH_BASE": "dc=uni",
                           "LDAP_START_TLS": "false"})
    assert plain["AUTH_LDAP_START_TLS"] is False and ldap.OPT_X_TLS_REQUIRE_CERT not in \
        plain["AUTH_LDAP_CONNECTION_OPTIONS"]


def test_the_bind_password_is_a_reference(tmp_path: Any) -> None:
    base = {"LDAP_SERVER_URI": "ldaps://ldap.uni.example", "LDAP_USER_SEARCH_BASE": "dc=uni",
            "LDAP_BIND_DN": "cn=reader,dc=uni"}
    secret = tmp_path / "ldap-password"
    secret.write_text("from-a-file\n")
    assert ldap_settings({**base, "LDAP_BIND_PASSWORD": f"file:{secret}"})["AUTH_LDAP_BIND_PASSWORD"] == "from-a-file"
    assert ldap_settings({**base, "LDAP_BIND_PASSWORD": "env:PW", "PW": "from-env"})["AUTH_LDAP_BIND_PASSWORD"] \
        == "from-env"
    for reference, words in (("hunter2", "the secret itself is never stored"), ("env:UNSET_PW", "not set"),
                             (f"file:{tmp_path / 'missing'}", "cannot be read"), ("", "give its password")):
        with pytest.raises(ImproperlyConfigured, match="LDAP_BIND_PASSWORD") as caught:
            ldap_settings({**base, "LDAP_BIND_PASSWORD": reference})
        assert words in str(caught.value)


@pytest.mark.parametrize(("extra", "variable"), [
    ({"LDAP_SERVER_URI": "http://ldap.uni.example"}, "LDAP_SERVER_URI"),
    ({"LDAP_USER_SEARCH_BASE": ""}, "LDAP_USER_SEARCH_BASE"),
    ({"LDAP_USER_SEARCH_FILTER": "(uid=alice)"}, "LDAP_USER_SEARCH_FILTER"),
    ({"LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=uni", "LDAP_GROUP_TYPE": "nisNetgroup"}, "LDAP_GROUP_TYPE"),
    ({"LDAP_REQUIRE_GROUP": "cn=cmdb-users,ou=groups,dc=uni"}, "LDAP_GROUP_SEARCH_BASE"),
    ({"LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=uni", "LDAP_REQUIRE_GROUP": "physics admins"}, "LDAP_REQUIRE_GROUP"),
    ({"LDAP_TLS_CA_FILE": "/nonexistent/ca.pem"}, "LDAP_TLS_CA_FILE"),
    ({"LDAP_TLS_VERIFY": "perhaps"}, "LDAP_TLS_VERIFY"),
    ({"LDAP_TIMEOUT": "soon"}, "LDAP_TIMEOUT"),
])
def test_a_configuration_mistake_names_the_variable(extra: dict[str, str], variable: str) -> None:
    env = {"LDAP_SERVER_URI": "ldap://ldap.uni.example", "LDAP_USER_SEARCH_BASE": "ou=people,dc=uni", **extra}
    with pytest.raises(ImproperlyConfigured, match=f"^{variable}: "):
        ldap_settings(env)


def test_group_dns_are_compared_in_one_spelling() -> None:
    assert normalise_dn("CN=Physics-Admins, OU=Groups,DC=ad,DC=example") == \
        "cn=physics-admins,ou=groups,dc=ad,dc=example"
    with pytest.raises(ValueError, match="not a distinguished name"):
        normalise_dn("physics admins")
    bad = LDAPGroupMapping(dn="physics admins", group=Group.objects.create(name="g"))
    with pytest.raises(Exception, match="dn"):
        bad.full_clean()


# --- logging in -----------------------------------------------------------------------------------------------------


def test_a_campus_user_logs_in_through_the_form(campus: slapd.Slapd) -> None:
    client = logged_in("alice")
    user = get_user_model().objects.get(username="alice")
    assert (user.first_name, user.last_name, user.email) == ("Alice", "Anders", "alice@uni.example")
    assert not user.has_usable_password() and not user.is_superuser and not user.is_staff
    assert DirectoryAccount.objects.get(user=user).dn == f"uid=alice,ou=people,{UNI}"
    assert client.get("/").status_code in (200, 302)
    assert client.get("/api/users/tokens/").status_code == 200  # the API through the session knows her


def test_user_names_are_case_insensitive_and_one_account(campus: slapd.Slapd) -> None:
    logged_in("Alice")
    logged_in("alice")
    assert list(get_user_model().objects.filter(username__iexact="alice").values_list("username", flat=True)) \
        == ["alice"]


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong-password"),  # wrong password
    ("nobody", PASSWORD),  # not in the directory
    ("outsider", PASSWORD),  # in the directory, outside the user search base
    ("frank", PASSWORD),  # under the base, not in the required group cn=cmdb-users
])
def test_refused_logins_say_only_wrong_name_or_password(campus: slapd.Slapd, username: str, password: str) -> None:
    _client, response = login(username, password)
    assert response.status_code == 200 and WRONG in error_text(response)
    assert not get_user_model().objects.filter(username=username).exists()


def test_a_deny_group_refuses_its_members(server: slapd.Slapd, configure: Any) -> None:
    configure(openldap_env(server, LDAP_DENY_GROUP=uni_group("unmapped-club")))
    _client, response = login("alice")
    assert WRONG in error_text(response)
    logged_in("bob")


def test_superuser_and_staff_flags_follow_the_directory(campus: slapd.Slapd, directory: Any) -> None:
    logged_in("dave")
    dave = get_user_model().objects.get(username="dave")
    assert dave.is_superuser and dave.is_staff
    directory(uni_group("cmdb-superusers"), ldap.MOD_DELETE, "member", [f"uid=dave,ou=people,{UNI}"])
    logged_in("dave")
    dave.refresh_from_db()
    assert not dave.is_superuser and not dave.is_staff


def test_a_local_account_is_never_taken_over_by_the_directory(campus: slapd.Slapd) -> None:
    """The directory has its own "admin" (Mallory); the local administrator's account stays theirs."""
    admin = get_user_model().objects.create_superuser("admin", password="local-admin-pw-123")
    _client, response = login("admin", PASSWORD)  # the directory accepts Mallory's password ...
    assert WRONG in error_text(response)  # ... but the name is a local account's
    admin.refresh_from_db()
    assert admin.first_name == "" and not DirectoryAccount.objects.filter(user=admin).exists()
    _client, response = login("admin", "local-admin-pw-123")
    assert response.status_code == 302


def test_directory_down_is_a_clear_error_and_local_accounts_still_work(server: slapd.Slapd, configure: Any) -> None:
    closed = slapd.free_ports(1)[0]
    configure(openldap_env(server, LDAP_SERVER_URI=f"ldap://127.0.0.1:{closed}", LDAP_TIMEOUT="2"))
    _client, response = login("alice")
    assert response.status_code == 503
    assert "campus directory (LDAP) cannot be reached" in error_text(response)
    assert WRONG not in error_text(response)
    get_user_model().objects.create_user("localops", password="local-ops-pw-123")
    _client, response = login("localops", "local-ops-pw-123")
    assert response.status_code == 302


def test_several_servers_are_tried_in_turn(server: slapd.Slapd, configure: Any) -> None:
    closed = slapd.free_ports(1)[0]
    configure(openldap_env(server, LDAP_SERVER_URI=f"ldap://127.0.0.1:{closed} {server.uri}"))
    logged_in("alice")


def test_a_wrong_service_password_is_a_directory_error_not_a_wrong_password(server: slapd.Slapd,
                                                                              configure: Any) -> None:
    configure(openldap_env(server, CMDB_TEST_LDAP_READER="not-the-reader-password"))
    _client, response = login("alice")
    assert response.status_code == 503


def test_a_failed_group_search_leaves_no_half_made_account(server: slapd.Slapd, configure: Any) -> None:
    """The password is accepted, then reading the groups fails: no local user may remain, or the next login
    would take it for a local account and refuse the directory's user for good."""
    configure(openldap_env(server, LDAP_GROUP_SEARCH_BASE=f"ou=no-such-ou,{UNI}", LDAP_REQUIRE_GROUP="",
                           LDAP_SUPERUSER_GROUPS="", LDAP_STAFF_GROUPS=""))
    assert login("bob")[1].status_code == 503
    assert not get_user_model().objects.filter(username="bob").exists()
    configure(openldap_env(server))
    logged_in("bob")


def test_certificates_are_verified(server: slapd.Slapd, configure: Any) -> None:
    """StartTLS against a server whose certificate another CA signed: refused, not silently accepted."""
    configure(openldap_env(server, LDAP_TLS_CA_FILE=str(server.other_ca_file)))
    _client, response = login("alice")
    assert response.status_code == 503
    assert not get_user_model().objects.filter(username="alice").exists()
    configure(openldap_env(server, LDAP_SERVER_URI=server.ldaps_uri, LDAP_TLS_CA_FILE=str(server.other_ca_file)))
    assert login("alice")[1].status_code == 503
    configure(openldap_env(server, LDAP_SERVER_URI=server.ldaps_uri))  # ldaps:// with the right CA
    logged_in("alice")


def test_throttling_counts_directory_logins(campus: slapd.Slapd, settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert WRONG in error_text(login("bob", "wrong-password")[1])
    _client, response = login("bob")  # the right password, too late
    assert response.status_code == 429
    assert not get_user_model().objects.filter(username="bob").exists()


def test_a_deactivated_directory_user_is_refused_and_their_session_ends(campus: slapd.Slapd) -> None:
    client = logged_in("bob")
    get_user_model().objects.filter(username="bob").update(is_active=False)  # an administrator blocks bob
    r = client.get("/api/users/tokens/")
    assert r.status_code == 401  # the session no longer carries a user
    _client, response = login("bob")
    assert WRONG in error_text(response)


# --- groups, grants and tenants ---------------------------------------------------------------------------------------


def test_a_faculty_admin_sees_only_their_tenant_via_api_token_and_ui(campus: slapd.Slapd) -> None:
    physics, chemistry = faculty("Physics"), faculty("Chemistry")
    mapping(uni_group("physics-admins"), physics)
    mapping(uni_group("chemistry-admins"), chemistry)
    client = logged_in("alice")
    alice = get_user_model().objects.get(username="alice")
    assert set(alice.groups.values_list("name", flat=True)) == {"physics-admins"}  # unmapped-club is ignored
    key = token_from_page(client, write=True)
    api = Client()
    assert device_names(api, key) == {"physics-srv"}
    template = Device.objects.get(name="physics-srv")
    chemistry_tenant = chemistry.object_permissions.get().tenants.get()

    def create(name: str, tenant: Any) -> int:
        body = {"name": name, "device_type": template.device_type_id, "role": template.role_id,
                "site": template.site_id, "tenant": tenant.pk}
        return api.post("/api/dcim/devices/", body, content_type="application/json",
                        HTTP_AUTHORIZATION=f"Token {key}").status_code

    assert create("chem-intruder", chemistry_tenant) in (400, 403)
    assert create("physics-new", template.tenant) == 201
    page = client.get("/dcim/devices/").content.decode()
    assert "physics-srv" in page and "physics-new" in page and "chemistry-srv" not in page
    assert device_names(Client(), token_from_page(logged_in("bob"))) == {"chemistry-srv"}


def test_membership_changes_in_the_directory_count_at_the_next_login(campus: slapd.Slapd, directory: Any) -> None:
    physics, chemistry = faculty("Physics"), faculty("Chemistry")
    mapping(uni_group("physics-admins"), physics)
    mapping(uni_group("chemistry-admins"), chemistry)
    key = token_from_page(logged_in("erin"))
    assert device_names(Client(), key) == {"physics-srv"}
    erin = f"uid=erin,ou=people,{UNI}"
    directory(uni_group("physics-admins"), ldap.MOD_DELETE, "member", [erin])
    directory(uni_group("chemistry-admins"), ldap.MOD_ADD, "member", [erin])
    logged_in("erin")
    user = get_user_model().objects.get(username="erin")
    assert set(user.groups.values_list("name", flat=True)) == {"chemistry-admins"}
    assert device_names(Client(), key) == {"chemistry-srv"}  # her token holds her grants of today


def test_local_memberships_survive_and_mapping_changes_apply_at_once(campus: slapd.Slapd) -> None:
    physics = faculty("Physics")
    hand_made = Group.objects.create(name="on-call")
    logged_in("alice")
    alice = get_user_model().objects.get(username="alice")
    alice.groups.add(hand_made)  # given by an administrator, not by the directory
    assert set(alice.groups.values_list("name", flat=True)) == {"on-call"}
    row = mapping(uni_group("physics-admins"), physics)  # mapped after her login: no new login needed
    assert set(alice.groups.values_list("name", flat=True)) == {"on-call", "physics-admins"}
    row.delete()
    assert set(alice.groups.values_list("name", flat=True)) == {"on-call"}
    mapping(uni_group("physics-admins").upper(), physics)  # any spelling of the DN
    logged_in("alice")
    assert set(alice.groups.values_list("name", flat=True)) == {"on-call", "physics-admins"}


def test_apply_mappings_is_bulk(campus: slapd.Slapd, django_assert_max_num_queries: Any) -> None:
    """However many accounts: a fixed number of queries (mappings written without signals here)."""
    physics = faculty("Physics")
    for name in ("alice", "bob", "carol", "dave", "erin"):
        logged_in(name)
    accounts = list(DirectoryAccount.objects.all())
    LDAPGroupMapping.objects.bulk_create([LDAPGroupMapping(dn=normalise_dn(uni_group("physics-admins")),
                                                           group=physics)])
    with django_assert_max_num_queries(12):
        assert apply_mappings(accounts) == 2
    assert set(physics.user_set.values_list("username", flat=True)) == {"alice", "erin"}
    LDAPGroupMapping.objects.update(dn="cn=elsewhere")
    with django_assert_max_num_queries(12):
        assert apply_mappings(accounts) == 2
    assert not physics.user_set.exists()
    with django_assert_max_num_queries(4):
        assert apply_mappings(accounts) == 0


def test_posix_groups(server: slapd.Slapd, configure: Any) -> None:
    configure(openldap_env(server, LDAP_GROUP_SEARCH_BASE=f"ou=posix,{UNI}", LDAP_GROUP_TYPE="posixGroup",
                           LDAP_REQUIRE_GROUP=f"cn=physics,ou=posix,{UNI}", LDAP_SUPERUSER_GROUPS="",
                           LDAP_STAFF_GROUPS=""))
    physics = faculty("Physics")
    mapping(f"cn=physics,ou=posix,{UNI}", physics)
    logged_in("frank")
    assert set(get_user_model().objects.get(username="frank").groups.values_list("name", flat=True)) == \
        {"physics-admins"}
    assert WRONG in error_text(login("alice")[1])  # not in the posix group


# --- Active Directory's way of saying the same ---------------------------------------------------------------------


def test_active_directory_style_login_groups_and_nesting(server: slapd.Slapd, configure: Any) -> None:
    configure(ad_env(server))
    physics = faculty("Physics")
    viewers = Group.objects.create(name="physics-viewers")
    mapping("cn=physics-admins,ou=groups,dc=ad,dc=example", physics)  # AD writes CN=Physics-Admins,OU=...
    mapping(ad_group("Physics-Viewers"), viewers)
    logged_in("hhertz")
    hertz = get_user_model().objects.get(username="hhertz")
    assert (hertz.first_name, hertz.email) == ("Heinrich", "hhertz@ad.example")
    assert set(hertz.groups.values_list("name", flat=True)) == {"physics-admins"}
    # Lise is in CMDB-Users only through the nested Physics-Viewers group.
    logged_in("lmeitner")
    assert set(get_user_model().objects.get(username="lmeitner").groups.values_list("name", flat=True)) == \
        {"physics-viewers"}
    # Max's account is disabled in AD (userAccountControl bit 2): the filter does not find him.
    assert WRONG in error_text(login("mplanck")[1])


def test_active_directory_member_of_filter(server: slapd.Slapd, configure: Any) -> None:
    """The other common AD set-up: the user filter requires memberOf (direct membership only, as in AD)."""
    configure(ad_env(server, LDAP_REQUIRE_GROUP="", LDAP_GROUP_TYPE="activeDirectory",
                     LDAP_USER_SEARCH_FILTER=f"(&(sAMAccountName=%(user)s)(memberOf={ad_group('CMDB-Users')}))"))
    logged_in("hhertz")
    assert WRONG in error_text(login("lmeitner")[1])  # a member only through nesting: memberOf does not list it


# --- second factor ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("required", [["physics-admins"], ["@writers"]])
def test_mfa_is_enforced_for_directory_users(campus: slapd.Slapd, settings: Any, required: list[str]) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.MFA_REQUIRED_GROUPS = required
    mapping(uni_group("physics-admins"), faculty("Physics"))
    client = logged_in("alice")
    assert client.get("/dcim/devices/")["Location"] == "/user/security/"
    r = client.get("/api/dcim/devices/")
    assert r.status_code == 403 and r.json()["code"] == "mfa_required"
    page = client.post("/user/tokens/", {"action": "create", "description": "x"})
    assert page.status_code == 302  # no token before the second factor
    # Carol (a viewer, in no required group) is not asked.
    assert logged_in("carol").get("/api/users/tokens/").status_code == 200
    client.post("/user/security/", {"action": "start"})
    device = TOTPDevice.objects.get(user__username="alice", confirmed=False)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    client.post("/user/security/", {"action": "confirm", "code": code})
    assert client.get("/api/dcim/devices/").status_code == 200
    assert token_from_page(client)
    # The next login asks for the code after the directory's password.
    _client, response = login("alice")
    assert response["Location"] == "/login/verify/"


# --- tokens, removal, sync --------------------------------------------------------------------------------------------


def test_cmdb_token_create_works_for_a_directory_user_after_the_first_login(campus: slapd.Slapd) -> None:
    with pytest.raises(CommandError, match="No user named 'carol'"):
        call_command("token", "create", "carol", stdout=StringIO())
    logged_in("carol")
    out = StringIO()
    call_command("token", "create", "carol", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    r = Client().get("/api/users/tokens/", HTTP_AUTHORIZATION=f"Token {key}")
    assert r.status_code == 200 and r.json()["count"] == 1


def test_sync_deactivates_users_the_directory_lost_and_their_tokens_stop(campus: slapd.Slapd,
                                                                          directory: Any) -> None:
    physics = faculty("Physics")
    mapping(uni_group("physics-admins"), physics)
    alice_key = token_from_page(logged_in("alice"))
    carol_key = token_from_page(logged_in("carol"))
    directory(uni_group("cmdb-users"), ldap.MOD_DELETE, "member", [f"uid=carol,ou=people,{UNI}"])
    directory(uni_group("physics-admins"), ldap.MOD_DELETE, "member", [f"uid=alice,ou=people,{UNI}"])
    out = StringIO()
    call_command("ldap", "sync", "--dry-run", stdout=out)
    assert "would deactivate carol" in out.getvalue()
    assert get_user_model().objects.get(username="carol").is_active
    call_command("ldap", "sync", stdout=(out := StringIO()))
    assert "deactivated carol" in out.getvalue()
    assert not get_user_model().objects.get(username="carol").is_active
    assert Client().get("/api/users/tokens/", HTTP_AUTHORIZATION=f"Token {carol_key}").status_code == 401
    # Alice stays, without the physics grants (and her token with them).
    assert Client().get("/api/dcim/devices/", HTTP_AUTHORIZATION=f"Token {alice_key}").status_code == 403
    assert get_user_model().objects.get(username="alice").is_active
    # Back in the directory: the sync (or her next login) makes carol active again.
    server = campus
    server.modify(uni_group("cmdb-users"), ldap.MOD_ADD, "member", [f"uid=carol,ou=people,{UNI}"])
    try:
        call_command("ldap", "sync", stdout=(out := StringIO()))
        assert "reactivated carol" in out.getvalue()
        assert Client().get("/api/users/tokens/", HTTP_AUTHORIZATION=f"Token {carol_key}").status_code == 200
    finally:
        server.modify(uni_group("cmdb-users"), ldap.MOD_DELETE, "member", [f"uid=carol,ou=people,{UNI}"])


def test_a_login_lifts_a_suspension_but_not_an_administrators_block(campus: slapd.Slapd, directory: Any) -> None:
    logged_in("carol")
    directory(uni_group("cmdb-users"), ldap.MOD_DELETE, "member", [f"uid=carol,ou=people,{UNI}"])
    call_command("ldap", "sync", stdout=StringIO())
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_active and DirectoryAccount.objects.get(user=carol).suspended is not None
    campus.modify(uni_group("cmdb-users"), ldap.MOD_ADD, "member", [f"uid=carol,ou=people,{UNI}"])
    try:
        logged_in("carol")
        carol.refresh_from_db()
        assert carol.is_active
        carol.is_active = False  # now an administrator blocks her: that sticks
        carol.save()
        assert WRONG in error_text(login("carol")[1])
        call_command("ldap", "sync", stdout=StringIO())
        carol.refresh_from_db()
        assert not carol.is_active
    finally:
        campus.modify(uni_group("cmdb-users"), ldap.MOD_DELETE, "member", [f"uid=carol,ou=people,{UNI}"])


def test_sync_changes_nothing_when_the_directory_is_down(server: slapd.Slapd, configure: Any) -> None:
    configure(openldap_env(server))
    logged_in("bob")
    configure(openldap_env(server, LDAP_SERVER_URI=f"ldap://127.0.0.1:{slapd.free_ports(1)[0]}"))
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("ldap", "sync", stdout=StringIO())
    assert get_user_model().objects.get(username="bob").is_active


def test_the_sync_job(campus: slapd.Slapd, directory: Any) -> None:
    from cmdb.jobs.registry import job_enqueue, job_run

    logged_in("carol")
    directory(uni_group("cmdb-users"), ldap.MOD_DELETE, "member", [f"uid=carol,ou=people,{UNI}"])
    record = job_enqueue("users.ldap_sync")
    assert job_run(record.pk) == "completed"
    record.refresh_from_db()
    assert record.result["suspended"] == ["carol"]
    # Scheduled as docs/security.md shows.
    admin = get_user_model().objects.create_superuser("root", password="root-pw-12345678")
    api = Client()
    api.force_login(admin)
    r = api.post("/api/jobs/schedules/", {"name": "ldap sync", "job_name": "users.ldap_sync", "cron": "*/30 * * * *"},
                 content_type="application/json")
    assert r.status_code == 201, r.content


# --- the command line -------------------------------------------------------------------------------------------------


def test_cmdb_ldap_check_map_and_unmap(campus: slapd.Slapd) -> None:
    out = StringIO()
    call_command("ldap", "map", uni_group("physics-admins"), "physics-admins", stdout=out)
    assert "new local group" in out.getvalue()
    call_command("ldap", "check", "alice", stdout=(out := StringIO()))
    text = out.getvalue()
    assert f"dn: uid=alice,ou=people,{UNI}" in text and "email: alice@uni.example" in text
    assert "local groups: physics-admins" in text and "may log in: yes" in text
    assert f"ldap group: {uni_group('unmapped-club')}" in text
    call_command("ldap", "check", "frank", stdout=(out := StringIO()))
    assert "may log in: no" in out.getvalue()
    with pytest.raises(CommandError, match="not found"):
        call_command("ldap", "check", "nobody", stdout=StringIO())
    call_command("ldap", "mappings", stdout=(out := StringIO()))
    assert out.getvalue().strip() == f"{normalise_dn(uni_group('physics-admins'))} -> physics-admins"
    with pytest.raises(CommandError, match="dn: "):
        call_command("ldap", "map", "physics admins", "physics-admins", stdout=StringIO())
    call_command("ldap", "unmap", uni_group("physics-admins").upper(), stdout=(out := StringIO()))
    assert "removed 1 mapping" in out.getvalue() and not LDAPGroupMapping.objects.exists()


def test_cmdb_ldap_accounts_and_the_admin_page(campus: slapd.Slapd) -> None:
    logged_in("bob")
    out = StringIO()
    call_command("ldap", "accounts", stdout=out)
    assert out.getvalue().startswith("bob\tactive\t") and f"uid=bob,ou=people,{UNI}" in out.getvalue()
    mapping(uni_group("chemistry-admins"), faculty("Chemistry"))
    admin = get_user_model().objects.create_superuser("root", password="root-pw-12345678")
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/users/ldapgroupmapping/")
    assert page.status_code == 200 and "cn=chemistry-admins,ou=groups,dc=uni,dc=example" in page.content.decode()


def test_cmdb_ldap_says_when_campus_logins_are_off(settings: Any) -> None:
    settings.LDAP_ENABLED = False
    with pytest.raises(CommandError, match="LDAP_SERVER_URI"):
        call_command("ldap", "sync", stdout=StringIO())
