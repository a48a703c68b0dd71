"""Bindings: saving and deleting them, audited, and what one would do with
an event (match, the tester), without creating anything."""

from django.db import transaction

from audit import trail
from core import storable, templating
from events import dedup, hookconfig, matching
from events.models import Binding, Source
from runbooks import parameters as params
from runbooks import runs


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
