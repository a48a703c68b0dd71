"""Channels and subscriptions as admins set them up: the rules a channel
must follow (for the API and the pages alike), and saving them, audited.
The audit trail names what changed, never a secret."""

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction

from audit import trail
from core import crypto
from core.errors import Refused
from core.slugs import unique_slug
from notifications import delivery, guard, messages
from notifications.models import Channel, Delivery, Kind, Subscription

MAX_RECIPIENTS = 20
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{20,64}$")
MIN_SIGNING_SECRET = 16


class ChannelError(Refused, ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message, field)


@dataclass
class Prepared:
    """A channel's new field values, and the signing secret Steward made up
    for it (shown once, in the answer that creates the channel)."""

    fields: dict
    generated_secret: str | None = None
    secret_changed: bool = False


def check_url(url: str, field: str = "url") -> None:
    """The outbound guard, as a form or API error."""
    try:
        guard.check(url)
    except guard.Refused as exc:
        raise ChannelError(field, str(exc)) from None


def prepare(kind: str, data: dict, channel: Channel | None = None) -> Prepared:
    """Validate what `data` sets for a channel of `kind` and turn it into
    model fields. `data` may hold url, recipients, routing_key,
    signing_secret (None or absent: unchanged on an update)."""
    creating = channel is None
    fields: dict = {}
    prepared = Prepared(fields)
    if kind in (Kind.WEBHOOK, Kind.SLACK):
        url = (data.get("url") or "").strip()
        if url:
            check_url(url)
            if kind == Kind.SLACK:
                _set_secret(prepared, url, hint=_url_hint(url))
            else:
                fields["url"] = url
        elif creating:
            raise ChannelError("url", f"a {kind} channel needs its URL")
    if kind == Kind.WEBHOOK:
        secret = data.get("signing_secret")
        if secret:
            if len(secret) < MIN_SIGNING_SECRET:
                raise ChannelError("signing_secret", f"at least {MIN_SIGNING_SECRET} characters")
            _set_secret(prepared, secret, hint="signed (HMAC-SHA256)")
        elif creating:
            prepared.generated_secret = secrets.token_urlsafe(32)
            _set_secret(prepared, prepared.generated_secret, hint="signed (HMAC-SHA256)")
    if kind == Kind.EMAIL:
        if data.get("recipients") is not None:
            fields["recipients"] = clean_recipients(data["recipients"])
        elif creating:
            raise ChannelError("recipients", "an email channel needs at least one recipient")
    if kind == Kind.PAGERDUTY:
        key = (data.get("routing_key") or "").strip()
        if key:
            if not ROUTING_KEY.match(key):
                raise ChannelError("routing_key", "a PagerDuty routing key is 20 to 64 letters and digits")
            _set_secret(prepared, key, hint="routing key set")
        elif creating:
            raise ChannelError("routing_key", "a PagerDuty channel needs the integration's routing key")
    for name, given in (("url", "url"), ("recipients", "recipients"), ("routing_key", "routing_key")):
        if data.get(given) and name not in _INPUTS[kind]:
            raise ChannelError(given, f"a {kind} channel takes no {given}")
    if data.get("signing_secret") and kind != Kind.WEBHOOK:
        raise ChannelError("signing_secret", "only webhook channels are signed")
    return prepared


_INPUTS = {
    Kind.SLACK: {"url"},
    Kind.WEBHOOK: {"url"},
    Kind.EMAIL: {"recipients"},
    Kind.PAGERDUTY: {"routing_key"},
}


def _set_secret(prepared: Prepared, value: str, hint: str) -> None:
    prepared.fields["secret_encrypted"] = crypto.encrypt(value)
    prepared.fields["secret_hint"] = hint
    prepared.secret_changed = True


def _url_hint(url: str) -> str:
    """Slack's URL is the secret: show only where it goes."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…"


def clean_recipients(value) -> list[str]:
    if isinstance(value, str):
        value = [item for item in re.split(r"[,\s]+", value) if item]
    if not isinstance(value, list) or not value:
        raise ChannelError("recipients", "at least one email address")
    if len(value) > MAX_RECIPIENTS:
        raise ChannelError("recipients", f"at most {MAX_RECIPIENTS} addresses")
    cleaned = []
    for address in value:
        try:
            validate_email(address)
        except (DjangoValidationError, TypeError):
            raise ChannelError("recipients", f"{address!r} is not an email address") from None
        if address not in cleaned:
            cleaned.append(address)
    return cleaned


def audited(channel: Channel, **extra) -> dict:
    return {
        "name": channel.name,
        "kind": channel.kind,
        "target": channel.target,
        "enabled": channel.enabled,
        **extra,
    }


def create_channel(
    name: str, kind: str, prepared: Prepared, actor: trail.Actor, slug: str = "", enabled=True, user=None, request=None
) -> Channel:
    channel = Channel(name=name, kind=kind, enabled=enabled, created_by=user, **prepared.fields)
    channel.slug = slug or unique_slug(Channel, name, "channel")
    with transaction.atomic():
        channel.save(force_insert=True)
        trail.record(
            actor, trail.Change("channel.created", "channel", channel.slug, after=audited(channel)), request=request
        )
    return channel


def update_channel(channel: Channel, changes: dict, prepared: Prepared, actor: trail.Actor, request=None) -> Channel:
    """`changes`: name, enabled (only those given); `prepared` the rest."""
    before = audited(channel)
    for name, value in {**changes, **prepared.fields}.items():
        setattr(channel, name, value)
    with transaction.atomic():
        channel.save()
        after = audited(channel, secret_changed=True) if prepared.secret_changed else audited(channel)
        trail.record(
            actor,
            trail.Change("channel.updated", "channel", channel.slug, before=before, after=after),
            request=request,
        )
    return channel


def delete_channel(channel: Channel, actor: trail.Actor, request=None) -> None:
    """Its subscriptions go with it; its deliveries stay in the history."""
    with transaction.atomic():
        subscriptions = channel.subscriptions.count()
        trail.record(
            actor,
            trail.Change(
                "channel.deleted", "channel", channel.slug, before=audited(channel, subscriptions=subscriptions)
            ),
            request=request,
        )
        channel.delete()


def send_test(channel: Channel, actor: trail.Actor, request=None) -> Delivery:
    """A test message, sent by a worker like any other (so it proves the
    whole path); the delivery shows how it went."""
    with transaction.atomic():
        row = Delivery.objects.create(
            channel=channel, channel_name=channel.name, event="test", message=messages.for_test(channel)
        )
        trail.record(
            actor, trail.Change("channel.tested", "channel", channel.slug, after={"delivery": row.pk}), request=request
        )
        delivery.enqueue_on_commit([row.pk])
    return row


def subscription_audited(subscription: Subscription) -> dict:
    return {
        "channel": subscription.channel.slug,
        "runbook": subscription.runbook.slug if subscription.runbook_id else None,
        "binding": str(subscription.binding_id) if subscription.binding_id else None,
        "gate": subscription.gate.name if subscription.gate_id else None,
        "events": subscription.events,
        "enabled": subscription.enabled,
    }


def save_subscription(
    subscription: Subscription, actor: trail.Actor, before: dict | None = None, request=None
) -> Subscription:
    creating = subscription._state.adding
    with transaction.atomic():
        subscription.save()
        trail.record(
            actor,
            trail.Change(
                "subscription.created" if creating else "subscription.updated",
                "subscription",
                subscription.pk,
                before=before,
                after=subscription_audited(subscription),
            ),
            request=request,
        )
    return subscription


def delete_subscription(subscription: Subscription, actor: trail.Actor, request=None) -> None:
    with transaction.atomic():
        trail.record(
            actor,
            trail.Change(
                "subscription.deleted", "subscription", subscription.pk, before=subscription_audited(subscription)
            ),
            request=request,
        )
        subscription.delete()


def rotate_all() -> int:
    """Re-encrypt every channel's secret with the first key (rotate_secrets)."""
    channels = list(Channel.objects.exclude(secret_encrypted="").select_for_update())
    for channel in channels:
        channel.secret_encrypted = crypto.rotate(channel.secret_encrypted)
        channel.save(update_fields=["secret_encrypted"])
    return len(channels)
