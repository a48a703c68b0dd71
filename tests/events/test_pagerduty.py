"""PagerDuty v3 webhook subscriptions: signed notifications, retried
deliveries stored once."""

import hashlib
import hmac

import pytest
from django.db import OperationalError

from audit.models import AuditEntry
from events import ingest
from events.models import Event
from tests.events.helpers import as_bytes, load, post
from tests.factories import make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

SECRET = "Rr7sVw0Jq1Kp3Xz9Lm2Nb6Tc8Yd4Fg5Hh0Jk7Ll2Qq9Ww"
OLD_SECRET = "old-secret-being-rotated-out-0123456789"


@pytest.fixture
def pagerduty():
    return make_source("pd", "pagerduty", signing_secret=SECRET)


def signature(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, token, body: bytes, signature_header=None, webhook_id="a1b2c3d4-delivery-1", **headers):
    if signature_header is not None:
        headers["HTTP_X_PAGERDUTY_SIGNATURE"] = signature_header
    if webhook_id:
        headers["HTTP_X_WEBHOOK_ID"] = webhook_id
    return post(client, "pd", body, token, **headers)


def test_a_triggered_incident_becomes_a_firing_event(client, pagerduty):
    _, token = pagerduty
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    response = deliver(client, token, body, signature(body))
    assert response.status_code == 202, response.json()
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.name == "Checkout API error rate above 5%" and event.status == "firing"
    assert event.severity == "P1"  # the incident's priority, over its urgency
    assert event.fingerprint == "Q2V4LJ5ZK8TGHB"  # the incident id
    assert event.labels == {
        "event_type": "incident.triggered",
        "incident_id": "Q2V4LJ5ZK8TGHB",
        "incident_status": "triggered",
        "service": "Checkout API",
        "service_id": "PF9KMXH",
        "urgency": "high",
        "priority": "P1",
    }
    assert event.annotations["html_url"] == "https://acme.pagerduty.com/incidents/Q2V4LJ5ZK8TGHB"
    assert event.payload["data"]["number"] == 4812


def test_a_resolved_incident_is_resolved_with_the_triggers_fingerprint(client, pagerduty):
    _, token = pagerduty
    triggered = as_bytes(load("pagerduty/incident-triggered.json"))
    resolved = as_bytes(load("pagerduty/incident-resolved.json"))
    deliver(client, token, triggered, signature(triggered), webhook_id="delivery-1")
    response = deliver(client, token, resolved, signature(resolved), webhook_id="delivery-2")
    assert response.status_code == 202
    events = Event.objects.order_by("received_at")
    assert [(e.status, e.fingerprint) for e in events] == [
        ("firing", "Q2V4LJ5ZK8TGHB"),
        ("resolved", "Q2V4LJ5ZK8TGHB"),
    ]


def test_without_a_priority_the_severity_is_the_urgency(client, pagerduty):
    _, token = pagerduty
    document = load("pagerduty/incident-triggered.json")
    document["event"]["data"]["priority"] = None
    document["event"]["data"]["urgency"] = "low"
    body = as_bytes(document)
    response = deliver(client, token, body, signature(body))
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.severity == "low" and "priority" not in event.labels


def test_during_secret_rotation_any_of_several_signatures_may_match(client, pagerduty):
    _, token = pagerduty
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    header = f"{signature(body, OLD_SECRET)}, {signature(body)}"
    assert deliver(client, token, body, header).status_code == 202


@pytest.mark.parametrize(
    "header",
    [
        None,  # missing
        "",
        "v1=" + "0" * 64,  # well formed, wrong
        "v1=deadbeef",  # too short
        "v1=" + "zz" * 32,  # not hex
        "v0=abc",  # no v1
        "garbage",
        "v1=" + "é" * 64,  # not ASCII
    ],
)
def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(client, pagerduty, header):
    _, token = pagerduty
    audit_before = AuditEntry.objects.count()
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    response = deliver(client, token, body, header)
    assert response.status_code == 401 and response.json()["detail"]
    assert Event.objects.count() == 0 and AuditEntry.objects.count() == audit_before


def test_a_signature_of_another_body_is_401(client, pagerduty):
    _, token = pagerduty
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    tampered = body.replace(b'"urgency": "high"', b'"urgency": "low"')
    assert deliver(client, token, tampered, signature(body)).status_code == 401
    assert Event.objects.count() == 0


def test_a_valid_signature_does_not_replace_the_token(client, pagerduty):
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    assert deliver(client, None, body, signature(body)).status_code == 401


def test_a_retried_delivery_is_stored_once(client, pagerduty):
    _, token = pagerduty
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    first = deliver(client, token, body, signature(body), webhook_id="f3a1-retry-me")
    retry = deliver(client, token, body, signature(body), webhook_id="f3a1-retry-me")
    assert first.status_code == 202 and first.json()["accepted"] == 1
    assert retry.status_code == 202
    assert retry.json() == {"accepted": 0, "duplicate": True, "events": [], "executions": []}
    assert Event.objects.count() == 1


def test_the_same_delivery_id_on_another_source_is_not_a_duplicate(client, pagerduty):
    _, token = pagerduty
    _, other_token = make_source("pd2", "pagerduty", signing_secret=SECRET)
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    deliver(client, token, body, signature(body), webhook_id="same-id")
    other = post(
        client, "pd2", body, other_token, HTTP_X_PAGERDUTY_SIGNATURE=signature(body), HTTP_X_WEBHOOK_ID="same-id"
    )
    assert other.json()["accepted"] == 1 and Event.objects.count() == 2


def test_a_delivery_that_could_not_be_stored_is_stored_when_retried(client, pagerduty, monkeypatch):
    _, token = pagerduty
    body = as_bytes(load("pagerduty/incident-triggered.json"))

    def database_down(*args, **kwargs):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "ingest", database_down)
        assert deliver(client, token, body, signature(body), webhook_id="retry-after-503").status_code == 503
    retry = deliver(client, token, body, signature(body), webhook_id="retry-after-503")
    assert retry.status_code == 202 and retry.json()["accepted"] == 1


def test_a_ping_is_accepted_and_stores_nothing(client, pagerduty):
    _, token = pagerduty
    body = as_bytes(load("pagerduty/ping.json"))
    response = deliver(client, token, body, signature(body))
    assert response.status_code == 202 and response.json()["accepted"] == 0
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "document",
    [{}, {"event": None}, {"event": {"event_type": "incident.triggered"}}, {"event": {"data": {}}}, []],
)
def test_a_signed_body_that_is_not_a_v3_webhook_is_400(client, pagerduty, document):
    _, token = pagerduty
    body = as_bytes(document)
    response = deliver(client, token, body, signature(body))
    assert response.status_code == 400 and response.json()["detail"]


def test_an_incident_note_refers_to_its_incident(client, pagerduty):
    _, token = pagerduty
    document = load("pagerduty/incident-triggered.json")
    incident = document["event"]["data"]
    document["event"]["event_type"] = "incident.annotated"
    document["event"]["data"] = {
        "type": "incident_note",
        "id": "P7WLBUF",
        "content": "Rolled back the deploy",
        "incident": {"id": incident["id"], "type": "incident_reference", "summary": incident["title"]},
    }
    body = as_bytes(document)
    event = Event.objects.get(pk=deliver(client, token, body, signature(body)).json()["events"][0])
    assert event.name == incident["title"] and event.fingerprint == incident["id"] and event.status == "firing"
