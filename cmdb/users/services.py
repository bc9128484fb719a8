"""Token and account services shared by the CLI, the API and the web UI.

Two entry points create tokens.  :func:`token_create` is the operator's (``cmdb token create``,
``cmdb setup``): it checks the token's own data only.  :func:`token_issue` and
:func:`token_update` are what a signed-in person calls through the API or the web UI; they
also decide whether *this* caller may hand out *this* token:

- only an administrator (superuser) issues or changes tokens of other users;
- a read-write token only for someone who may write something (a token never grants more
  than its user's permissions, but a read-only person has no use for one);
- when the caller must use a second factor, only from a session that completed it.  A
  token carries no second factor, so a token-authenticated request of such a user cannot
  create tokens either: otherwise one leaked token could mint fresh ones forever.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from cmdb.core.context import change_logging

from .models import Token, validate_future
from .networks import parse_network

#: Fields whose change widens or prolongs what a token can do; changing them counts as issuing it anew.
GRANT_FIELDS = ("write_enabled", "expires", "allowed_ips")


class TokenRefused(PermissionDenied):
    """The caller may not issue this token; ``code`` names the reason for API clients."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _expiry_checked(expires: dt.datetime | None) -> None:
    try:
        validate_future(expires)
    except ValidationError as exc:
        raise ValidationError({"expires": exc.messages}) from exc


def token_create(*, user: Any, write_enabled: bool = False, expires: dt.datetime | None = None,
                 description: str = "", allowed_ips: list[str] | None = None, actor: Any = None,
                 source: str = "users") -> tuple[Token, str]:
    """Create a token and return it with its key; the key is not stored and cannot be shown again."""
    _expiry_checked(expires)
    key = Token.generate_key()
    token = Token(user=user, write_enabled=write_enabled, expires=expires, description=description,
                  allowed_ips=allowed_ips or [])
    token.set_key(key)
    token.full_clean()
    with change_logging(user=actor or user, source=source):
        token.save()
    return token, key


def may_write_anything(user: Any) -> bool:
    """Superusers, and users holding any add, change or delete grant."""
    from .permissions import grants_for

    grants = grants_for(user)
    return grants.superuser or any(action in ("add", "change", "delete") for (_label, action) in grants.grants)


def token_check(*, actor: Any, owner: Any, write_enabled: bool, second_factor: bool) -> None:
    """Raise :class:`TokenRefused` unless ``actor`` may issue a token with these powers for ``owner``.

    ``second_factor`` says whether the request comes from a session verified with the second factor
    (:func:`cmdb.users.authentication.second_factor_verified`).
    """
    from cmdb.ui.mfa import mfa_required

    admin = bool(actor.is_superuser and actor.is_active)
    if owner.pk != actor.pk and not admin:
        raise TokenRefused("You may only manage your own tokens.", "not_owner")
    if mfa_required(actor) and not second_factor:
        raise TokenRefused(
            "Your account must use two-factor authentication: tokens can only be created or widened from a web "
            "session that completed it (log in at /login/ with your code), not with another token.",
            "mfa_required",
        )
    if write_enabled and not admin and not may_write_anything(owner):
        raise TokenRefused("You may not write anything, so your tokens can only be read-only.", "read_only_user")


def token_issue(*, actor: Any, second_factor: bool, user: Any | None = None, write_enabled: bool = False,
                expires: dt.datetime | None = None, description: str = "", allowed_ips: list[str] | None = None,
                source: str = "api") -> tuple[Token, str]:
    """A token that a signed-in person creates for themselves (or an administrator for anyone)."""
    owner = user or actor
    token_check(actor=actor, owner=owner, write_enabled=write_enabled, second_factor=second_factor)
    return token_create(user=owner, write_enabled=write_enabled, expires=expires, description=description,
                        allowed_ips=allowed_ips, actor=actor, source=source)


def _widens(token: Token, changes: dict[str, Any]) -> bool:
    """Whether the changes let the token do more or for longer (turning writes on, a later or no expiry,
    networks beyond the current ones); narrowing a token needs no more than owning it."""
    if changes.get("write_enabled") and not token.write_enabled:
        return True
    if "expires" in changes and token.expires is not None:
        new = changes["expires"]
        if new is None or new > token.expires:
            return True
    if "allowed_ips" in changes and token.allowed_ips:
        return not _within(changes["allowed_ips"] or [], token.allowed_ips)
    return False


def _within(networks: list[str], allowed: list[str]) -> bool:
    """Whether every network lies inside one of the allowed ones (an empty list means "anywhere")."""
    if not networks:
        return False
    try:
        inner = [parse_network(n) for n in networks]
        outer = [parse_network(n) for n in allowed]
    except ValueError:
        return False  # validation names the bad network; it does not count as narrowing
    return all(any(i.version == o.version and i.subnet_of(o) for o in outer) for i in inner)  # type: ignore[arg-type]


def token_update(token: Token, changes: dict[str, Any], *, actor: Any, second_factor: bool,
                 source: str = "api") -> Token:
    """Change a token's description, write flag, expiry or networks; its owner and key never change."""
    changes = {k: v for k, v in changes.items() if k in ("description", *GRANT_FIELDS)}
    if "expires" in changes and changes["expires"] != token.expires:
        _expiry_checked(changes["expires"])
    if _widens(token, changes):
        write_enabled = bool(changes.get("write_enabled", token.write_enabled))
        token_check(actor=actor, owner=token.user, write_enabled=write_enabled, second_factor=second_factor)
    elif token.user_id != actor.pk and not actor.is_superuser:
        raise TokenRefused("You may only manage your own tokens.", "not_owner")
    for key, value in changes.items():
        setattr(token, key, value)
    token.full_clean()
    with change_logging(user=actor, source=source):
        token.save()
    return token


def token_revoke(tokens: list[Token], *, actor: Any, source: str = "api") -> int:
    """Delete tokens; revoking never needs a second factor, it only takes access away."""
    if not actor.is_superuser and any(t.user_id != actor.pk for t in tokens):
        raise TokenRefused("You may only manage your own tokens.", "not_owner")
    with change_logging(user=actor, source=source), transaction.atomic():
        for token in tokens:
            token.delete()
    return len(tokens)


def admin_ensure(username: str, email: str, password: str) -> tuple[Any, bool]:
    """Create a superuser unless one with that name exists; returns (user, created)."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None:
            return user, False
        return User.objects.create_superuser(username=username, email=email, password=password), True
