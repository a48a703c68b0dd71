"""Dedup: within a binding's window, a second event with the same key starts
no run; it is stored with the reason and the run that covered it.

The key is the binding's `dedup_key` template rendered from the event, or
the event's fingerprint. Concurrent requests carrying the same alert are
serialized by locking the binding rows, so a storm of one alert starts
exactly one run.

Alert-group tools (Alertmanager, Grafana) re-send every still-firing alert
of a group whenever the group changes, and again every repeat interval. For
their events each binding also keys on the alert's occurrence, its
fingerprint and `startsAt` (and status): a re-notification of a firing that
already ran starts nothing, whatever the window (even the default 0), while
a new firing of the same alert (a new `startsAt`) runs. Those keys are kept
for DedupEntry.MAX_WINDOW_SECONDS (7 days), after which the sweep's purge
drops them like any other entry.
"""

import hashlib
from datetime import timedelta

from django.db import connection

from core import templating
from events.models import Binding, DedupEntry

_BINDING = Binding._meta.pk
_CREATED = DedupEntry._meta.get_field("created_at")
_EXECUTION = DedupEntry._meta.get_field("execution").target_field


OCCURRENCE_SECONDS = DedupEntry.MAX_WINDOW_SECONDS
OCCURRENCE_PREFIX = "occurrence:"


def key_for(binding: Binding, document: dict) -> str:
    """The binding's dedup key for this event. Raises RenderError when its
    template fails: the caller records a failed run of that binding."""
    if not binding.dedup_key:
        return document["fingerprint"]
    return str(templating.render(binding.dedup_key, {"event": document}))[:200]


def occurrence_key(identity: str) -> str:
    """The stored key of an alert's occurrence (see the module's docstring);
    hashed, as the tool's fingerprint and startsAt may be long."""
    return OCCURRENCE_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:40]


def keys_for(binding: Binding, document: dict, identity: str = "") -> list[tuple[str, int]]:
    """(key, seconds it covers) for each key this event takes for `binding`:
    the window's key when the binding has a window, and the occurrence's key
    when the tool names one (`identity`). Raises RenderError like key_for."""
    keys = []
    if binding.dedup_window_seconds:
        keys.append((key_for(binding, document), binding.dedup_window_seconds))
    if identity:
        keys.append((occurrence_key(identity), OCCURRENCE_SECONDS))
    return keys


class Window:
    """What one request sees of each binding's recent runs, keys included
    that it started itself."""

    def __init__(self, now):
        self.now = now
        self.started: dict[tuple, object] = {}  # runs this request started
        self.found: dict[tuple, object] = {}  # runs stored before it
        self.entries: list[DedupEntry] = []

    def statements(self, wanted) -> list[tuple[str, list]]:
        """For `wanted`, (binding, key, seconds) triples from `keys_for`: lock
        the bindings that deduplicate for the rest of the transaction (in
        primary-key order, so two requests never wait on each other in a
        cycle), then read the runs covering those keys: after the lock, a
        request that held it has committed its entries. Run them with
        core.batch.query and hand their rows to `load`."""
        self.wanted = {(b.pk, key): seconds for b, key, seconds in wanted}
        if not self.wanted:
            return []
        ids = sorted({pk for pk, _ in self.wanted})
        # SQLite has no row locks: its transactions take the write lock at BEGIN.
        lock = "" if connection.vendor == "sqlite" else " FOR UPDATE"
        locking = (
            f"SELECT id FROM {Binding._meta.db_table} WHERE id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id{lock}",
            [_BINDING.get_db_prep_value(pk, connection) for pk in ids],
        )
        conditions, params = [], []
        for (pk, key), seconds in self.wanted.items():
            since = self.now - timedelta(seconds=seconds)
            conditions.append("(binding_id = %s AND key = %s AND created_at >= %s)")
            params += [_BINDING.get_db_prep_value(pk, connection), key, _CREATED.get_db_prep_value(since, connection)]
        reading = (
            f"SELECT binding_id, key, execution_id FROM {DedupEntry._meta.db_table}"
            f" WHERE {' OR '.join(conditions)} ORDER BY created_at DESC",
            params,
        )
        return [locking, reading]

    def load(self, results) -> None:
        """The rows of `statements()`, in order."""
        if not results:
            return
        for binding_id, key, execution_id in results[1]:
            # The newest entry of a key covers it.
            self.found.setdefault((_BINDING.to_python(binding_id), key), _EXECUTION.to_python(execution_id))

    def covering(self, binding: Binding, key: str):
        """The id of the run that covers this key, or None (after `load`)."""
        if (binding.pk, key) in self.started:
            return self.started[(binding.pk, key)]
        return self.found.get((binding.pk, key))

    def remember(self, binding: Binding, key: str, execution) -> None:
        self.started[(binding.pk, key)] = execution.pk
        self.entries.append(DedupEntry(binding=binding, key=key, execution=execution, created_at=self.now))


def purge(now) -> int:
    """Entries older than the longest window allowed (which is also how long
    an occurrence is remembered) are of no use."""
    cutoff = now - timedelta(seconds=DedupEntry.MAX_WINDOW_SECONDS)
    return DedupEntry.objects.filter(created_at__lt=cutoff).delete()[0]
