"""Generic sources: X-Steward-Signature, and the presets for tools that can
only send their own JSON shape."""

import time

import pytest

from audit.models import AuditEntry
from events.models import Event, Source
from events.sources import generic
from tests.events.helpers import as_bytes, load, post
from tests.events.helpers import steward_signature as sign
from tests.factories import make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

SECRET = "generic-signing-secret-0123456789"
BODY = as_bytes({"name": "DiskFull", "labels": {"instance": "db-9"}})


def send(client, token, body=BODY, signature=None, slug="gen"):
    headers = {"HTTP_X_STEWARD_SIGNATURE": signature} if signature is not None else {}
    return post(client, slug, body, token, **headers)


@pytest.fixture
def signed_source():
    return make_source("gen", "generic", signing_secret=SECRET)


def test_a_body_signed_with_the_signing_secret_is_accepted(client, signed_source):
    _, token = signed_source
    response = send(client, token, signature=sign(BODY, SECRET))
    assert response.status_code == 202 and response.json()["accepted"] == 1


def test_a_source_with_a_signing_secret_requires_the_signature(client, signed_source):
    _, token = signed_source
    response = send(client, token)
    assert response.status_code == 401 and "X-Steward-Signature" in response.json()["detail"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "signature",
    [
        sign(BODY, "another-secret-entirely-000000000"),
        sign(BODY + b" ", SECRET),
        # Times are taken when the test runs (a lambda), not when the suite is
        # collected: a long suite would otherwise bring "ahead" into the window.
        lambda: sign(BODY, SECRET, t=int(time.time()) - 330),  # too old
        lambda: sign(BODY, SECRET, t=int(time.time()) + 330),  # too far ahead
        "t=abc,v1=" + "0" * 64,
        "t=²,v1=" + "0" * 64,
        "v1=" + "0" * 64,  # no t
        lambda: f"t={int(time.time())}",  # no v1
        lambda: f"t={int(time.time())},v1=nothex",
        "",
        "🙂",
    ],
)
def test_a_wrong_stale_or_malformed_signature_is_401_and_stores_nothing(client, signed_source, signature):
    _, token = signed_source
    signature = signature() if callable(signature) else signature
    audit_before = AuditEntry.objects.count()
    response = send(client, token, signature=signature)
    assert response.status_code == 401 and response.json()["detail"]
    assert Event.objects.count() == 0 and AuditEntry.objects.count() == audit_before


def test_a_signature_four_minutes_old_is_still_accepted(client, signed_source):
    _, token = signed_source
    assert send(client, token, signature=sign(BODY, SECRET, t=int(time.time()) - 240)).status_code == 202


def test_without_a_signing_secret_the_signature_is_optional_and_keyed_with_the_token(client):
    _, token = make_source("gen", "generic")
    assert send(client, token).status_code == 202
    assert send(client, token, signature=sign(BODY, token)).status_code == 202
    assert send(client, token, signature=sign(BODY, "not-the-token")).status_code == 401
    assert Event.objects.count() == 2


def test_a_signature_never_replaces_the_token(client, signed_source):
    assert send(client, None, signature=sign(BODY, SECRET)).status_code == 401


# --- presets -----------------------------------------------------------------


def preset_source(preset, **fields):
    return make_source(f"{preset.replace('_', '-')}", "generic", preset=preset, **fields)


def test_datadog_preset_reads_the_webhook_payload(client):
    _, token = preset_source("datadog")
    response = post(client, "datadog", load("generic/datadog.json"), token)
    assert response.status_code == 202, response.json()
    event = Event.objects.get()
    assert (event.name, event.status, event.severity) == ("Disk usage high on web-01", "firing", "P2")
    assert event.fingerprint == "a7b3c91d0e2f4a6b8c0d1e2f3a4b5c6d"
    assert event.summary == "Disk usage is above 90% on web-01 (value: 95.2)."
    assert event.labels == {"env": "prod", "host": "web-01", "service": "checkout", "team": "platform", "monitor": ""}


def test_datadog_recovered_is_resolved(client):
    _, token = preset_source("datadog")
    recovered = {**load("generic/datadog.json"), "alert_transition": "Recovered", "alert_type": "success"}
    post(client, "datadog", recovered, token)
    assert Event.objects.get().status == "resolved"


def test_splunk_preset_reads_the_alert_action_payload(client):
    _, token = preset_source("splunk")
    assert post(client, "splunk", load("generic/splunk.json"), token).status_code == 202
    event = Event.objects.get()
    assert (event.name, event.status, event.severity) == ("Checkout 5xx burst", "firing", "high")
    assert event.summary == "27 HTTP 503 from checkout on web-01 in the last 5 minutes"
    assert event.labels["host"] == "web-01" and event.labels["count"] == "27"
    assert event.payload["sid"].startswith("scheduler__admin__search__")


def test_elastic_watcher_preset_reads_the_watch_context(client):
    _, token = preset_source("elastic_watcher")
    assert post(client, "elastic-watcher", load("generic/elastic_watcher.json"), token).status_code == 202
    event = Event.objects.get()
    assert (event.name, event.status, event.severity) == ("Checkout error logs", "firing", "critical")
    assert event.summary == "More than 100 ERROR lines from checkout in 5 minutes"
    assert event.labels == {"service": "checkout", "env": "prod"}
    assert event.payload["payload"]["hits"]["total"]["value"] == 143


def test_elastic_watcher_without_metadata_is_named_after_the_watch(client):
    _, token = preset_source("elastic_watcher")
    watch = {k: v for k, v in load("generic/elastic_watcher.json").items() if k != "metadata"}
    post(client, "elastic-watcher", watch, token)
    assert Event.objects.get().name == "checkout-error-logs"


def test_eventbridge_preset_reads_a_cloudwatch_alarm_state_change(client):
    _, token = preset_source("eventbridge")
    alarm = load("generic/eventbridge.json")
    post(client, "eventbridge", alarm, token)
    ok = {**alarm, "id": "another-event"}
    ok["detail"] = {**alarm["detail"], "state": {"value": "OK", "reason": "Threshold Crossed: back to normal"}}
    post(client, "eventbridge", ok, token)
    firing, resolved = Event.objects.order_by("received_at")
    assert (firing.name, firing.status) == ("checkout-api-latency", "firing")
    assert firing.summary.startswith("Threshold Crossed: 3 out of the last 3")
    assert resolved.status == "resolved" and resolved.fingerprint == firing.fingerprint


def test_eventbridge_preset_reads_any_event_by_its_detail_type(client):
    _, token = preset_source("eventbridge")
    post(client, "eventbridge", load("generic/eventbridge-ec2-state-change.json"), token)
    event = Event.objects.get()
    assert (event.name, event.status) == ("EC2 Instance State-change Notification", "firing")
    assert event.labels == {"instance-id": "i-0abcd1234ef567890", "state": "stopped"}


def test_an_explicit_mapping_overrides_the_preset_field_by_field(client):
    _, token = preset_source("splunk", mapping={"name": "result.service", "fingerprint": "result.host"})
    post(client, "splunk", load("generic/splunk.json"), token)
    event = Event.objects.get()
    assert event.name == "checkout" and event.fingerprint == "web-01"
    assert event.severity == "high"  # still the preset's


def test_without_a_preset_status_words_stay_strict():
    with pytest.raises(generic.PayloadError):
        generic.parse({"name": "x", "status": "Recovered"}, Source(kind="generic", mapping={}))
