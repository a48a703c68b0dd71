"""Who subscribed to what, known in each process, so that a run nobody
listens to costs no query (and no savepoint) when it starts or finishes.

Each process keeps the enabled subscriptions of enabled channels as a set of
(subject field, id, event) and a generation token read from Django's shared
cache (core/generations.py). Saving or deleting a subscription or a
channel makes this process reload at once and renews the token when the
transaction commits (before that, another process could only read the old
rows). A cache that cannot be read means "ask the database", and a copy is
reloaded at least every MAX_AGE_SECONDS, so a missed token costs freshness
for that long at most, never a lost notification for good.
"""

import logging
import time

from django.db import transaction

from core.generations import SharedGeneration

log = logging.getLogger(__name__)
GENERATION = SharedGeneration("steward:notifications:subscriptions", "notification subscriptions")
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
    """post_save / post_delete of a subscription or a channel: this process
    reloads at once, the others once the change is committed."""
    _forget()
    transaction.on_commit(_renewed, robust=True)


def _index() -> frozenset | None:
    global _known
    token = GENERATION.current()
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


def _renewed() -> None:
    _forget()
    GENERATION.renew()


def _forget() -> None:
    global _known
    _known = None


def count_for_binding(binding) -> int:
    """How many subscriptions name this binding (they are deleted with it: a
    subscription to nothing would hear nothing)."""
    from notifications.models import Subscription

    return Subscription.objects.filter(binding=binding).count()
