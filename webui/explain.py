"""Why each binding did or did not start a run for an event, in words.

The bindings are read once (events.bindings.bindings_for, one query) and
checked in memory with the same matcher that ingestion uses
(events/matching.py explains a failed condition in words); the runs they
started come from the event's executions, already read by the page."""

from dataclasses import dataclass, field

from events import bindings
from events.models import Binding, Event
from runbooks.models import Execution


@dataclass
class Verdict:
    binding: Binding
    matched: bool
    reason: str
    executions: list[Execution] = field(default_factory=list)


def _reason(binding: Binding, matched: bool, reason: str, ran: list, event: Event) -> str:
    if not matched:
        return reason
    if ran:
        return "all conditions hold"
    if binding.runbook.current_version is None:
        return "all conditions hold, but its runbook has no version to run"
    if binding.name and f"binding {binding.name}:" in event.suppressed_reason:
        return "all conditions hold; suppressed as a duplicate within its dedup window"
    if binding.created_at > event.received_at:
        return "all conditions hold now; the binding was created after this event"
    return "all conditions hold now, but it started no run for this event (changed since?)"


def bindings_for_event(event: Event, executions: list[Execution]) -> list[Verdict]:
    """Every enabled binding that can see the event's source, matched now."""
    document = event.context()
    by_binding: dict = {}
    for execution in executions:
        by_binding.setdefault(execution.binding_id, []).append(execution)
    verdicts = []
    for binding in bindings.bindings_for(event.source):
        matched, reason = bindings.match(binding, document)
        ran = by_binding.get(binding.pk, [])
        verdicts.append(Verdict(binding, matched, _reason(binding, matched, reason, ran, event), ran))
    # The ones that matched first: that is what a person looks for.
    verdicts.sort(key=lambda v: not v.matched)
    return verdicts
