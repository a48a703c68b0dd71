"""One attempt of a delivery against a receiver on loopback (the far side
of the network): what each kind of channel sends, the signature, retries,
and what the guard stops at send time."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit import trail
from notifications import channels, delivery, messages
from notifications.models import Channel, Delivery
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook

pytestmark = pytest.mark.django_db

ROUTING_KEY = "R0123456789abcdefABCDEF0123456789"


def make_channel(kind, name="Ops", **data) -> tuple[Channel, str | None]:
    prepared = channels.prepare(kind, data)
    return channels.create_channel(name, kind, prepared, trail.SYSTEM), prepared.generated_secret


def failed_run(**fields) -> Execution:
    runbook = make_runbook(name="Disk cleanup", slug="disk")
    binding = make_binding(runbook, name="disk full")
    return Execution.objects.create(
        runbook=runbook,
        version=runbook.current_version,
        binding=binding,
        status="failed",
        exit_code=2,
        result={"freed_gb": 0, "token": "***"},
        error="rm: cannot remove '/var/log': Permission denied",
        started_at=timezone.now() - timedelta(seconds=3),
        finished_at=timezone.now(),
        **fields,
    )


def queue(channel, event="run_failed", execution=None) -> Delivery:
    execution = execution or failed_run()
    return Delivery.objects.create(
        channel=channel,
        channel_name=channel.name,
        event=event,
        execution=execution,
        message=messages.for_execution(event, execution),
    )


def test_a_webhook_arrives_signed_with_the_channel_secret_and_a_delivery_id(receiver):
    r = receiver()
    channel, secret = make_channel("webhook", url=r.url("/steward"))
    row = queue(channel)
    assert delivery.attempt(row.pk) == "sent"
    [request] = r.requests
    assert request.path == "/steward" and request.headers["X-Steward-Delivery"] == str(row.pk)
    t, v1 = (part.split("=", 1)[1] for part in request.headers["X-Steward-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{t}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    body = request.json()
    assert body["id"] == str(row.pk) and body["event"] == "run_failed"
    assert (
        body["message"]["status"] == "failed" and body["message"]["result_summary"] == '{"freed_gb": 0, "token": "***"}'
    )
    assert body["message"]["url"].endswith(f"/executions/{row.execution_id}/")
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.attempt_log[0]["ok"] is True and row.attempt_log[0]["detail"] == "HTTP 200"


def test_slack_gets_text_and_blocks_with_the_error_result_and_link(receiver):
    r = receiver()
    channel, _ = make_channel("slack", url=r.url("/services/T0/B0/x"))
    row = queue(channel)
    assert delivery.attempt(row.pk) == "sent"
    body = r.requests[0].json()
    assert body["text"].startswith("Disk cleanup failed: failed")
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds[0] == "section" and kinds[-1] == "context"
    assert f"/executions/{row.execution_id}/|Disk cleanup failed" in body["blocks"][0]["text"]["text"]
    text = json.dumps(body["blocks"])
    assert "Permission denied" in text and "freed_gb" in text and "*Binding*\\ndisk full" in text


def test_slack_escapes_what_its_markup_would_read():
    message = {**messages.for_test(Channel(name="<!channel> & co", kind="slack")), "error": "<@U123> broke"}
    from notifications.senders import slack

    text = json.dumps(slack.body_of(message))
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text and "&lt;@U123&gt;" in text


def test_pagerduty_triggers_a_failure_and_resolves_it_when_a_retry_succeeds(receiver, settings):
    r = receiver()
    settings.STEWARD_PAGERDUTY_EVENTS_URL = r.url("/v2/enqueue")
    channel, _ = make_channel("pagerduty", routing_key=ROUTING_KEY)
    first = failed_run()
    assert delivery.attempt(queue(channel, execution=first).pk) == "sent"
    retry = Execution.objects.create(
        runbook=first.runbook, version=first.version, status="succeeded", attempt=2, retry_of=first
    )
    assert delivery.attempt(queue(channel, "run_succeeded", execution=retry).pk) == "sent"
    trigger, resolve = (request.json() for request in r.requests)
    assert r.requests[0].path == "/v2/enqueue"
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == resolve["dedup_key"] == f"steward-execution-{first.pk}"
    payload = trigger["payload"]
    assert payload["summary"] == "Disk cleanup failed" and payload["severity"] == "error"
    assert payload["source"] and payload["component"] == "disk" and payload["group"] == "disk full"
    assert payload["custom_details"]["error"].endswith("Permission denied")
    assert payload["custom_details"]["result"] == '{"freed_gb": 0, "token": "***"}'
    assert trigger["links"][0]["href"].endswith(f"/executions/{first.pk}/")
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}


def test_email_goes_through_djangos_backend_with_subject_and_diagnosis(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    channel, _ = make_channel("email", recipients=["ops@example.com", "lead@example.com"])
    row = queue(channel)
    assert delivery.attempt(row.pk) == "sent"
    [message] = mail.outbox
    assert message.subject == "[Steward] Disk cleanup failed"
    assert message.to == ["ops@example.com", "lead@example.com"]
    assert "Permission denied" in message.body and '"freed_gb": 0' in message.body
    assert f"/executions/{row.execution_id}/" in message.body and message.extra_headers["X-Steward-Delivery"] == str(
        row.pk
    )


def test_at_send_time_the_guard_refuses_without_connecting_in_default_settings(receiver, settings):
    r = receiver()
    channel, _ = make_channel("webhook", url=r.url())  # saved while loopback was allowed
    settings.STEWARD_NOTIFY_ALLOWED_NETWORKS = []
    row = queue(channel)
    assert delivery.attempt(row.pk) == "failed"
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error.startswith("refused: 127.0.0.1 is a loopback address")
    assert r.connections == 0


def test_a_failed_attempt_is_tried_again_after_the_backoff_and_keeps_its_error(receiver):
    r = receiver([500])
    channel, _ = make_channel("webhook", url=r.url())
    row = queue(channel)
    before = timezone.now()
    assert delivery.attempt(row.pk) == "pending"
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error == "HTTP 500: receiver is down"
    assert before + timedelta(seconds=0.9) < row.next_attempt_at < timezone.now() + timedelta(seconds=1.1)
    assert delivery.attempt(row.pk) is None  # not due yet: a duplicate message sends nothing
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert delivery.attempt(row.pk) == "sent"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "HTTP 500: receiver is down")
    assert [entry["ok"] for entry in row.attempt_log] == [False, True]
    assert delivery.attempt(row.pk) is None and len(r.requests) == 2  # sent: never again


def test_the_last_attempt_fails_the_delivery(receiver, settings):
    settings.STEWARD_NOTIFY_MAX_ATTEMPTS = 2
    r = receiver([503, 502])
    row = queue(make_channel("webhook", url=r.url())[0])
    assert delivery.attempt(row.pk) == "pending"
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert delivery.attempt(row.pk) == "failed"
    row.refresh_from_db()
    assert row.attempts == 2 and row.last_error == "HTTP 502: receiver is down"


@pytest.mark.parametrize(("status", "error"), [(404, "HTTP 404"), (302, "redirects are not followed")])
def test_a_4xx_or_a_redirect_fails_at_once_and_the_redirect_is_not_followed(receiver, status, error):
    r = receiver([status])
    row = queue(make_channel("webhook", url=r.url())[0])
    assert delivery.attempt(row.pk) == "failed"
    row.refresh_from_db()
    assert row.attempts == 1 and error in row.last_error and len(r.requests) == 1


def test_the_sweep_resends_pending_deliveries_whose_message_was_lost(settings):
    channel, _ = make_channel("email", recipients=["ops@example.com"])
    long_ago = timezone.now() - timedelta(seconds=settings.STEWARD_REQUEUE_AFTER_SECONDS + 5)
    run = failed_run()
    stale = queue(channel, execution=run)
    Delivery.objects.filter(pk=stale.pk).update(next_attempt_at=long_ago)
    in_flight = queue(channel, execution=run)
    Delivery.objects.filter(pk=in_flight.pk).update(
        next_attempt_at=long_ago, leased_until=timezone.now() + timedelta(seconds=30)
    )
    queue(channel, execution=run)  # fresh: its message is on its way
    assert delivery.requeue_stale() == 1
    stale.refresh_from_db()
    assert stale.next_attempt_at > long_ago
    assert delivery.requeue_stale() == 0


def test_backoff_doubles_up_to_its_ceiling(settings):
    settings.STEWARD_NOTIFY_BACKOFF_SECONDS = 30
    settings.STEWARD_NOTIFY_MAX_BACKOFF_SECONDS = 100
    assert [delivery.backoff(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_credentials_in_a_webhook_url_become_basic_auth(receiver):
    r = receiver()
    row = queue(make_channel("webhook", url=f"http://steward:s3cret@127.0.0.1:{r.port}/hook?x=1")[0])
    assert delivery.attempt(row.pk) == "sent"
    assert r.requests[0].path == "/hook?x=1" and r.requests[0].headers["Authorization"] == "Basic c3Rld2FyZDpzM2NyZXQ="
