"""Notifications: channels (where a message goes), subscriptions (which
events of which runbook, binding or gate go there) and deliveries (one
message to one channel, with its attempts and last error)."""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    SLACK = "slack"
    WEBHOOK = "webhook"
    EMAIL = "email"
    PAGERDUTY = "pagerduty"


class EventKind(models.TextChoices):
    RUN_STARTED = "run_started"
    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"  # failed, timed_out or lost
    AWAITING_APPROVAL = "awaiting_approval"
    BINDING_TRIPPED = "binding_tripped"
    GATE_FAILED = "gate_failed"  # verdict fail or error


# The events each kind of subscription may ask for.
RUN_EVENTS = [
    EventKind.RUN_STARTED,
    EventKind.RUN_SUCCEEDED,
    EventKind.RUN_FAILED,
    EventKind.AWAITING_APPROVAL,
]
EVENTS_FOR = {
    "runbook": RUN_EVENTS,
    "binding": [*RUN_EVENTS, EventKind.BINDING_TRIPPED],
    "gate": [EventKind.GATE_FAILED],
}
TEST_EVENT = "test"  # a delivery sent by the channel's Test button


class Channel(models.Model):
    """Where messages go. What must stay secret (a Slack webhook URL, a
    PagerDuty routing key, a webhook's signing secret) is encrypted in
    `secret_encrypted` and never shown again; `url` (generic webhook) and
    `recipients` (email) are plain."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(max_length=2000, blank=True)  # the generic webhook's URL
    recipients = models.JSONField(default=list, blank=True)  # email addresses
    secret_encrypted = models.TextField(blank=True)
    # Shown instead of the secret: "https://hooks.slack.com/…", "routing key …a1b2".
    secret_hint = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.slug

    @property
    def target(self) -> str:
        """What the pages and the API show as the destination (never a secret)."""
        if self.kind == Kind.WEBHOOK:
            return redacted(self.url)
        if self.kind == Kind.EMAIL:
            return ", ".join(self.recipients)
        return self.secret_hint


def redacted(url: str) -> str:
    """A URL without what may hold a credential (user:password@, ?query)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    credentials = "***@" if parts.username is not None else ""
    return f"{parts.scheme}://{credentials}{parts.hostname}{port}{parts.path}{'?…' if parts.query else ''}"


class Subscription(models.Model):
    """A channel hears these events of exactly one runbook, binding or gate."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="subscriptions")
    runbook = models.ForeignKey("runbooks.Runbook", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    binding = models.ForeignKey("events.Binding", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    gate = models.ForeignKey("gates.Gate", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    events = models.JSONField(default=list)  # EventKind values
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="subscription_exactly_one_subject",
                condition=(
                    Q(runbook__isnull=False, binding__isnull=True, gate__isnull=True)
                    | Q(runbook__isnull=True, binding__isnull=False, gate__isnull=True)
                    | Q(runbook__isnull=True, binding__isnull=True, gate__isnull=False)
                ),
            )
        ]

    def __str__(self):
        return f"{self.channel_id} {self.subject_type} {','.join(self.events)}"

    @property
    def subject_type(self) -> str:
        return "runbook" if self.runbook_id else "binding" if self.binding_id else "gate"


class Delivery(models.Model):
    """One message to one channel. `pending` until an attempt succeeds
    (`sent`) or the attempts run out or the error is permanent (`failed`)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel_name = models.CharField(max_length=100)  # kept when the channel is deleted
    subscription = models.ForeignKey(Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=32)  # an EventKind, or "test"
    execution = models.ForeignKey(
        "runbooks.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    binding = models.ForeignKey("events.Binding", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    gate_check = models.ForeignKey("gates.Check", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.JSONField(default=dict)  # what was said, the same for every kind of channel
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)  # kept after a later attempt succeeds
    attempt_log = models.JSONField(default=list, blank=True)  # [{"n", "at", "ok", "detail"}]
    created_at = models.DateTimeField(default=timezone.now)
    # The next attempt is due then; the sweep re-sends pending rows whose
    # message the broker may have lost (see notifications/delivery.py).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # An attempt in flight holds the row until then: a redelivered message waits.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["channel", "-created_at"]),
            models.Index(fields=["execution", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self):
        return f"{self.channel_name} {self.event} {self.status}"
