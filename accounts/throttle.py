"""Login throttling: after STEWARD_LOGIN_FAILURES failed logins for one
username or from one address within STEWARD_LOGIN_WINDOW_SECONDS, further
attempts are refused until the window has passed, whatever the password.
Counted in Django's cache, which every web process shares (CACHE_URL).

- One username however it is spelt: the key is the NFKC-normalised,
  case-folded name, so full-width ADMIN (U+FF21...) and "Admin" count against "admin" (the
  login form applies NFKC itself, so they are the same account).
- The address is the client's, read through a trusted proxy's header
  (core/clients.py), so behind a proxy one guesser does not lock out all;
  an IPv6 client counts per /64, the block one site usually holds.
- An attempt takes its try before the password is checked (`attempt()`
  counts, then compares), with an increment that is atomic in every cache
  backend: twenty requests at once get the allowed number of tries, not
  twenty. A success gives its try back.
"""

import hashlib
import ipaddress
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction

from accounts.validation import canonical_username

log = logging.getLogger(__name__)


def _user_key(username: str) -> str:
    name = hashlib.sha256(canonical_username(username).encode()).hexdigest()[:32]
    return f"steward:login:user:{name}"


def _address_key(address: str) -> str:
    # An IPv6 client commonly holds a whole /64: counted per address, it
    # would get a fresh count for every guess.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"steward:login:addr:{address}"
    if ip.version == 6:
        return f"steward:login:addr:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"steward:login:addr:{ip}"


def _add(key: str, delta: int) -> int | None:
    """Add `delta` to the counter `key` and return the new value, atomically.
    A positive delta creates a missing counter, living one window from then;
    a negative one leaves a missing counter missing (None)."""
    cache = caches["default"]  # the backend itself: the module's `cache` is a proxy
    if isinstance(cache, DatabaseCache):
        return _add_in_database(cache, key, delta)
    return _add_in_cache(cache, key, delta)


def _add_in_cache(cache, key: str, delta: int) -> int | None:
    # add() creates the key only when it is absent; incr() is atomic on
    # Redis (INCRBY) and under the local-memory cache's lock.
    window = settings.STEWARD_LOGIN_WINDOW_SECONDS
    if delta > 0 and cache.add(key, delta, timeout=window):
        return delta
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired between add and incr: a new window starts
        if delta > 0:
            cache.add(key, delta, timeout=window)
            return delta
        return None


def _add_in_database(cache, key: str, delta: int) -> int | None:
    """The database cache's incr() is a get then a set (two requests can read
    the same count) and its set() restarts the expiry. Here the row is locked
    first (SELECT ... FOR UPDATE; SQLite's IMMEDIATE transactions hold the
    write lock from BEGIN), and the count is written back with the expiry
    the row already had."""
    window = settings.STEWARD_LOGIN_WINDOW_SECONDS
    db = router.db_for_write(cache.cache_model_class)
    connection = connections[db]
    table = connection.ops.quote_name(cache._table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    db_key = cache.make_and_validate_key(key)
    with transaction.atomic(using=db):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT expires FROM {table} WHERE cache_key = %s{lock}", [db_key])
            row = cursor.fetchone()
        if row is None:
            if delta <= 0:
                return None
            if cache.add(key, delta, timeout=window):
                return delta
            # Another request created it first: lock its row and add to it.
            return _add_in_database(cache, key, delta)
        expires = row[0]
        if isinstance(expires, str):  # some backends hand back text
            expires = datetime.fromisoformat(expires)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        remaining = (expires - datetime.now(UTC)).total_seconds()
        count = cache.get(key)
        if count is None or remaining <= 0:
            if delta <= 0:
                return None
            count, remaining = 0, window
        cache.set(key, count + delta, timeout=remaining)
        return count + delta


def attempt(username: str, address: str) -> bool:
    """Take one try for this username and address; False when either is over
    the limit (refuse without checking the password)."""
    limit = settings.STEWARD_LOGIN_FAILURES
    try:
        counts = [_add(_user_key(username), 1), _add(_address_key(address), 1)]
    except Exception:  # a cache outage must not lock everybody out
        log.warning("login throttle unavailable: cache error", exc_info=True)
        return True
    return all(n <= limit for n in counts)


def succeeded(username: str, address: str) -> None:
    """A right password: the username's count starts again, and the address
    gets back the try this login took (an office behind one address is not
    locked out by its own successful logins)."""
    try:
        caches["default"].delete(_user_key(username))
        _add(_address_key(address), -1)
    except Exception:
        log.warning("login throttle unavailable: cache error", exc_info=True)
