"""From normalized alerts to committed events and executions, in one
transaction; the broker hears about the executions only after commit."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit import trail
from core import batch, storable, templating
from events import dedup
from events.bindings import bindings_for, match
from events.models import Binding, DedupEntry, Event, Source
from events.sources import ADAPTERS
from events.sources.base import NormalizedEvent
from runbooks import runs
from runbooks.models import Execution


@dataclass
class Ingested:
    events: list[Event]
    executions: list[Execution]


def ingest(source: Source, alerts: list[NormalizedEvent], request=None, bindings=None) -> Ingested:
    """Store the events and start what their bindings say, in one transaction.
    `bindings`: the source's enabled bindings, when the caller has them."""
    now = timezone.now()
    events = [Event(source=source, received_at=now, **vars(alert)) for alert in alerts]
    if bindings is None:
        bindings = bindings_for(source)
    adapter = ADAPTERS.get(source.kind)
    matches = []
    for event in events:
        document = event.context()
        identity = adapter.occurrence(event) if adapter else ""
        for binding in bindings:
            if binding.runbook.current_version is not None and match(binding, document)[0]:
                if binding.tripped_at:
                    matches.append((event, binding, [], _skipped_by_breaker(binding, event)))
                    continue
                # Built before the transaction, so the locks below are held
                # for round trips, not for rendering and schema checks.
                try:
                    keys = dedup.keys_for(binding, document, identity)
                except templating.RenderError as exc:
                    error = f"Binding {binding.name}: its dedup key could not be rendered: {exc}"
                    matches.append((event, binding, [], _ended(binding, event, Execution.Status.FAILED, error)))
                    continue
                matches.append((event, binding, keys, _execution_for(binding, event, document)))
    with transaction.atomic():
        window = dedup.Window(now)
        # One round trip: lock the deduplicating bindings, read their windows,
        # lock the audit chain's head.
        wanted = [(binding, key, seconds) for _, binding, keys, _ in matches for key, seconds in keys]
        *found, head = batch.query([*window.statements(wanted), trail.lock_head()])
        window.load(found)
        executions = []
        for event, binding, keys, execution in matches:
            covered = next(((key, pk) for key, _ in keys if (pk := window.covering(binding, key))), None)
            if covered:
                key, covering = covered
                if key.startswith(dedup.OCCURRENCE_PREFIX):
                    reason = (
                        f"binding {binding.name}: a re-notification of the same alert (fingerprint and startsAt),"
                        f" which execution {covering} ran for"
                    )
                else:
                    reason = (
                        f"binding {binding.name}: duplicate of execution {covering}"
                        f" within {binding.dedup_window_seconds}s"
                    )
                event.suppressed_reason = "; ".join(filter(None, [event.suppressed_reason, reason]))
                continue
            executions.append(execution)
            for key, _ in keys:
                window.remember(binding, key, execution)
        # The rows go in with their audit entries, in one round trip; unless
        # a resolved alert may cancel runs, which must see them stored first.
        rows = [(Event, events), (Execution, executions), (DedupEntry, window.entries)]
        cancelled = []
        if _may_cancel(events, bindings):
            batch.insert(rows)
            rows = []
            cancelled = _cancel_on_resolve(events, bindings, now)
        changes = [
            trail.Change(
                "event.received",
                "event",
                e.id,
                after={"name": e.name, "status": e.status, "fingerprint": e.fingerprint},
            )
            for e in events
        ]
        changes += [runs.created_change(x) for x in executions]
        changes += [
            trail.Change("execution.cancelled", "execution", pk, after={"reason": "the alert resolved"})
            for pk in cancelled
        ]
        trail.record_many(trail.source_actor(source), changes, request=request, rows=rows, head=head)
        runs.enqueue_on_commit(executions)
    return Ingested(events, executions)


def _may_cancel(events: list[Event], bindings: list[Binding]) -> bool:
    return any(b.cancel_on_resolve for b in bindings) and any(e.status == Event.Status.RESOLVED for e in events)


def _cancel_on_resolve(events: list[Event], bindings: list[Binding], now) -> list:
    """A resolved alert cancels the runs of bindings with `cancel_on_resolve`
    that were started for its fingerprint and have not started yet."""
    cancelling = [b for b in bindings if b.cancel_on_resolve]
    resolved = {e.fingerprint: e for e in events if e.status == Event.Status.RESOLVED}
    if not cancelling or not resolved:
        return []
    pending = Execution.objects.filter(
        binding__in=cancelling,
        status__in=[Execution.Status.QUEUED, Execution.Status.AWAITING_APPROVAL],
        event__fingerprint__in=list(resolved),
    ).values_list("pk", "event__fingerprint")
    cancelled = []
    for pk, fingerprint in list(pending):
        error = f"Cancelled: the alert resolved (event {resolved[fingerprint].pk}) before the run started."
        if Execution.objects.filter(
            pk=pk, status__in=[Execution.Status.QUEUED, Execution.Status.AWAITING_APPROVAL]
        ).update(status=Execution.Status.CANCELLED, cancel_requested_at=now, finished_at=now, error=error):
            cancelled.append(pk)
    return cancelled


def _execution_for(binding: Binding, event: Event, document: dict) -> Execution:
    """The run this binding starts for the event; a failed one, naming the
    binding, when its templates fail (any error, even ZeroDivisionError) or
    its parameters fail the runbook's schema: that binding's attempt stays in
    the history, and the request and every other binding go on."""
    status = Execution.Status.AWAITING_APPROVAL if binding.requires_approval else Execution.Status.QUEUED
    try:
        parameters = templating.render(binding.parameters, {"event": document})
        storable.check(parameters, "the rendered parameters")
    except (templating.RenderError, storable.NotStorable) as exc:
        error = f"Binding {binding.name}: its parameters could not be rendered: {exc}"
        return _ended(binding, event, Execution.Status.FAILED, error)
    execution = runs.new_execution(binding.runbook, parameters, event=event, binding=binding, status=status)
    if execution.status == Execution.Status.FAILED:
        execution.error = f"Binding {binding.name}: {execution.error}"
    return execution


def _skipped_by_breaker(binding: Binding, event: Event) -> Execution:
    reason = f"Skipped: binding {binding.name} is tripped ({binding.tripped_reason}); a person must reset it."
    return _ended(binding, event, Execution.Status.SKIPPED, reason)


def _ended(binding: Binding, event: Event, status: str, error: str) -> Execution:
    """A run that ends as it is recorded: the attempt stays in the history."""
    execution = runs.new_execution(binding.runbook, {}, event=event, binding=binding)
    execution.status, execution.error = status, error
    execution.finished_at, execution.enqueued_at = execution.created_at, None
    return execution
