"""Token and account services shared by the CLI, the API and the web UI."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from cmdb.core.context import change_logging

from .models import Token


def token_create(*, user: Any, write_enabled: bool = False, expires: dt.datetime | None = None,
                 description: str = "", allowed_ips: list[str] | None = None, actor: Any = None) -> tuple[Token, str]:
    """Create a token and return it with its key; the key is not stored and cannot be shown again."""
    key = Token.generate_key()
    token = Token(user=user, write_enabled=write_enabled, expires=expires, description=description,
                  allowed_ips=allowed_ips or [])
    token.set_key(key)
    token.full_clean()
    with change_logging(user=actor or user, source="users"):
        token.save()
    return token, key


def admin_ensure(username: str, email: str, password: str) -> tuple[Any, bool]:
    """Create a superuser unless one with that name exists; returns (user, created)."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None:
            return user, False
        return User.objects.create_superuser(username=username, email=email, password=password), True
