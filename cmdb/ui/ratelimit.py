"""Failed-login throttling in the shared cache (Redis in production, so all web processes agree).

Two counters per attempt: one per (username, client IP), so one attacker cannot lock
a user out from everywhere, and one per IP, so a password spray over many user names
is slowed down too.  Counters expire ``LOGIN_FAILURE_WINDOW`` seconds after the first failure.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _keys(request: HttpRequest, username: str) -> tuple[str, str]:
    ip = _client_ip(request)
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()[:32]
    return f"ui:login-fail:user:{digest}", f"ui:login-fail:ip:{ip}"


def _limits() -> tuple[int, int, int]:
    per_user = getattr(settings, "LOGIN_FAILURE_LIMIT", 5)
    return per_user, per_user * 4, getattr(settings, "LOGIN_FAILURE_WINDOW", 900)


def is_blocked(request: HttpRequest, username: str) -> bool:
    user_key, ip_key = _keys(request, username)
    per_user, per_ip, _window = _limits()
    counts = cache.get_many([user_key, ip_key])
    return counts.get(user_key, 0) >= per_user or counts.get(ip_key, 0) >= per_ip


def record_failure(request: HttpRequest, username: str) -> None:
    _per_user, _per_ip, window = _limits()
    for key in _keys(request, username):
        if not cache.add(key, 1, window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, window)


def reset(request: HttpRequest, username: str) -> None:
    cache.delete(_keys(request, username)[0])
