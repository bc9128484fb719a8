"""The cache that every web process shares, with an atomic counter.

``CACHES["shared"]`` is Redis when ``REDIS_URL`` is set and the database otherwise, so that
several gunicorn workers (or machines) agree on what it holds.  Login throttling counts
attempts in it, and a count must not lose increments when attempts arrive in parallel:
Django's ``incr()`` on the database cache is a read followed by a write, so both backends
here add :meth:`hit`, a single atomic step.
"""

from __future__ import annotations

import base64
import datetime as dt
import pickle
from typing import Any

from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, models, router, transaction
from django.utils import timezone

#: The database cache's table (created by the migration users.0002, so that no extra setup step is needed).
TABLE = "cmdb_cache"

# INCRBY (never below zero), and start the window's clock when the key is new: one round trip, atomic in Redis.
_REDIS_HIT = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL'); n = 0 end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


class SharedRedisCache(RedisCache):
    def hit(self, key: str, delta: int, window: int) -> int:
        """Add ``delta`` to the counter ``key`` (never below zero) and return the new value; a new counter
        lives ``window`` seconds."""
        full = self.make_and_validate_key(key)
        client = self._cache.get_client(full, write=True)
        return int(client.eval(_REDIS_HIT, 1, full, int(delta), max(1, int(window))))


class SharedDatabaseCache(DatabaseCache):
    def hit(self, key: str, delta: int, window: int) -> int:
        """Add ``delta`` to the counter ``key`` (never below zero) and return the new value; a new counter
        lives ``window`` seconds.

        The row is created if missing (``ON CONFLICT DO NOTHING``, PostgreSQL and SQLite alike), then
        locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write transactions are serial anyway),
        so concurrent hits queue up instead of overwriting each other.  The value stays in the
        database cache's own format, so ``get()`` reads it like any other entry.
        """
        full = self.make_and_validate_key(key)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        q = connection.ops.quote_name
        table = q(self._table)
        now = timezone.now().replace(microsecond=0)
        fresh_expiry = connection.ops.adapt_datetimefield_value(now + dt.timedelta(seconds=max(1, int(window))))
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({q('cache_key')}, {q('value')}, {q('expires')}) "  # noqa: S608 - quoted names
                f"VALUES (%s, %s, %s) ON CONFLICT ({q('cache_key')}) DO NOTHING",
                [full, self._encode(0), fresh_expiry],
            )
            if cursor.rowcount == 1:  # a new counter: a moment to drop the ones whose window is over
                cursor.execute(f"DELETE FROM {table} WHERE {q('expires')} < %s",  # noqa: S608 - quoted names
                               [connection.ops.adapt_datetimefield_value(now)])
            cursor.execute(
                f"SELECT {q('value')}, {q('expires')} FROM {table} WHERE {q('cache_key')} = %s{lock}",  # noqa: S608
                [full],
            )
            value, expires = cursor.fetchone()
            if self._to_datetime(connection, expires) < now:
                count, expiry = max(0, int(delta)), fresh_expiry  # the old window is over: start a new one
            else:
                count, expiry = max(0, self._decode(connection, value) + int(delta)), expires
            cursor.execute(
                f"UPDATE {table} SET {q('value')} = %s, {q('expires')} = %s "  # noqa: S608
                f"WHERE {q('cache_key')} = %s",
                [self._encode(count), expiry, full],
            )
        return count

    def _encode(self, value: int) -> str:
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")

    @staticmethod
    def _decode(connection: Any, value: Any) -> int:
        loaded = pickle.loads(base64.b64decode(connection.ops.process_clob(value).encode()))  # noqa: S301 - ours
        return loaded if isinstance(loaded, int) else 0

    @staticmethod
    def _to_datetime(connection: Any, value: Any) -> dt.datetime:
        expression = models.Expression(output_field=models.DateTimeField())
        for converter in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
            value = converter(value, expression, connection)
        return value

