"""Dedup: within a binding's window, a second event with the same key starts
no run; it is stored with the reason and the run that covered it.

The key is the binding's `dedup_key` template rendered from the event, or
the event's fingerprint. Concurrent requests carrying the same alert are
serialized by locking the binding rows, so a storm of one alert starts
exactly one run.
"""

from datetime import timedelta

from events import rendering
from events.models import Binding, DedupEntry


def lock(bindings) -> None:
    """Lock the bindings that deduplicate, for the rest of the transaction (in
    primary-key order, so two requests never wait on each other in a cycle)."""
    ids = sorted({b.pk for b in bindings if b.dedup_window_seconds})
    if ids:
        list(Binding.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


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
        self.started: dict[tuple, object] = {}
        self.entries: list[DedupEntry] = []

    def covering(self, binding: Binding, key: str):
        """The id of the run that covers this key, or None."""
        if not binding.dedup_window_seconds:
            return None
        if (binding.pk, key) in self.started:
            return self.started[(binding.pk, key)]
        since = self.now - timedelta(seconds=binding.dedup_window_seconds)
        return (
            DedupEntry.objects.filter(binding=binding, key=key, created_at__gte=since)
            .order_by("-created_at")
            .values_list("execution_id", flat=True)
            .first()
        )

    def remember(self, binding: Binding, key: str, execution) -> None:
        if binding.dedup_window_seconds:
            self.started[(binding.pk, key)] = execution.pk
            self.entries.append(DedupEntry(binding=binding, key=key, execution=execution, created_at=self.now))


def purge(now) -> int:
    """Entries older than the longest window allowed are of no use."""
    cutoff = now - timedelta(seconds=DedupEntry.MAX_WINDOW_SECONDS)
    return DedupEntry.objects.filter(created_at__lt=cutoff).delete()[0]
