"""Dedup: within a binding's window, a second event with the same key starts
no run; it is stored with the reason and the run that covered it.

The key is the binding's `dedup_key` template rendered from the event, or
the event's fingerprint. Concurrent requests carrying the same alert are
serialized by locking the binding rows, so a storm of one alert starts
exactly one run.
"""

from datetime import timedelta

from django.db import connection

from events import rendering
from events.models import Binding, DedupEntry

_BINDING = Binding._meta.pk
_CREATED = DedupEntry._meta.get_field("created_at")
_EXECUTION = DedupEntry._meta.get_field("execution").target_field


def key_for(binding: Binding, document: dict) -> str:
    if not binding.dedup_key:
        return document["fingerprint"]
    try:
        return str(rendering.render(binding.dedup_key, {"event": document}))[:200]
    except rendering.RenderError:
        # A key that cannot be rendered must not silence every alert.
        return document["fingerprint"]


class Window:
    """What one request sees of each binding's recent runs, keys included
    that it started itself."""

    def __init__(self, now):
        self.now = now
        self.started: dict[tuple, object] = {}  # runs this request started
        self.found: dict[tuple, object] = {}  # runs stored before it
        self.entries: list[DedupEntry] = []

    def statements(self, wanted) -> list[tuple[str, list]]:
        """For `wanted`, (binding, key) pairs: lock the bindings that
        deduplicate for the rest of the transaction (in primary-key order, so
        two requests never wait on each other in a cycle), then read the runs
        covering those keys: after the lock, a request that held it has
        committed its entries. Run them with config.batch.query and hand
        their rows to `load`."""
        self.wanted = {(b.pk, key): b for b, key in wanted if b.dedup_window_seconds}
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
        for (pk, key), binding in self.wanted.items():
            since = self.now - timedelta(seconds=binding.dedup_window_seconds)
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
        if not binding.dedup_window_seconds:
            return None
        if (binding.pk, key) in self.started:
            return self.started[(binding.pk, key)]
        return self.found.get((binding.pk, key))

    def remember(self, binding: Binding, key: str, execution) -> None:
        if binding.dedup_window_seconds:
            self.started[(binding.pk, key)] = execution.pk
            self.entries.append(DedupEntry(binding=binding, key=key, execution=execution, created_at=self.now))


def purge(now) -> int:
    """Entries older than the longest window allowed are of no use."""
    cutoff = now - timedelta(seconds=DedupEntry.MAX_WINDOW_SECONDS)
    return DedupEntry.objects.filter(created_at__lt=cutoff).delete()[0]
