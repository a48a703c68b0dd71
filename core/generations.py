"""A generation token in Django's shared cache: how a process that keeps
rarely changed rows in memory learns that another process changed them.

Readers compare the token they loaded under with `current()`; writers call
`renew()` once their change is committed. Tokens are random, never counters,
so a token is never seen twice: an evicted or culled key reads as a new
generation, never as an old one. A cache that cannot be reached gives None
("read from the database") and a warning, never an exception.
"""

import logging
import uuid
from contextlib import nullcontext

from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, models, transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

# Sent (sender=the model) by the writes that bypass save() and delete() and
# so their signals: queryset update() and delete(), bulk_create(), bulk_update().
# A cache built from those rows listens in its own app's ready(), so the model
# never imports the cache that is built from it.
rows_changed = Signal()


class AnnouncingQuerySet(models.QuerySet):
    """Announces bulk writes through `rows_changed`, before the write, as the
    save and delete signals' listeners would hear of the change too."""

    def _announce(self):
        rows_changed.send(sender=self.model)

    def update(self, **kwargs):
        self._announce()
        return super().update(**kwargs)

    def delete(self):
        self._announce()
        return super().delete()

    def bulk_create(self, *args, **kwargs):
        self._announce()
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args, **kwargs):
        self._announce()
        return super().bulk_update(*args, **kwargs)


class SharedGeneration:
    def __init__(self, key: str, what: str):
        self.key = key
        self.what = what  # for the warnings: "webhook configuration", ...

    def current(self) -> str | None:
        try:
            with _guard():
                token = cache.get(self.key)
                if token is None:  # first use, or evicted: a fresh token
                    cache.add(self.key, uuid.uuid4().hex, timeout=None)
                    token = cache.get(self.key)
            return token
        except Exception:
            log.warning("%s: the shared cache is unavailable; reading from the database", self.what, exc_info=True)
            return None

    def renew(self) -> None:
        try:
            with _guard():
                cache.set(self.key, uuid.uuid4().hex, timeout=None)
        except Exception:  # readers catch up within their maximum age
            log.warning("%s changed, but the cache could not tell the other processes", self.what, exc_info=True)


def _guard():
    # A cache in the database queries on the caller's connection: inside a
    # transaction, a failure there must not end it (a savepoint keeps it).
    if isinstance(caches["default"], DatabaseCache) and connection.in_atomic_block:
        return transaction.atomic()
    return nullcontext()
