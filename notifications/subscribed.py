"""Who subscribed to what, known in each process, so that a run nobody
listens to costs no query (and no savepoint) when it starts or finishes.

Each process keeps the enabled subscriptions of enabled channels as a set of
(subject field, id, event) and a generation token read from Django's shared
cache. Saving or deleting a subscription or a channel sets a new token, at
once and again when the transaction commits: a reader that reloaded in
between (seeing the new token but not yet the new row) loads again on the
second token. Tokens are random, never counters, so a token is never seen
twice (a rolled-back transaction or an evicted key cannot bring an old one
back). A cache that cannot be read means "ask the database", and a copy is
reloaded at least every MAX_AGE_SECONDS, so a missed token costs freshness
for that long at most, never a lost notification for good.
"""

import logging
import time
import uuid
from contextlib import nullcontext

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import transaction

log = logging.getLogger(__name__)
KEY = "steward:notifications:subscriptions"
MAX_AGE_SECONDS = 30.0

# (token, loaded at (monotonic), {(field, id, event)}) of this process.
_known: tuple[str, float, frozenset] | None = None


def may_want(kind: str, subjects: list[tuple[str, object]]) -> bool:
    """False only when no enabled subscription can want `kind` for any of
    `subjects`: ("runbook" | "binding" | "gate", id) pairs."""
    index = _index()
    if index is None:
        return True
    return any((field, i, kind) in index for field, i in subjects if i is not None)


def changed(**kwargs) -> None:
    """post_save / post_delete of a subscription or a channel."""
    _new_token()
    transaction.on_commit(_new_token)


def _index() -> frozenset | None:
    global _known
    token = _token()
    if token is None:
        return None
    if _known is not None and _known[0] == token and time.monotonic() - _known[1] < MAX_AGE_SECONDS:
        return _known[2]
    from notifications.models import Subscription

    try:
        with transaction.atomic():  # a savepoint: a failure here must not end the caller's transaction
            rows = list(
                Subscription.objects.filter(enabled=True, channel__enabled=True).values_list(
                    "runbook_id", "binding_id", "gate_id", "events"
                )
            )
    except Exception:
        log.warning("notifications: could not read the subscriptions; asking the database each time", exc_info=True)
        return None
    index = frozenset(
        (field, subject, event)
        for runbook, binding, gate, events in rows
        for field, subject in (("runbook", runbook), ("binding", binding), ("gate", gate))
        if subject is not None
        for event in (events if isinstance(events, list) else [])
    )
    _known = (token, time.monotonic(), index)
    return index


def _cache_guard():
    # A cache in the database reads in the caller's transaction: keep a
    # failure there from ending it.
    return transaction.atomic() if isinstance(caches["default"], DatabaseCache) else nullcontext()


def _token() -> str | None:
    cache = caches["default"]
    try:
        with _cache_guard():
            token = cache.get(KEY)
            if token is None:  # first use, or evicted: a fresh token, never an old one
                cache.add(KEY, uuid.uuid4().hex, timeout=None)
                token = cache.get(KEY)
        return token
    except Exception:
        log.warning("notifications: the shared cache is unavailable; reading subscriptions each time", exc_info=True)
        return None


def _new_token() -> None:
    global _known
    _known = None
    try:
        with _cache_guard():
            caches["default"].set(KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        log.warning(
            "notifications: could not publish a subscription change; other processes see it within %d s",
            MAX_AGE_SECONDS,
            exc_info=True,
        )
