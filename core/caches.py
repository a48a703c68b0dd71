"""Django's caches, storing JSON instead of pickle.

Django's RedisCache and DatabaseCache pickle every value (but RedisCache's
integers), and unpickling runs whatever code the pickle names. Anything
that can write to Redis or to the cache table (a runbook on the host
network, one that escapes its sandbox, a stolen database login) could then
run code in every web and worker process. Here every value is JSON: a value
that is not (a pickle planted under one of our keys, an entry left by an
older Steward) is a miss, logged as a warning and deleted, never loaded.

Every value Steward caches is JSON already: counters (ints), tokens and
PEM text (str). A value json cannot write (bytes, a set, a datetime, a
model) raises TypeError when it is set: a bug to fix at the caller.
Tuples come back as lists.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db import DatabaseError, connections, models, router, transaction
from django.utils.timezone import now as tz_now

log = logging.getLogger(__name__)


class Unreadable(ValueError):
    """A stored value that is not JSON."""


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def loads(data: bytes | str):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise Unreadable from None


def _refused(key: str) -> None:
    log.warning("cache key %r holds a value that is not JSON: treated as a miss and deleted, never loaded", key)


# --- Redis --------------------------------------------------------------------


class JSONSerializer:
    """For RedisCacheClient: integers stay bare numbers, so that Redis's
    INCR (cache.incr, the webhook's rate limit) works on them; everything
    else is JSON text."""

    def dumps(self, obj):
        if type(obj) is int:  # not bool: True must come back as True
            return obj
        return dumps(obj).encode()

    def loads(self, data):
        try:
            return int(data)
        except ValueError:
            return loads(data)


# Deletes the key only if it still holds the value we refused: a writer
# that replaced it meanwhile keeps its value.
_DELETE_IF_SAME = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class _JSONRedisCacheClient(RedisCacheClient):
    def get(self, key, default):
        value = self.get_client(key).get(key)
        if value is None:
            return default
        try:
            return self._serializer.loads(value)
        except Unreadable:
            self._refuse(key, value)
            return default

    def get_many(self, keys):
        keys = list(keys)
        found = {}
        for key, value in zip(keys, self.get_client(None).mget(keys), strict=True):
            if value is None:
                continue
            try:
                found[key] = self._serializer.loads(value)
            except Unreadable:
                self._refuse(key, value)
        return found

    def _refuse(self, key, value) -> None:
        _refused(key)
        try:
            self.get_client(key, write=True).eval(_DELETE_IF_SAME, 1, key, value)
        except Exception:  # the warning is what matters; the entry expires or is overwritten
            log.warning("cache key %r: the refused value could not be deleted", key, exc_info=True)


class RedisCache(DjangoRedisCache):
    """Django's RedisCache with JSONSerializer, whatever OPTIONS say."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _JSONRedisCacheClient
        self._options = {**self._options, "serializer": JSONSerializer}


# --- Database -------------------------------------------------------------------


class DatabaseCache(DjangoDatabaseCache):
    """Django's DatabaseCache (Django 5.2) with the value column holding
    JSON text where Django keeps base64 of a pickle. get_many and _base_set
    are Django's own, with only the encoding changed: Django pickles inline
    there, with no hook to replace. Table and column names are quoted by
    the connection; every value is a query parameter."""

    def _names(self, connection) -> tuple[str, str, str, str]:
        quote = connection.ops.quote_name
        return quote(self._table), quote("cache_key"), quote("value"), quote("expires")

    def get_many(self, keys, version=None):
        if not keys:
            return {}
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        db = router.db_for_read(self.cache_model_class)
        connection = connections[db]
        table, key_col, value_col, expires_col = self._names(connection)
        placeholders = ", ".join(["%s"] * len(key_map))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {key_col}, {value_col}, {expires_col} FROM {table} WHERE {key_col} IN ({placeholders})",
                list(key_map),
            )
            rows = cursor.fetchall()
        result = {}
        expired_keys = []
        expression = models.Expression(output_field=models.DateTimeField())
        converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        for key, value, expires in rows:
            for converter in converters:
                expires = converter(expires, expression, connection)
            if expires < tz_now():
                expired_keys.append(key)
                continue
            value = connection.ops.process_clob(value)
            try:
                result[key_map.get(key)] = loads(value)
            except Unreadable:
                _refused(key)
                self._delete_if_same(key, value)
        self._base_delete_many(expired_keys)
        return result

    def _delete_if_same(self, key, value) -> None:
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table, key_col, value_col, _ = self._names(connection)
        try:
            with transaction.atomic(using=db), connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE {key_col} = %s AND {value_col} = %s", [key, value])
        except DatabaseError:
            log.warning("cache key %r: the refused value could not be deleted", key, exc_info=True)

    def _base_set(self, mode, key, value, timeout=DEFAULT_TIMEOUT):
        timeout = self.get_backend_timeout(timeout)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table, key_col, value_col, expires_col = self._names(connection)
        # Encoded first: a value JSON cannot hold fails before any write.
        encoded = dumps(value)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            num = cursor.fetchone()[0]
            now = tz_now().replace(microsecond=0)
            if timeout is None:
                exp = datetime.max
            else:
                exp = datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None)
            exp = exp.replace(microsecond=0)
            if num > self._max_entries:
                self._cull(db, cursor, now, num)
            try:
                with transaction.atomic(using=db):
                    cursor.execute(f"SELECT {key_col}, {expires_col} FROM {table} WHERE {key_col} = %s", [key])
                    result = cursor.fetchone()
                    if result:
                        current_expires = result[1]
                        expression = models.Expression(output_field=models.DateTimeField())
                        converters = connection.ops.get_db_converters(expression)
                        for converter in converters + expression.get_db_converters(connection):
                            current_expires = converter(current_expires, expression, connection)
                    exp = connection.ops.adapt_datetimefield_value(exp)
                    if result and mode == "touch":
                        cursor.execute(f"UPDATE {table} SET {expires_col} = %s WHERE {key_col} = %s", [exp, key])
                    elif result and (mode == "set" or (mode == "add" and current_expires < now)):
                        cursor.execute(
                            f"UPDATE {table} SET {value_col} = %s, {expires_col} = %s WHERE {key_col} = %s",
                            [encoded, exp, key],
                        )
                    elif mode != "touch":
                        cursor.execute(
                            f"INSERT INTO {table} ({key_col}, {value_col}, {expires_col}) VALUES (%s, %s, %s)",
                            [key, encoded, exp],
                        )
                    else:
                        return False  # touch failed
            except DatabaseError:
                # As in Django: to be thread-safe, a write may fail silently.
                return False
            return True
