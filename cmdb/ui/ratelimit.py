"""Login throttling that every web process agrees on (``CACHES["shared"]``: Redis, or the database).

Two counters per attempt: one per (username, client IP), so that one attacker cannot lock a
user out from everywhere, and one per IP (four times the per-user limit), so that a password
spray over many user names is slowed down too.  A counter's window of
``LOGIN_FAILURE_WINDOW`` seconds starts with its first attempt.

An attempt **reserves** its place before the password is checked, with one atomic increment
(:meth:`cmdb.core.cache.SharedDatabaseCache.hit`): checking the count first and recording the
failure afterwards would let every parallel request pass the check before any had recorded
anything.  So however many attempts arrive at once, at most ``LOGIN_FAILURE_LIMIT`` of them
are evaluated; the rest are answered 429 without looking at the password.  A successful
attempt hands its places back (the user's counter is cleared, the IP's decremented), so
that people who log in correctly behind one NAT address do not use up the per-IP budget.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from cmdb.users.authentication import client_address


def _cache() -> Any:
    return caches["shared"]


def _keys(request: HttpRequest, username: str) -> tuple[str, str]:
    ip = client_address(request) or "unknown"
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()[:32]
    return f"login-attempts:user:{digest}", f"login-attempts:ip:{ip}"


def _limits() -> tuple[int, int, int]:
    per_user = getattr(settings, "LOGIN_FAILURE_LIMIT", 5)
    return per_user, per_user * 4, getattr(settings, "LOGIN_FAILURE_WINDOW", 900)


def _hit(key: str, delta: int, window: int) -> int:
    cache = _cache()
    hit = getattr(cache, "hit", None)
    if hit is not None:
        return int(hit(key, delta, window))
    # Another configured backend: add() and incr() are atomic on memcached and in one process.
    if cache.add(key, delta, window):
        return delta
    try:
        return int(cache.incr(key, delta))
    except ValueError:  # expired between add and incr
        cache.add(key, delta, window)
        return delta


def attempt(request: HttpRequest, username: str) -> bool:
    """Reserve one attempt for this user name from this address; False means "too many, answer 429"."""
    user_key, ip_key = _keys(request, username)
    per_user, per_ip, window = _limits()
    if _hit(user_key, 1, window) > per_user:
        return False
    if _hit(ip_key, 1, window) > per_ip:
        _hit(user_key, -1, window)  # not evaluated, so not counted against the user
        return False
    return True


def succeeded(request: HttpRequest, username: str, attempts: int = 1) -> None:
    """The login is complete: forget the user's failures and give the address back the places of the
    ``attempts`` right answers (the password, and the code when there was a second step).

    Not called after a right password that still needs a code: clearing then would give whoever
    knows the password a fresh budget of code guesses with every password entry.
    """
    user_key, ip_key = _keys(request, username)
    _cache().delete(user_key)
    _hit(ip_key, -attempts, _limits()[2])
