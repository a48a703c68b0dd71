"""Sources, the webhook endpoints a monitoring tool posts to: creating one
(the only time its token is known), rotating its token, sending it a test
alert through the real path, deleting it; each audited."""

import copy
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import trail
from core.errors import CONFLICT, Refused
from core.slugs import unique_slug
from events import limits, validation
from events.bindings import delete_binding
from events.ingest import Ingested, ingest
from events.models import Binding, Event, Source
from events.sources import ADAPTERS
from events.sources.base import PayloadError


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
