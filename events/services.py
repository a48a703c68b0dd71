"""From normalized alerts to committed events and executions, in one
transaction; the broker hears about the executions only after commit."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit import trail
from events import matching, rendering
from events.models import Binding, Event, Source
from events.sources.base import NormalizedEvent
from runbooks import services as runbook_services
from runbooks.models import Execution


@dataclass
class Ingested:
    events: list[Event]
    executions: list[Execution]


def event_context(event) -> dict:
    """What conditions and templates see as `event`."""
    return {
        "name": event.name,
        "status": event.status,
        "severity": event.severity,
        "fingerprint": event.fingerprint,
        "summary": event.summary,
        "labels": event.labels,
        "annotations": event.annotations,
        "payload": event.payload,
        "source": event.source.slug if getattr(event, "source", None) else None,
    }


def bindings_for(source: Source | None) -> list[Binding]:
    bindings = Binding.objects.filter(enabled=True).select_related("runbook__current_version", "source")
    if source is not None:
        bindings = bindings.filter(Q(source=source) | Q(source__isnull=True))
    return list(bindings.order_by("name", "id"))


def status_matches(binding: Binding, status: str) -> bool:
    return binding.on_status == Binding.OnStatus.ANY or binding.on_status == status


def match(binding: Binding, document: dict) -> tuple[bool, str]:
    if not status_matches(binding, document["status"]):
        return False, f"status is {document['status']}, binding runs on {binding.on_status}"
    return matching.evaluate(binding.match, document)


def ingest(source: Source, alerts: list[NormalizedEvent], request=None) -> Ingested:
    now = timezone.now()
    events = [Event(source=source, received_at=now, **vars(alert)) for alert in alerts]
    bindings = bindings_for(source)
    executions: list[Execution] = []
    seen: set[tuple] = set()  # (binding, fingerprint) already run by this request
    for event in events:
        document = event_context(event)
        suppressed = []
        for binding in bindings:
            matched, _ = match(binding, document)
            if not matched or binding.runbook.current_version is None:
                continue
            duplicate = _duplicate_of(binding, event, now, seen)
            if duplicate:
                suppressed.append(f"binding {binding.name}: {duplicate}")
                continue
            seen.add((binding.pk, event.fingerprint))
            executions.append(_execution_for(binding, event, document))
        event.suppressed_reason = "; ".join(suppressed)
    with transaction.atomic():
        Event.objects.bulk_create(events)
        Execution.objects.bulk_create(executions)
        actor = trail.source_actor(source)
        trail.record_many(
            actor,
            [
                trail.Change(
                    "event.received",
                    "event",
                    e.id,
                    after={"name": e.name, "status": e.status, "fingerprint": e.fingerprint},
                )
                for e in events
            ]
            + [runbook_services.created_change(x) for x in executions],
            request=request,
        )
        runbook_services.enqueue_on_commit(executions)
    return Ingested(events, executions)


def _duplicate_of(binding: Binding, event: Event, now, seen: set) -> str:
    """Why this event must not start another run of the binding, or ''."""
    if binding.dedup_window_seconds <= 0:
        return ""
    if (binding.pk, event.fingerprint) in seen:
        return "duplicate alert in the same request"
    earlier = (
        Execution.objects.filter(
            binding=binding,
            event__fingerprint=event.fingerprint,
            created_at__gte=now - timedelta(seconds=binding.dedup_window_seconds),
        )
        .order_by("-created_at")
        .values_list("id", flat=True)
        .first()
    )
    if earlier:
        return f"duplicate of execution {earlier} within {binding.dedup_window_seconds}s"
    return ""


def _execution_for(binding: Binding, event: Event, document: dict) -> Execution:
    status = Execution.Status.AWAITING_APPROVAL if binding.requires_approval else Execution.Status.QUEUED
    try:
        parameters = rendering.render(binding.parameters, {"event": document})
    except rendering.RenderError as exc:
        execution = runbook_services.new_execution(binding.runbook, {}, event=event, binding=binding)
        execution.status, execution.finished_at = Execution.Status.FAILED, execution.created_at
        execution.enqueued_at = None
        execution.error = f"Parameters could not be rendered: {exc}"
        return execution
    return runbook_services.new_execution(binding.runbook, parameters, event=event, binding=binding, status=status)


def test_bindings(document: dict, source: Source | None = None) -> list[dict]:
    """Which enabled bindings would match this event, and with what
    parameters, without creating anything."""
    results = []
    for binding in bindings_for(source):
        matched, reason = match(binding, document)
        entry = {
            "binding": str(binding.pk),
            "name": binding.name,
            "matched": matched,
            "reason": reason,
            "parameters": None,
            "error": "",
        }
        if matched:
            try:
                entry["parameters"] = rendering.render(binding.parameters, {"event": document})
            except rendering.RenderError as exc:
                entry["error"] = str(exc)
        results.append(entry)
    return results
