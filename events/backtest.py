"""Run a binding over stored events, as if it had existed then: how many runs
it would have started, how many its dedup window would have suppressed, and
the commonest reasons it did not match. Nothing is created."""

from collections import Counter
from datetime import timedelta

from django.utils import timezone

from core import templating
from events import dedup
from events.bindings import match
from events.models import Binding, Event
from events.sources import ADAPTERS

MAX_EVENTS = 20_000


def backtest(binding: Binding, days: int) -> dict:
    since = timezone.now() - timedelta(days=days)
    events = Event.objects.select_related("source").filter(received_at__gte=since).order_by("received_at")
    if binding.source_id:
        events = events.filter(source_id=binding.source_id)
    last_run: dict[str, object] = {}
    occurrences: set[str] = set()  # re-notifications of these ran no binding
    window = timedelta(seconds=binding.dedup_window_seconds)
    examined = matched = would_run = deduplicated = 0
    reasons: Counter = Counter()
    for event in events[: MAX_EVENTS + 1].iterator(chunk_size=1000):
        if examined == MAX_EVENTS:
            break
        examined += 1
        document = event.context()
        ok, reason = match(binding, document)
        if not ok:
            reasons[reason] += 1
            continue
        matched += 1
        adapter = ADAPTERS.get(event.source.kind)
        identity = adapter.occurrence(event) if adapter else ""
        try:
            key = dedup.key_for(binding, document)
        except templating.RenderError:
            key = document["fingerprint"]  # the run would have failed; it counts as one
        started = last_run.get(key)
        if (binding.dedup_window_seconds and started is not None and event.received_at - started < window) or (
            identity and identity in occurrences
        ):
            deduplicated += 1
            continue
        last_run[key] = event.received_at
        if identity:
            occurrences.add(identity)
        would_run += 1
    return {
        "days": days,
        "events": examined,
        "truncated": examined == MAX_EVENTS and events.count() > MAX_EVENTS,
        "matched": matched,
        "would_run": would_run,
        "deduplicated": deduplicated,
        "not_matched": examined - matched,
        "reasons": [{"reason": r, "events": n} for r, n in reasons.most_common(5)],
    }
