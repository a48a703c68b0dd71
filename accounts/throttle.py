"""Login throttling: after STEWARD_LOGIN_FAILURES failed logins for one
username or from one address within STEWARD_LOGIN_WINDOW_SECONDS, further
attempts are refused until the window has passed, whatever the password.
Counted in Django's cache, which every web process shares (CACHE_URL)."""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


def _keys(username: str, address: str) -> list[str]:
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"steward:login:user:{name}", f"steward:login:addr:{address}"]


def locked(username: str, address: str) -> bool:
    try:
        counts = cache.get_many(_keys(username, address))
    except Exception:  # a cache outage must not lock everybody out
        log.warning("login throttle unavailable: cache error", exc_info=True)
        return False
    return any(n >= settings.STEWARD_LOGIN_FAILURES for n in counts.values())


def failed(username: str, address: str) -> None:
    for key in _keys(username, address):
        try:
            if not cache.add(key, 1, timeout=settings.STEWARD_LOGIN_WINDOW_SECONDS):
                cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=settings.STEWARD_LOGIN_WINDOW_SECONDS)
        except Exception:
            log.warning("login throttle unavailable: cache error", exc_info=True)


def succeeded(username: str) -> None:
    try:
        cache.delete(_keys(username, "")[0])
    except Exception:
        log.warning("login throttle unavailable: cache error", exc_info=True)
