"""Token authentication with NetBox's header (``Token <key>``) or ``Bearer <key>``.

A request that carries such a header is decided by the token alone: the session guard
(:mod:`cmdb.ui.middleware`) leaves it to this class, and a wrong key is refused here rather
than falling back to the session cookie.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from cmdb.core import rawload

from .models import Token, hash_key
from .networks import normalise_address

_LAST_USED_GRACE = dt.timedelta(minutes=1)
KEYWORDS = ("token", "bearer")


def client_address(request: Any) -> str | None:
    """The peer's address, IPv4-mapped IPv6 (``::ffff:10.0.0.5``) reported as IPv4."""
    return normalise_address(request.META.get("REMOTE_ADDR"))


def has_token_header(request: Any) -> bool:
    """Whether the request names a token, so that :class:`TokenAuthentication` alone decides who it is."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split(None, 1)
    return bool(parts) and parts[0].lower() in KEYWORDS


def second_factor_verified(request: Any) -> bool:
    """Whether the request comes from a session that completed the second factor.

    A token carries no second factor, whatever its user did when logging in elsewhere; a
    session is verified once django-otp's login step ran for it (login code or enrolment).
    """
    if isinstance(getattr(request, "auth", None), Token):
        return False
    user = getattr(request, "user", None)
    is_verified = getattr(user, "is_verified", None)
    return bool(callable(is_verified) and is_verified())


def token_with_user(digest: str) -> Token | None:
    """The token with this key digest and its user, from one hand-written query.

    Every API request runs this; the equivalent ``select_related(...).first()`` spent
    more time compiling the query in the ORM than PostgreSQL spent answering it.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    user_model = get_user_model()
    q = connection.ops.quote_name
    sql = (f"SELECT {rawload.columns(Token, 't')}, {rawload.columns(user_model, 'u')} "  # noqa: S608 - model names
           f"FROM {q(Token._meta.db_table)} t JOIN {q(user_model._meta.db_table)} u "
           f"ON u.{q(user_model._meta.pk.column)} = t.{q('user_id')} WHERE t.{q('key_digest')} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    n = rawload.width(Token)
    token = rawload.build(Token, row[:n])
    token.user = rawload.build(user_model, row[n:])
    return token


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = KEYWORDS

    def authenticate(self, request: Any) -> tuple[Any, Token] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        token = token_with_user(hash_key(parts[1]))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("Token expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        if not token.allows_address(client_address(request)):
            raise exceptions.AuthenticationFailed("Token not allowed from this address.")
        now = timezone.now()
        if token.last_used is None or now - token.last_used > _LAST_USED_GRACE:
            # Throttled, and a plain UPDATE: usage stamps are not change-logged.
            Token.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Token"
