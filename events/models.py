import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import tokens
from core import crypto
from core.generations import AnnouncingQuerySet
from core.jsonfield import TolerantJSONField

SOURCE_TOKEN_PREFIX = "sts"
log = logging.getLogger(__name__)


def api_time(value) -> str | None:
    """A time as the API writes it (DRF's ISO 8601, UTC as "Z"), so that an
    audit entry's state equals what a client was shown."""
    if value is None:
        return None
    value = timezone.localtime(value, timezone.get_current_timezone())
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class Source(models.Model):
    """A monitoring tool that posts to /hooks/<slug> with its own token."""

    class Kind(models.TextChoices):
        ALERTMANAGER = "alertmanager"
        GRAFANA = "grafana"
        PAGERDUTY = "pagerduty"
        SNS = "sns"
        GENERIC = "generic"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    token_id = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    # After a rotation with a grace period the previous token keeps working
    # until this moment, so a tool can be reconfigured without dropping alerts.
    previous_token_id = models.CharField(max_length=16, blank=True, default="")
    previous_token_hash = models.CharField(max_length=64, blank=True, default="")
    previous_token_expires_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=10000)
    # generic sources: where name, severity, status... live in the payload.
    mapping = models.JSONField(default=dict, blank=True)
    # generic sources: a known tool's payload shape (datadog, splunk, ...),
    # applied under `mapping`.
    preset = models.CharField(max_length=32, blank=True, default="")
    # pagerduty (required) and generic (optional) sources: the HMAC key of
    # their signatures, encrypted at rest. Read and set through
    # `signing_secret`.
    signing_secret_encrypted = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    # Webhooks read sources from a per-process cache (events/hookconfig.py).
    objects = AnnouncingQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # Two sources of one name could not be told apart on any page; case
        # does not make them different.
        constraints = [models.UniqueConstraint(Lower("name"), name="source_name_unique_ci")]

    def __str__(self):
        return self.name

    def webhook_url(self) -> str:
        return f"{settings.STEWARD_BASE_URL}/hooks/{self.slug}"

    def audit_state(self) -> dict:
        """The source as the API shows it (never its token or secret): what
        its audit entries record before and after a change."""
        return {
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "mapping": self.mapping,
            "preset": self.preset,
            "has_signing_secret": bool(self.signing_secret_encrypted),
            "webhook_url": self.webhook_url(),
            "previous_token_expires_at": api_time(self.previous_token_expires_at),
            "created_at": api_time(self.created_at),
        }

    def rotate_token(self, grace: timedelta | None = None) -> str:
        """Set a new token and return it: the only time it is visible. With a
        `grace`, the token it replaces keeps working that long (only that
        one: a token already in its grace period ends now)."""
        if grace and self.token_id:
            self.previous_token_id, self.previous_token_hash = self.token_id, self.token_hash
            self.previous_token_expires_at = timezone.now() + grace
        else:
            self.previous_token_id, self.previous_token_hash, self.previous_token_expires_at = "", "", None
        self.token_id, self.token_hash, token = tokens.new_token(SOURCE_TOKEN_PREFIX)
        return token

    def check_token(self, token: str, now=None) -> bool:
        parsed = tokens.parse_token(token, SOURCE_TOKEN_PREFIX)
        if parsed is None:
            return False
        token_id, secret = parsed
        if token_id == self.token_id:
            return tokens.secret_matches(secret, self.token_hash)
        if token_id == self.previous_token_id and self.previous_token_in_grace(now):
            return tokens.secret_matches(secret, self.previous_token_hash)
        return False

    def previous_token_in_grace(self, now=None) -> bool:
        expires = self.previous_token_expires_at
        return bool(self.previous_token_id and expires and expires > (now or timezone.now()))

    @property
    def signing_secret(self) -> str:
        """The signing secret in clear, or "" when there is none (or it
        cannot be decrypted any more, which then fails every signature)."""
        if not self.signing_secret_encrypted:
            return ""
        try:
            return crypto.decrypt(self.signing_secret_encrypted)
        except crypto.DecryptionError:
            log.error("source %s: its signing secret cannot be decrypted (was a key removed?)", self.slug)
            return ""

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self.signing_secret_encrypted = crypto.encrypt(value) if value else ""


class Event(models.Model):
    """One alert as Steward understood it, with the raw payload kept."""

    class Status(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Null once its source is deleted: the event stays, with the name copied
    # into source_name (events/webhooks.py: delete_source).
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    source_name = models.CharField(max_length=100, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices)
    name = models.CharField(max_length=255)
    severity = models.CharField(max_length=32, blank=True)
    fingerprint = models.CharField(max_length=128)
    summary = models.TextField(blank=True)
    # What a monitoring tool sent: TolerantJSONField, so one absurdly nested
    # document cannot make every page that lists it a 500.
    labels = TolerantJSONField(default=dict)
    annotations = TolerantJSONField(default=dict)
    payload = TolerantJSONField(default=dict)
    suppressed_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["-received_at"]),
            models.Index(fields=["source", "-received_at"]),
            models.Index(fields=["fingerprint", "-received_at"]),
        ]

    def __str__(self):
        return f"{self.name} ({self.status})"

    def context(self) -> dict:
        """What conditions and templates see as `event`."""
        return {
            "name": self.name,
            "status": self.status,
            "severity": self.severity,
            "fingerprint": self.fingerprint,
            "summary": self.summary,
            "labels": self.labels,
            "annotations": self.annotations,
            "payload": self.payload,
            "source": self.source.slug if self.source_id is not None else None,
        }

    def document(self) -> dict:
        """The event as a runbook reads it from STEWARD_EVENT: the context,
        with its id and when it arrived."""
        return {"id": str(self.id), "received_at": self.received_at.isoformat(), **self.context()}

    @property
    def source_label(self) -> str:
        """The source's name, or the kept name of a deleted source."""
        if self.source_id is not None:
            return self.source.name
        return f"{self.source_name or 'a source'} (deleted)"


class AlertHour(models.Model):
    """The alerts of one name received in one hour (UTC), as counted when the
    hour was last rolled up (reports/rollups.py): the dashboard's noisiest
    alerts add these up instead of reading a week of events."""

    hour = models.DateTimeField()
    name = models.CharField(max_length=255)
    count = models.PositiveIntegerField(default=0)
    rolled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "name"], name="alert_hour_key")]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}:00 {self.name}: {self.count}"


class Binding(models.Model):
    """When an event matches, run a runbook with rendered parameters."""

    class OnStatus(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"
        ANY = "any"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    source = models.ForeignKey(
        Source,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bindings",
        help_text="Only events of this source; empty means any source.",
    )
    match = models.JSONField(default=list, blank=True)
    on_status = models.CharField(max_length=16, choices=OnStatus.choices, default=OnStatus.FIRING)
    runbook = models.ForeignKey("runbooks.Runbook", on_delete=models.PROTECT, related_name="bindings")
    parameters = models.JSONField(default=dict, blank=True)
    # Within the window, a second event with the same key starts no run.
    dedup_window_seconds = models.PositiveIntegerField(default=0)
    dedup_key = models.CharField(
        max_length=200, blank=True, help_text="A template of the event; empty means the event's fingerprint."
    )
    # A resolved event cancels this binding's runs of its fingerprint that have not started.
    cancel_on_resolve = models.BooleanField(default=False)
    # Circuit breaker: `breaker_failures` failed runs within the window trip
    # the binding (0: never); a tripped binding records matches as skipped
    # until a person resets it.
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_window_minutes = models.PositiveIntegerField(default=10)
    tripped_at = models.DateTimeField(null=True, blank=True)
    tripped_reason = models.TextField(blank=True)
    reset_at = models.DateTimeField(null=True, blank=True)  # failures before it no longer count
    requires_approval = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Webhooks read bindings from a per-process cache (events/hookconfig.py).
    objects = AnnouncingQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def audit_state(self) -> dict:
        """The binding as the API shows it: what its audit entries record."""
        return {
            "id": str(self.pk),
            "name": self.name,
            "source": self.source.slug if self.source_id is not None else None,
            "match": self.match,
            "on_status": self.on_status,
            "runbook": self.runbook.slug,
            "parameters": self.parameters,
            "dedup_window_seconds": self.dedup_window_seconds,
            "dedup_key": self.dedup_key,
            "cancel_on_resolve": self.cancel_on_resolve,
            "breaker_failures": self.breaker_failures,
            "breaker_window_minutes": self.breaker_window_minutes,
            "tripped_at": api_time(self.tripped_at),
            "tripped_reason": self.tripped_reason,
            "requires_approval": self.requires_approval,
            "enabled": self.enabled,
            "created_at": api_time(self.created_at),
            "updated_at": api_time(self.updated_at),
        }


class DedupEntry(models.Model):
    """The run a binding started for a dedup key, so that a repeat of the
    alert within the window is suppressed and can name the run that covered it."""

    MAX_WINDOW_SECONDS = 7 * 24 * 3600

    binding = models.ForeignKey(Binding, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    execution = models.ForeignKey("runbooks.Execution", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["binding", "key", "-created_at"])]

    def __str__(self):
        return f"{self.binding_id} {self.key}"
