"""The shared cache works against a real Redis server (CI runs one on 127.0.0.1:6379).

Several web processes share the rendered OpenAPI schema through it, so the
first worker's generation serves every other worker.
"""

from __future__ import annotations

import os

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return client


@pytest.mark.django_db
def test_schema_is_shared_through_redis(api):
    client = _redis_or_skip()
    prefix = f"cmdbtest{os.getpid()}"
    cache_conf = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                              "KEY_PREFIX": prefix}}
    from cmdb.api.views import CachedSchemaView

    with override_settings(CACHES=cache_conf):
        try:
            CachedSchemaView._memo.clear()
            r = api.get("/api/schema/?format=json")
            assert r.status_code == 200
            keys = [k.decode() for k in client.scan_iter(f"{prefix}:*openapi*json")]
            assert keys, "the rendered schema was not stored in Redis"
            stored = caches["default"].get(keys[0].split(":", 2)[-1])
            assert stored == r.content
            # A "second worker" (empty process memo) is served from Redis.
            CachedSchemaView._memo.clear()
            r2 = api.get("/api/schema/?format=json")
            assert r2.content == r.content
        finally:
            for k in client.scan_iter(f"{prefix}:*"):
                client.delete(k)
            CachedSchemaView._memo.clear()
