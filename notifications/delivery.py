"""Sending a delivery: one attempt per task message, with exponential
backoff between attempts, every attempt written down.

The row is the work and the broker only a doorbell, as for executions: an
attempt starts with a conditional update that takes a lease on a pending
row whose next attempt is due, so a redelivered message (acks_late) or the
sweep's second message sends nothing twice, and a sent delivery is never
sent again. A failed attempt schedules the next one (STEWARD_NOTIFY_BACKOFF_SECONDS,
doubling, at most STEWARD_NOTIFY_MAX_BACKOFF_SECONDS) until
STEWARD_NOTIFY_MAX_ATTEMPTS; a permanent error (the URL is refused, the
receiver answers 4xx) fails the delivery at once.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import publish as core_publish
from notifications import senders
from notifications.models import Delivery
from notifications.transport import SendError

log = logging.getLogger(__name__)
Status = Delivery.Status
BATCH = 500
EARLY_SECONDS = 0.5  # a message may arrive this much before its attempt is due (clocks differ)
MAX_LOG = 20


def publish(ids: list, countdown: float | None = None) -> None:
    """Ring for each delivery; a failed publish leaves it pending for the sweep."""
    jobs = [((str(pk),), settings.STEWARD_NOTIFY_QUEUE) for pk in ids]
    core_publish.publish("notifications.deliver", jobs, "notification(s)", countdown=countdown)


def enqueue_on_commit(ids: list) -> None:
    if ids:
        transaction.on_commit(lambda: publish(ids), robust=True)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`."""
    return min(
        settings.STEWARD_NOTIFY_BACKOFF_SECONDS * 2 ** (attempts - 1), settings.STEWARD_NOTIFY_MAX_BACKOFF_SECONDS
    )


def _claim(delivery_id) -> Delivery | None:
    now = timezone.now()
    lease = now + timedelta(seconds=3 * settings.STEWARD_NOTIFY_TIMEOUT_SECONDS + 30)
    claimed = (
        Delivery.objects.filter(
            pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now + timedelta(seconds=EARLY_SECONDS)
        )
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=lease, attempts=F("attempts") + 1, last_attempt_at=now)
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("channel").get(pk=delivery_id)


def attempt(delivery_id) -> str | None:
    """One attempt of a pending, due delivery; its new status, or None when
    there was nothing to do (sent already, not due, another attempt in flight)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    try:
        if delivery.channel is None:
            raise SendError("the channel was deleted", permanent=True)
        if not delivery.channel.enabled:
            raise SendError("the channel is disabled", permanent=True)
        detail = senders.send(delivery.channel, delivery)
    except SendError as exc:
        return _failed(delivery, str(exc), exc.permanent)
    except Exception as exc:  # a bug of ours: recorded, and tried again
        log.exception("notification %s: the sender failed", delivery.pk)
        return _failed(delivery, f"Steward could not send it ({type(exc).__name__})", permanent=False)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENT, sent_at=now, leased_until=None, attempt_log=_logged(delivery, now, True, detail)
    )
    log.info("notification %s sent to %s (attempt %d)", delivery.pk, delivery.channel_name, delivery.attempts)
    return Status.SENT


def _logged(delivery: Delivery, at, ok: bool, detail: str) -> list:
    entry = {"n": delivery.attempts, "at": at.isoformat(), "ok": ok, "detail": detail[:500]}
    return [*delivery.attempt_log, entry][-MAX_LOG:]


def _failed(delivery: Delivery, error: str, permanent: bool) -> str:
    now = timezone.now()
    fields = {"last_error": error, "leased_until": None, "attempt_log": _logged(delivery, now, False, error)}
    if permanent or delivery.attempts >= settings.STEWARD_NOTIFY_MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk).update(status=Status.FAILED, **fields)
        log.warning("notification %s to %s failed: %s", delivery.pk, delivery.channel_name, error)
        return Status.FAILED
    delay = backoff(delivery.attempts)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + timedelta(seconds=delay), **fields)
    log.info("notification %s attempt %d failed (%s); next in %.1f s", delivery.pk, delivery.attempts, error, delay)
    publish([delivery.pk], countdown=delay)
    return Status.PENDING


def requeue_stale(now=None) -> int:
    """The sweep's step: send again pending deliveries whose attempt has
    been due for a while (the broker lost the message, or was down)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.STEWARD_REQUEUE_AFTER_SECONDS)
    ids = list(
        Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=stale)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    if ids:
        Delivery.objects.filter(pk__in=ids, status=Status.PENDING).update(next_attempt_at=now)
        publish(ids)
        log.info("sweep: sent %d pending notification(s) to the broker again", len(ids))
    return len(ids)
