"""The campus-login backend: django-auth-ldap with the CMDB's rules around it.

**Order: local accounts first.**  ``AUTHENTICATION_BACKENDS`` lists Django's ``ModelBackend``
before this one (:mod:`cmdb.users.ldapconfig`), so

- the local administrators (``cmdb setup``'s ``admin``, break-glass accounts) log in when the
  directory is down or misconfigured — the moment they are needed most;
- a directory account of the same name never shadows or takes over a local account: this
  backend refuses every name that belongs to a local user without a
  :class:`~cmdb.users.models.DirectoryAccount`, whatever password the directory accepts;
- directory accounts have no usable local password, so the local backend never lets them in.

**Errors say what happened.**  django-auth-ldap swallows directory errors and answers "no such
user", which would send people hunting for a typo while the server is down.  Here every
directory error (unreachable, timeout, TLS refused, the service account refused) raises
:class:`DirectoryUnavailable`, which the login page shows as such (503) and logs in full.

**Inactive stays inactive.**  django-auth-ldap would log in and restore sessions of deactivated
users; this backend refuses them, like the local backend, unless a sync had suspended the
account because the directory lost it (:mod:`cmdb.users.directory`) and the directory now
vouches for it again.
"""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.dispatch import receiver
from django_auth_ldap.backend import LDAPBackend, _LDAPUser, ldap_error
from django_auth_ldap.config import LDAPGroupQuery

from .directory import DirectoryUnavailable, record_login

__all__ = ["CampusLDAPBackend", "DirectoryUnavailable", "directory_fields", "group_dns", "qualifies"]

logger = logging.getLogger("cmdb.users.ldap")


def _describe(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    parts = [type(exc).__name__, str(info.get("desc", "")), str(info.get("info", ""))]
    return ": ".join(p for p in parts if p)


@receiver(ldap_error)
def _raise_directory_errors(sender: Any, context: str, user: Any, request: Any, exception: Exception,
                            **kwargs: Any) -> None:
    """django-auth-ldap reports directory errors through this signal and then carries on as if the user did
    not exist; for our backend, raise instead (the exception leaves ``authenticate()``)."""
    if not (isinstance(sender, type) and issubclass(sender, CampusLDAPBackend)):
        return
    logger.error("LDAP error %s: %s", context, _describe(exception) if isinstance(exception, ldap.LDAPError)
                 else exception)
    raise DirectoryUnavailable(_describe(exception)) from exception


class CampusLDAPBackend(LDAPBackend):
    """django-auth-ldap configured from the environment (:mod:`cmdb.users.ldapconfig`); see the module doc."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        if not username or not password:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[Any, bool]:
        """Called once the directory accepted the password and the group rules, before the user is saved."""
        from .models import DirectoryAccount

        user, built = super().get_or_build_user(username, ldap_user)
        if not built and not DirectoryAccount.objects.filter(user=user).exists():
            logger.warning("LDAP: %r is a local account; the directory's account of that name may not use it",
                           user.get_username())
            raise ldap_user.AuthenticationFailed("the name belongs to a local account")
        # Read the groups now, before django-auth-ldap saves a new user: a directory error here must not leave
        # a local user without its DirectoryAccount (the next login would take it for a local account).
        group_dns(ldap_user)
        return user, built

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        """The password was right and the group rules hold: record the login and set the local groups."""
        from .models import DirectoryAccount

        user = ldap_user.authenticate(password)
        if user is None:
            return None
        account = DirectoryAccount.objects.filter(user=user).first()
        if not user.is_active and (account is None or account.suspended is None):
            logger.info("LDAP: %s is deactivated in the CMDB; login refused", user.get_username())
            return None
        record_login(user, dn=ldap_user.dn, group_dns=group_dns(ldap_user))  # groups read above, cached
        return user

    def get_user(self, user_id: Any) -> Any:
        """Sessions of deactivated users end, as with the local backend."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def lookup(self, username: str) -> Any:
        """The directory's entry for ``username`` found with the service account, or None; no password,
        no database write (for :func:`cmdb.users.directory.sync_accounts` and ``cmdb ldap check``)."""
        ldap_user = _LDAPUser(self, username=username)  # django-auth-ldap's per-user view of the directory
        return ldap_user if ldap_user.dn is not None else None


def group_dns(ldap_user: Any) -> list[str] | None:
    """The entry's group DNs (cached on ``ldap_user`` by django-auth-ldap); None without a group search."""
    if ldap_user.settings.GROUP_SEARCH is None:
        return None
    try:
        return list(ldap_user.group_dns)
    except ldap.LDAPError as exc:
        logger.error("LDAP error reading groups: %s", _describe(exc))
        raise DirectoryUnavailable(_describe(exc)) from exc


def qualifies(ldap_user: Any) -> bool:
    """Whether the entry meets ``LDAP_REQUIRE_GROUP`` and ``LDAP_DENY_GROUP`` (what a login checks too)."""
    settings = ldap_user.settings
    try:
        required = settings.REQUIRE_GROUP
        if required is not None and not _query(required).resolve(ldap_user):
            return False
        denied = settings.DENY_GROUP
        return not (denied is not None and _query(denied).resolve(ldap_user))
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable(_describe(exc)) from exc


def _query(value: Any) -> LDAPGroupQuery:
    return value if isinstance(value, LDAPGroupQuery) else LDAPGroupQuery(value)


def directory_fields(ldap_user: Any) -> dict[str, Any]:
    """The user fields the directory decides (names, e-mail, superuser/staff), as a login would set them."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    settings = ldap_user.settings
    values: dict[str, Any] = {}
    attrs = ldap_user.attrs or {}
    for field, attr in settings.USER_ATTR_MAP.items():
        found = attrs.get(attr)
        if found:
            limit = model._meta.get_field(field).max_length
            values[field] = found[0][:limit] if limit else found[0]
    try:
        for field, query in settings.USER_FLAGS_BY_GROUP.items():
            values[field] = bool(_query(query).resolve(ldap_user))
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable(_describe(exc)) from exc
    return values
