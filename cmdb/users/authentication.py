"""Token authentication with NetBox's header (``Token <key>``) or ``Bearer <key>``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import Token, hash_key

_LAST_USED_GRACE = dt.timedelta(minutes=1)


def client_address(request: Any) -> str | None:
    return request.META.get("REMOTE_ADDR")


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request: Any) -> tuple[Any, Token] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        token = Token.objects.select_related("user").filter(key_digest=hash_key(parts[1])).first()
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
