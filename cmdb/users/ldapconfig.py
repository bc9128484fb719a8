"""Campus logins (LDAP / Active Directory): the environment turned into django-auth-ldap's settings.

Nothing is enabled unless ``LDAP_SERVER_URI`` is set; then :func:`ldap_settings` returns the
settings that ``cmdb/settings.py`` merges in (and tests apply the same way).  It is imported by
the settings, so it reads only the environment and python-ldap's constants, never a model.

Secure by default, because a login form that sends campus passwords is worth attacking:

- the connection is encrypted: ``ldaps://``, or ``ldap://`` upgraded with StartTLS; a plain
  ``ldap://`` connection needs ``LDAP_START_TLS=false`` spelled out;
- the server certificate is verified (``LDAP_TLS_CA_FILE`` names the campus CA, else the
  system's store); ``LDAP_TLS_VERIFY=false`` exists for test rigs and says so in the docs;
- the service account's password is a reference (``env:NAME`` or ``file:/path``), never the
  password itself, so it sits in no environment dump or process listing;
- referrals are not chased (Active Directory hands out referrals to servers the CMDB was not
  told about, and python-ldap would follow them with an anonymous bind).

A mistake here stops the start with :class:`django.core.exceptions.ImproperlyConfigured` naming
the variable, like every other setting: a login that silently falls back to "no LDAP" would
lock the campus out with no hint why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import reduce
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from cmdb.core import secrets
from cmdb.core.secrets import SecretPolicy

#: The local accounts' backend always comes first: see :mod:`cmdb.users.ldapbackend` for why.
LOCAL_BACKEND = "django.contrib.auth.backends.ModelBackend"
LDAP_BACKEND = "cmdb.users.ldapbackend.CampusLDAPBackend"

#: ``LDAP_GROUP_TYPE`` → (django-auth-ldap class, default group filter).
GROUP_TYPES = {
    "groupOfNames": ("GroupOfNamesType", "(objectClass=groupOfNames)"),
    "nestedGroupOfNames": ("NestedGroupOfNamesType", "(objectClass=groupOfNames)"),
    "groupOfUniqueNames": ("GroupOfUniqueNamesType", "(objectClass=groupOfUniqueNames)"),
    "posixGroup": ("PosixGroupType", "(objectClass=posixGroup)"),
    "activeDirectory": ("ActiveDirectoryGroupType", "(objectClass=group)"),
    "nestedActiveDirectory": ("NestedActiveDirectoryGroupType", "(objectClass=group)"),
}
#: Separates several group DNs in one variable (a DN contains commas; ``|`` needs no escaping in one).
DN_SEPARATOR = "|"


def _fail(name: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name}: {problem}")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise _fail(name, f"say true or false, not {value!r}")


#: The bind password is named by the operator in the environment, never by a record, so any variable
#: or absolute file path is acceptable (no purpose word, no folder restriction).
BIND_PASSWORD = SecretPolicy(purpose="the LDAP bind password", schemes=("env", "file"), file_dirs=())


def resolve_secret(reference: str, *, name: str, env: Mapping[str, str] | None = None) -> str:
    """The secret a reference names: ``env:NAME`` (another variable) or ``file:/path`` (its first line).

    A bare value is refused: it would be the secret itself, visible wherever the environment is.
    """
    try:
        return secrets.resolve(reference, BIND_PASSWORD, environ=os.environ if env is None else env)
    except secrets.SecretUnavailable as exc:
        raise _fail(name, str(exc)) from None


def _dn(value: str, name: str) -> str:
    import ldap.dn

    value = value.strip()
    if not value or not ldap.dn.is_dn(value):
        raise _fail(name, f"{value!r} is not a distinguished name (e.g. cn=cmdb-admins,ou=groups,dc=uni,dc=example)")
    return value


def _dns(env: Mapping[str, str], name: str) -> list[str]:
    return [_dn(part, name) for part in env.get(name, "").split(DN_SEPARATOR) if part.strip()]


def _any_of(dns: list[str]) -> Any:
    """One DN, or an LDAPGroupQuery that holds for members of any of them."""
    from django_auth_ldap.config import LDAPGroupQuery

    return reduce(lambda a, b: a | b, (LDAPGroupQuery(dn) for dn in dns))


def _uris(value: str) -> list[str]:
    uris = value.split()
    for uri in uris:
        if not uri.lower().startswith(("ldap://", "ldaps://")):
            raise _fail("LDAP_SERVER_URI", f"{uri!r}: use ldaps://host or ldap://host (with StartTLS)")
    return uris


def _connection_options(env: Mapping[str, str], *, tls: bool) -> dict[int, Any]:
    """Per-connection options; the TLS context is rebuilt last (``OPT_X_TLS_NEWCTX``) so they take effect."""
    import ldap

    try:
        timeout = float(env.get("LDAP_TIMEOUT", "5"))
    except ValueError:
        raise _fail("LDAP_TIMEOUT", "seconds, e.g. 5") from None
    if timeout <= 0:
        raise _fail("LDAP_TIMEOUT", "must be positive")
    options: dict[int, Any] = {
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
    }
    if tls:
        verify = _bool(env, "LDAP_TLS_VERIFY", True)
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND if verify else ldap.OPT_X_TLS_NEVER
        ca_file = env.get("LDAP_TLS_CA_FILE", "").strip()
        if ca_file:
            if not Path(ca_file).is_file():
                raise _fail("LDAP_TLS_CA_FILE", f"{ca_file} is not a readable file")
            options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_NEWCTX] = 0
    return options


def ldap_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Django settings for campus logins from ``env`` (the process environment by default).

    Without ``LDAP_SERVER_URI``: only the local accounts' backend and ``LDAP_ENABLED = False``.
    """
    env = os.environ if env is None else env
    server = env.get("LDAP_SERVER_URI", "").strip()
    if not server:
        return {"LDAP_ENABLED": False, "AUTHENTICATION_BACKENDS": [LOCAL_BACKEND]}

    try:
        import ldap
        from django_auth_ldap import config as dal
    except ImportError:
        raise _fail("LDAP_SERVER_URI", "campus logins need the ldap extra: pip install -e '.[ldap]' (python-ldap "
                    "builds against Debian's libldap-dev and libsasl2-dev)") from None

    uris = _uris(server)
    all_ldaps = all(u.lower().startswith("ldaps://") for u in uris)
    start_tls = False if all_ldaps else _bool(env, "LDAP_START_TLS", True)
    if any(u.lower().startswith("ldaps://") for u in uris) and not all_ldaps:
        raise _fail("LDAP_SERVER_URI", "use either ldaps:// or ldap:// (StartTLS) for all servers, not both")
    out: dict[str, Any] = {
        "LDAP_ENABLED": True,
        "AUTHENTICATION_BACKENDS": [LOCAL_BACKEND, LDAP_BACKEND],
        "AUTH_LDAP_SERVER_URI": " ".join(uris),
        "AUTH_LDAP_START_TLS": start_tls,
        "AUTH_LDAP_CONNECTION_OPTIONS": _connection_options(env, tls=all_ldaps or start_tls),
        # Every login reads the directory afresh: membership changes count at the next login.
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        "AUTH_LDAP_FIND_GROUP_PERMS": False,
        "AUTH_LDAP_MIRROR_GROUPS": None,  # our mapping (cmdb.users.directory) decides local groups
    }

    bind_dn = env.get("LDAP_BIND_DN", "").strip()
    out["AUTH_LDAP_BIND_DN"] = _dn(bind_dn, "LDAP_BIND_DN") if bind_dn else ""
    reference = env.get("LDAP_BIND_PASSWORD", "").strip()
    if bind_dn and not reference:
        raise _fail("LDAP_BIND_PASSWORD", "LDAP_BIND_DN is set: give its password as env:NAME or file:/path")
    out["AUTH_LDAP_BIND_PASSWORD"] = resolve_secret(reference, name="LDAP_BIND_PASSWORD", env=env) if reference else ""

    base = env.get("LDAP_USER_SEARCH_BASE", "").strip()
    if not base:
        raise _fail("LDAP_USER_SEARCH_BASE", "where users are searched, e.g. ou=people,dc=uni,dc=example")
    user_filter = env.get("LDAP_USER_SEARCH_FILTER", "(uid=%(user)s)").strip()
    if "%(user)s" not in user_filter or not (user_filter.startswith("(") and user_filter.endswith(")")):
        raise _fail("LDAP_USER_SEARCH_FILTER", "an LDAP filter with %(user)s, e.g. (uid=%(user)s) or "
                    "(sAMAccountName=%(user)s)")
    out["AUTH_LDAP_USER_SEARCH"] = dal.LDAPSearch(_dn(base, "LDAP_USER_SEARCH_BASE"), ldap.SCOPE_SUBTREE, user_filter)
    out["AUTH_LDAP_USER_ATTR_MAP"] = {
        field: attr for field, attr in (
            ("first_name", env.get("LDAP_ATTR_FIRST_NAME", "givenName").strip()),
            ("last_name", env.get("LDAP_ATTR_LAST_NAME", "sn").strip()),
            ("email", env.get("LDAP_ATTR_EMAIL", "mail").strip()),
        ) if attr
    }

    group_base = env.get("LDAP_GROUP_SEARCH_BASE", "").strip()
    group_vars = ("LDAP_REQUIRE_GROUP", "LDAP_DENY_GROUP", "LDAP_SUPERUSER_GROUPS", "LDAP_STAFF_GROUPS")
    if group_base:
        kind = env.get("LDAP_GROUP_TYPE", "groupOfNames").strip()
        if kind not in GROUP_TYPES:
            raise _fail("LDAP_GROUP_TYPE", f"{kind!r}: one of {', '.join(GROUP_TYPES)}")
        class_name, default_filter = GROUP_TYPES[kind]
        group_filter = env.get("LDAP_GROUP_SEARCH_FILTER", "").strip() or default_filter
        out["AUTH_LDAP_GROUP_SEARCH"] = dal.LDAPSearch(_dn(group_base, "LDAP_GROUP_SEARCH_BASE"), ldap.SCOPE_SUBTREE,
                                                       group_filter)
        out["AUTH_LDAP_GROUP_TYPE"] = getattr(dal, class_name)()
    elif any(env.get(name, "").strip() for name in group_vars):
        raise _fail("LDAP_GROUP_SEARCH_BASE", f"needed by {', '.join(n for n in group_vars if env.get(n))}")

    required = _dns(env, "LDAP_REQUIRE_GROUP")
    out["AUTH_LDAP_REQUIRE_GROUP"] = _any_of(required) if required else None
    denied = env.get("LDAP_DENY_GROUP", "").strip()
    out["AUTH_LDAP_DENY_GROUP"] = _dn(denied, "LDAP_DENY_GROUP") if denied else None
    flags = {field: _dns(env, name) for field, name in (("is_superuser", "LDAP_SUPERUSER_GROUPS"),
                                                        ("is_staff", "LDAP_STAFF_GROUPS"))}
    out["AUTH_LDAP_USER_FLAGS_BY_GROUP"] = {field: _any_of(dns) for field, dns in flags.items() if dns}
    return out
