"""Per-source protections of the webhook, kept in Django's cache so that
every web process shares them: the rate limit, and the delivery ids already
stored (a tool's retry of a delivery we have is stored once)."""

import hashlib
import logging
import math
import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)

WINDOW = 60  # seconds: rate limits are per minute, in fixed windows
DELIVERY_MEMORY = 24 * 3600  # how long a delivery id is remembered
_clock = time.time  # tests freeze it


def retry_after(source) -> int:
    """Count this request against the source's limit; 0 when it may go on,
    else the seconds until the next window (the 429's Retry-After)."""
    limit = source.rate_limit_per_minute
    if not limit:
        return 0
    now = _clock()
    window = int(now // WINDOW)
    key = f"steward:rate:{source.pk}:{window}"
    try:
        if _count(key) <= limit:
            return 0
    except Exception:  # the cache is down: an alert matters more than a limit
        log.warning("rate limit of source %s not checked: cache unavailable", source.slug, exc_info=True)
        return 0
    return max(1, math.ceil((window + 1) * WINDOW - now))


def _count(key: str) -> int:
    """Increment the window's counter and return it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _count_in_redis(backend, key)
    try:
        return cache.incr(key)  # incr first: the key exists for all but the first request of a window
    except ValueError:  # the window's first request
        # The key outlives its window a little, so a late incr never resets it.
        if cache.add(key, 1, timeout=2 * WINDOW):
            return 1
    try:
        return cache.incr(key)  # another process added it meanwhile
    except ValueError:
        return 1  # the cache lost the key again: let this request through


def _count_in_redis(backend: RedisCache, key: str) -> int:
    """One round trip: create the counter with its expiry if it is new
    (SET NX), then INCR it. Stored as Django's cache stores an int, so
    cache.get() and cache.incr() read the same counter."""
    key = backend.make_and_validate_key(key)
    client = backend._cache.get_client(key, write=True)
    pipe = client.pipeline(transaction=False)
    pipe.set(key, 0, ex=2 * WINDOW, nx=True)
    pipe.incr(key)
    return pipe.execute()[1]


def claim_delivery(source, delivery_id: str) -> bool:
    """Mark a delivery as ours; False when it was already claimed (a retry
    of a delivery we stored, or one being stored right now)."""
    key = _delivery_key(source, delivery_id)
    try:
        if cache.add(key, 1, timeout=DELIVERY_MEMORY):
            return True
        # add() can also fail without the key existing (the database cache
        # swallows a write error); storing twice beats dropping an alert.
        return cache.get(key) is None
    except Exception:  # the cache is down: storing twice beats dropping an alert
        log.warning("delivery %s of source %s not deduplicated: cache unavailable", delivery_id, source.slug)
        return True


def release_delivery(source, delivery_id: str) -> None:
    """Forget a claim whose events could not be stored, so the retry is."""
    try:
        cache.delete(_delivery_key(source, delivery_id))
    except Exception:
        log.warning("delivery %s of source %s: claim not released, cache unavailable", delivery_id, source.slug)


def _delivery_key(source, delivery_id: str) -> str:
    # Hashed: ids are the tool's text, and cache keys have a length limit.
    return f"steward:delivery:{source.pk}:{hashlib.sha256(delivery_id.encode()).hexdigest()[:40]}"
