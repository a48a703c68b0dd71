"""Webhook bodies that are valid enough for Python's json but not for the
database (NaN, Infinity, NUL, lone surrogates), nested to blow the stack, or
carrying too many alerts: each is a clear 4xx that stores nothing, for every
kind of source, never a 503 (which tools retry for ever) or a 500."""

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from audit.models import AuditEntry
from core.env import env_int
from events.models import Event
from events.sources import base, sns
from runbooks.models import Execution
from tests.events.helpers import load, post
from tests.factories import make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

PD_SECRET = "Rr7sVw0Jq1Kp3Xz9Lm2Nb6Tc8Yd4Fg5Hh0Jk7Ll2Qq9Ww"


def _alertmanager(alert_json: str) -> bytes:
    """One Alertmanager alert, written as raw JSON text (so NaN and escapes
    reach the server exactly as a hostile sender writes them)."""
    return (
        '{"receiver":"steward","status":"firing","version":"4","groupKey":"{}",'
        f'"alerts":[{{"status":"firing","labels":{{"alertname":"Disk","instance":"web-01"}},{alert_json}}}]}}'
    ).encode()


HOSTILE = {
    "NaN": _alertmanager('"value": NaN'),
    "Infinity": _alertmanager('"value": -Infinity'),
    "a float too large": _alertmanager('"value": 1e400'),
    "NUL in a value": _alertmanager('"annotations": {"summary": "disk\\u0000full"}'),
    "NUL in a key": _alertmanager('"annotations": {"sum\\u0000mary": "disk full"}'),
    "a lone surrogate": _alertmanager('"annotations": {"summary": "\\ud800"}'),
    "10,000-deep nesting": _alertmanager('"extra": ' + "[" * 10_000 + "]" * 10_000),
    "65-deep nesting": _alertmanager('"extra": ' + '{"a":' * 62 + "1" + "}" * 62),
}


def _assert_nothing_stored():
    assert Event.objects.count() == 0
    assert Execution.objects.count() == 0
    assert not AuditEntry.objects.filter(action__in=["event.received", "execution.created"]).exists()


@pytest.fixture
def alertmanager():
    source, token = make_source("am", "alertmanager")
    make_binding(make_runbook(name="Clean disk"), source)
    return token


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_body_the_database_could_not_store_is_400_and_stores_nothing(client, alertmanager, body):
    response = post(client, "am", body, alertmanager)
    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    _assert_nothing_stored()


@pytest.mark.parametrize(
    "body,words",
    [
        (HOSTILE["NaN"], "NaN is not JSON"),
        (HOSTILE["NUL in a key"], "NUL character"),
        (HOSTILE["10,000-deep nesting"], "deeper than 64 levels"),
        (HOSTILE["a lone surrogate"], "surrogate"),
    ],
)
def test_the_400_says_what_is_wrong(client, alertmanager, body, words):
    assert words in post(client, "am", body, alertmanager).json()["detail"]


def test_ordinary_nesting_and_escapes_are_accepted(client, alertmanager):
    """Deep enough for any real tool, and emoji written as surrogate pairs
    (as Python's json.dumps writes them) are text."""
    body = _alertmanager('"annotations": {"summary": "\\ud83d\\udd25 hot"}, "extra": ' + "[" * 50 + "]" * 50)
    response = post(client, "am", body, alertmanager)
    assert response.status_code == 202, response.content
    assert Event.objects.get().summary == "\N{FIRE} hot"


@pytest.mark.parametrize("body", [b'{"name": "Disk", "value": NaN}', b'[{"name": "Disk\\u0000"}]'])
def test_generic_sources_refuse_them_too(client, body):
    _, token = make_source("gen", "generic")
    assert post(client, "gen", body, token).status_code == 400
    _assert_nothing_stored()


def test_grafana_sources_refuse_them_too(client):
    _, token = make_source("graf", "grafana")
    assert post(client, "graf", HOSTILE["NUL in a value"], token).status_code == 400
    _assert_nothing_stored()


def test_pagerduty_sources_refuse_them_too(client):
    _, token = make_source("pd", "pagerduty", signing_secret=PD_SECRET)
    body = json.dumps(load("pagerduty/incident-triggered.json")).replace('"title": "', '"title": "\\u0000', 1).encode()
    assert b"\\u0000" in body
    signature = "v1=" + hmac.new(PD_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = post(client, "pd", body, token, HTTP_X_PAGERDUTY_SIGNATURE=signature, HTTP_X_WEBHOOK_ID="d-1")
    assert response.status_code == 400
    _assert_nothing_stored()


@pytest.mark.parametrize(
    "message",
    [
        '{"AlarmName": "x", "NewStateValue": "ALARM", "Trigger": {"Threshold": NaN}}',
        '{"AlarmName": "x\\u0000", "NewStateValue": "ALARM"}',
        "[" * 10_000 + "]" * 10_000,
    ],
)
def test_an_sns_message_holding_hostile_json_is_no_alarm(message):
    """The inner Message is decoded by the same rules: it is kept as the
    text it is, never read as an alarm the database would refuse."""
    body = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": message}
    (event,) = sns.parse(body, None)
    assert event.payload["message"] == message and "alarm" not in event.payload
    assert event.name == "SNS notification"


def test_an_sns_body_holding_nul_is_400_before_its_signature_is_fetched(client):
    _, token = make_source("aws", "sns")
    body = b'{"Type": "Notification", "Message": "a\\u0000b", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/x.pem"}'
    response = post(client, "aws", body, token, content_type="text/plain; charset=UTF-8")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    _assert_nothing_stored()


# --- how many alerts one request may carry -----------------------------------


def _group(count: int) -> dict:
    alert = load("alertmanager/firing-one-alert.json")["alerts"][0]
    return {**load("alertmanager/firing-one-alert.json"), "alerts": [alert] * count}


def test_more_alerts_than_the_limit_is_413_naming_it_and_stores_nothing(client, alertmanager, settings):
    settings.STEWARD_WEBHOOK_MAX_ALERTS = 3
    response = post(client, "am", _group(4), alertmanager)
    assert response.status_code == 413
    assert "At most 3 alerts per request" in response.json()["detail"]
    _assert_nothing_stored()
    assert post(client, "am", _group(3), alertmanager).status_code == 202
    assert Event.objects.count() == 3


def test_the_default_limit_is_1000_alerts(client, alertmanager):
    """30,000 tiny alerts in one body held the web tier for seconds."""
    body = json.dumps({**_group(0), "alerts": [{"labels": {"alertname": "x"}}] * 30_000})
    assert len(body) < 1024 * 1024
    response = post(client, "am", body, alertmanager)
    assert response.status_code == 413 and "At most 1000 alerts" in response.json()["detail"]
    _assert_nothing_stored()


def test_generic_arrays_have_the_same_limit(client, settings):
    settings.STEWARD_WEBHOOK_MAX_ALERTS = 2
    _, token = make_source("gen", "generic")
    response = post(client, "gen", [{"name": "a"}, {"name": "b"}, {"name": "c"}], token)
    assert response.status_code == 413 and "At most 2 alerts" in response.json()["detail"]
    _assert_nothing_stored()


@pytest.mark.parametrize("raw", ["0", "-5", "many"])
def test_the_limit_setting_refuses_what_it_does_not_understand(monkeypatch, raw):
    monkeypatch.setenv("STEWARD_WEBHOOK_MAX_ALERTS", raw)
    with pytest.raises(ImproperlyConfigured, match="STEWARD_WEBHOOK_MAX_ALERTS"):
        env_int("STEWARD_WEBHOOK_MAX_ALERTS", 1000, minimum=1)


def test_check_document_never_recurses():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(base.PayloadError, match="deeper than 64"):
        base.check_document(deep)
