"""From normalized alerts to committed events and executions, in one
transaction; the broker hears about the executions only after commit."""

import copy
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import trail
from core import batch, storable, templating
from core.errors import CONFLICT, Refused
from core.slugs import unique_slug
from events import dedup, hookconfig, limits, matching, validation
from events.models import Binding, DedupEntry, Event, Source
from events.sources import ADAPTERS
from events.sources.base import NormalizedEvent, PayloadError
from runbooks import parameters as params
from runbooks import runs
from runbooks.models import Execution


@dataclass
class Ingested:
    events: list[Event]
    executions: list[Execution]


class SourceTaken(Refused):
    """Another source took this name or slug first (two creations at once:
    the validators saw neither); `field` names which."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field, CONFLICT)


def create_source(data: dict, actor: trail.Actor, request=None) -> tuple[Source, str]:
    """A new source and its token: the only time the token is known. The
    source rules run here too (validation.source), whoever calls."""
    validation.source(data)
    source = Source(**data)
    source.slug = data.get("slug") or unique_slug(Source, data["name"], "source")
    token = source.rotate_token()
    try:
        with transaction.atomic():
            source.save()
            trail.record(
                actor,
                trail.Change("source.created", "source", source.slug, after={"name": source.name, "kind": source.kind}),
                request=request,
            )
    except IntegrityError:
        if Source.objects.filter(name__iexact=source.name).exists():
            raise SourceTaken("name", "a source with this name exists") from None
        raise SourceTaken("slug", "a source with this slug exists") from None
    return source, token


DEFAULT_GRACE_MINUTES = 60
MAX_GRACE_MINUTES = 7 * 24 * 60


def rotate_source_token(source: Source, actor: trail.Actor, grace_minutes: int = 0, request=None) -> str:
    """A new token; the old one keeps working for `grace_minutes` (0: it
    stops at once), so the tool can be reconfigured without losing alerts."""
    before = {"token_id": source.token_id}
    token = source.rotate_token(timedelta(minutes=grace_minutes))
    with transaction.atomic():
        source.save(
            update_fields=[
                "token_id",
                "token_hash",
                "previous_token_id",
                "previous_token_hash",
                "previous_token_expires_at",
            ]
        )
        trail.record(
            actor,
            trail.Change(
                "source.token_rotated",
                "source",
                source.slug,
                before=before,
                after={
                    "token_id": source.token_id,
                    "previous_token_valid_until": source.previous_token_expires_at,
                },
            ),
            request=request,
        )
    return token


class TestAlertRefused(Refused, ValueError):
    """A test alert that could not be sent, with the reason a person reads."""


def send_test_alert(source: Source, actor: trail.Actor, request=None) -> Ingested:
    """A sample alert of the source's kind (its adapter's SAMPLE), fed to the
    source's own adapter and stored and matched like a webhook's: the events,
    the runs its bindings start, their audit entries, and one entry saying
    who sent it as a test, all in one transaction. The token and the kind's
    signature are not checked (the sender is a signed-in user allowed to
    change sources); the rate limit counts it like any request."""
    adapter = ADAPTERS[source.kind]
    try:
        alerts = adapter.parse(_fresh_firing(adapter.SAMPLE), source)
    except PayloadError as exc:
        raise TestAlertRefused(f"This source's settings do not read the sample alert: {exc}") from None
    if limits.retry_after(source):
        raise TestAlertRefused(f"Over this source's limit of {source.rate_limit_per_minute} requests a minute.")
    with transaction.atomic():
        result = ingest(source, alerts, request=request)
        trail.record(
            actor,
            trail.Change(
                "source.test_alert_sent",
                "source",
                source.slug,
                after={
                    "events": [str(e.id) for e in result.events],
                    "executions": [str(x.id) for x in result.executions],
                },
            ),
            request=request,
        )
    return result


def _fresh_firing(sample: dict) -> dict:
    """The sample with its alerts starting now: Alertmanager and Grafana
    alerts run once per firing (fingerprint and startsAt), so a second test
    alert with the sample's fixed startsAt would be taken for a
    re-notification and start nothing."""
    body = copy.deepcopy(sample)
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for alert in body.get("alerts", []):
        if "startsAt" in alert:
            alert["startsAt"] = now
    return body


def last_event(source: Source) -> Event | None:
    return Event.objects.filter(source=source).order_by("-received_at").first()


def delete_source(source: Source, actor: trail.Actor, request=None) -> None:
    """Delete a source, audited with its last state as the API shows it, in
    one transaction. What it received stays: its events keep their rows (the
    source becomes null, its name is kept on them), and so do the runs they
    started. Its bindings go with it, each audited as binding.deleted (their
    runs keep their rows too): a binding left without its source would listen
    to every source. Every process's webhook cache forgets the source through
    the delete signal, so its URL answers 404 from the next request."""
    before = source.audit_state()
    slug = source.slug
    with transaction.atomic():
        for binding in Binding.objects.filter(source=source).select_related("source", "runbook"):
            delete_binding(binding, actor, request=request)
        Event.objects.filter(source=source).update(source_name=source.name)
        source.delete()
        trail.record(actor, trail.Change("source.deleted", "source", slug, before=before), request=request)


def deleting_source_keeps(source: Source) -> dict:
    """What the confirmation page says stays and goes."""
    return {
        "events": Event.objects.filter(source=source).count(),
        "bindings": list(Binding.objects.filter(source=source).order_by("name").values_list("name", flat=True)),
    }


def save_binding(binding: Binding | None, fields: dict, actor: trail.Actor, request=None) -> Binding:
    """Create a binding (`binding` None) or change one, from fields that
    passed the rules (events/validation.py, through the API's serializer or
    the page's form), audited with its state before and after, in one
    transaction. Returns the saved binding."""
    created = binding is None
    before = None if created else binding.audit_state()
    if created:
        binding = Binding()
    for name, value in fields.items():
        setattr(binding, name, value)
    with transaction.atomic():
        binding.save()
        action = "binding.created" if created else "binding.updated"
        trail.record(
            actor,
            trail.Change(action, "binding", binding.pk, before=before, after=binding.audit_state()),
            request=request,
        )
    return binding


def delete_binding(binding: Binding, actor: trail.Actor, request=None) -> None:
    """Delete a binding, audited with its last state as the API shows it.
    The history stays: its runs keep their rows (their binding becomes null)
    and its audit entries stay; its dedup windows and notification
    subscriptions go with it. Every process's webhook cache forgets it
    through the delete signal (events/hookconfig.py)."""
    before = binding.audit_state()
    pk = binding.pk
    with transaction.atomic():
        binding.delete()
        trail.record(actor, trail.Change("binding.deleted", "binding", pk, before=before), request=request)


def bindings_for(source: Source | None) -> list[Binding]:
    """The enabled bindings that may match events of `source`, from the
    database (the webhook reads them from events/hookconfig.py's cache)."""
    return hookconfig.load_bindings(source)


def status_matches(binding: Binding, status: str) -> bool:
    return binding.on_status == Binding.OnStatus.ANY or binding.on_status == status


def match(binding: Binding, document: dict) -> tuple[bool, str]:
    if not status_matches(binding, document["status"]):
        return False, f"status is {document['status']}, binding runs on {binding.on_status}"
    return matching.evaluate(binding.match, document)


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


def test_bindings(document: dict) -> list[dict]:
    """Which enabled bindings would match this event, and with what
    parameters, without creating anything. A binding of another source than
    the event's does not match (reason "source ..."); one whose parameters
    fail to render or fail the runbook's schema matches with the `error`
    its run would fail with. An event that names no source is tested
    against every binding, whatever its source."""
    results = []
    for binding in bindings_for(None):
        matched, reason = _source_matches(binding, document.get("source"))
        if matched:
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
            entry["parameters"], entry["error"] = _would_run_with(binding, document)
        results.append(entry)
    return results


def _source_matches(binding: Binding, source) -> tuple[bool, str]:
    if binding.source_id is None or source is None or binding.source.slug == source:
        return True, ""
    return False, f"source is {source!r}, but this binding takes only events of {binding.source.slug!r}"


def _would_run_with(binding: Binding, document: dict) -> tuple[dict | None, str]:
    """(parameters, error) as the run would get them: rendered, converted to
    the runbook's schema, or the reason the run would fail."""
    try:
        parameters = templating.render(binding.parameters, {"event": document})
        storable.check(parameters, "the rendered parameters")
    except (templating.RenderError, storable.NotStorable) as exc:
        return None, f"Binding {binding.name}: its parameters could not be rendered: {exc}"
    version = binding.runbook.current_version
    if version is None:
        return parameters, f"runbook {binding.runbook.slug} has no version to run"
    try:
        parameters = params.validate(version.parameters, parameters)
    except params.ParameterError as exc:
        return parameters, f"the parameters fail the runbook's schema: {exc}"
    try:
        dedup.keys_for(binding, document)
    except templating.RenderError as exc:
        return parameters, f"Binding {binding.name}: its dedup key could not be rendered: {exc}"
    try:
        runs.concurrency_key(binding.runbook, parameters)
    except templating.RenderError as exc:
        return parameters, f"The concurrency key could not be rendered: {exc}"
    return parameters, ""
