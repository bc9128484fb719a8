"""Token authentication with NetBox's header (``Token <key>``) or ``Bearer <key>``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from cmdb.core import rawload

from .models import Token, hash_key

_LAST_USED_GRACE = dt.timedelta(minutes=1)


def client_address(request: Any) -> str | None:
    return request.META.get("REMOTE_ADDR")


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
    keywords = ("token", "bearer")

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
