"""AWS SNS subscriptions: real RSA signatures with a throwaway certificate;
only the network fetch of sns.fetch is replaced."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from audit.models import AuditEntry
from events.models import Event
from events.sources import sns
from events.sources.base import UpstreamError
from runbooks.models import Execution
from tests.events.helpers import load, post
from tests.factories import make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
# The keys AWS documents as signed, in order (Subject only when present).
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def _key_and_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def aws():
    """SNS's signing key and the PEM certificate it publishes."""
    return _key_and_certificate()


def signed(message: dict, key, version: str = "1") -> dict:
    """The message as SNS sends it: signed over AWS's canonical string."""
    keys = NOTIFICATION_KEYS if message["Type"] == "Notification" else SUBSCRIPTION_KEYS
    canonical = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message).encode()
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(canonical, padding.PKCS1v15(), digest)
    return {
        **message,
        "SigningCertURL": message.get("SigningCertURL", CERT_URL),
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


@pytest.fixture
def network(monkeypatch, aws):
    """sns.fetch answered locally: the certificate, or SNS's confirmation."""
    fetched = []

    def fetch(url):
        fetched.append(url)
        if url.endswith(".pem"):
            return aws[1]
        return b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult/></ConfirmSubscriptionResponse>"

    monkeypatch.setattr(sns, "fetch", fetch)
    return fetched


@pytest.fixture
def source():
    return make_source("aws", "sns")


def deliver(client, token, message, content_type="text/plain; charset=UTF-8", **headers):
    headers.setdefault("HTTP_X_AMZ_SNS_MESSAGE_TYPE", message.get("Type", "") if isinstance(message, dict) else "")
    return post(client, "aws", message, token, content_type=content_type, **headers)


def alarm_notification(**alarm_changes) -> dict:
    message = load("sns/cloudwatch-alarm-notification.json")
    alarm = {**json.loads(message["Message"]), **alarm_changes}
    return {**message, "Message": json.dumps(alarm)}


def test_a_subscription_confirmation_is_confirmed_and_stores_no_event(client, source, aws, network):
    _, token = source
    message = signed(load("sns/subscription-confirmation.json"), aws[0])
    response = deliver(client, token, message)
    assert response.status_code == 200, response.json()
    assert response.json() == {"confirmed": True}
    assert network == [CERT_URL, message["SubscribeURL"]]
    assert Event.objects.count() == 0
    assert AuditEntry.objects.filter(action="source.subscribed", object_id="aws").exists()


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_cloudwatch_alarm_becomes_a_firing_event_named_after_the_alarm(client, source, aws, network, version):
    _, token = source
    runbook = make_runbook(name="Roll back checkout")
    make_binding(runbook, source[0], match=[{"path": "labels.LoadBalancer", "op": "startswith", "value": "app/"}])
    response = deliver(client, token, signed(load("sns/cloudwatch-alarm-notification.json"), aws[0], version))
    assert response.status_code == 202, response.json()
    assert len(response.json()["executions"]) == 1
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.name == "checkout-api-5xx" and event.status == "firing" and event.severity == ""
    assert event.summary.startswith("Threshold Crossed: 1 out of the last 1 datapoints [12.0")
    assert event.labels == {
        "alarm_state": "ALARM",
        "namespace": "AWS/ApplicationELB",
        "metric_name": "HTTPCode_Target_5XX_Count",
        "account_id": "123456789012",
        "region": "eu-west-1",
        "topic_arn": "arn:aws:sns:eu-west-1:123456789012:prod-alarms",
        "LoadBalancer": "app/checkout-prod/50dc6c495c0c9188",
        "TargetGroup": "targetgroup/checkout-api/943f017f100becff",
    }
    assert event.payload["alarm"]["Trigger"]["Threshold"] == 5.0
    assert event.payload["sns"]["MessageId"] == "5c1e3a9d-7b2f-5e40-9a6c-0d8f1b2e3c4a"


def test_an_alarm_back_to_ok_is_resolved_with_the_same_fingerprint(client, source, aws, network):
    _, token = source
    deliver(client, token, signed(alarm_notification(), aws[0]))
    ok = alarm_notification(NewStateValue="OK", OldStateValue="ALARM", NewStateReason="Threshold Crossed: back")
    response = deliver(client, token, signed({**ok, "MessageId": "second-message"}, aws[0]))
    events = Event.objects.order_by("received_at")
    assert response.status_code == 202
    assert [e.status for e in events] == ["firing", "resolved"]
    assert events[0].fingerprint == events[1].fingerprint


def test_insufficient_data_is_firing_with_severity_unknown(client, source, aws, network):
    _, token = source
    response = deliver(client, token, signed(alarm_notification(NewStateValue="INSUFFICIENT_DATA"), aws[0]))
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.status == "firing" and event.severity == "unknown"
    assert event.labels["alarm_state"] == "INSUFFICIENT_DATA"


def test_any_other_message_is_named_by_its_subject_and_kept_raw(client, source, aws, network):
    _, token = source
    message = {
        **load("sns/cloudwatch-alarm-notification.json"),
        "Subject": "Nightly backup failed",
        "Message": "backup of db-1 failed: disk full",
    }
    response = deliver(client, token, signed(message, aws[0], "2"))
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.name == "Nightly backup failed" and event.status == "firing"
    assert event.payload["message"] == "backup of db-1 failed: disk full"
    assert event.summary == "backup of db-1 failed: disk full"


def test_a_message_without_subject_is_an_sns_notification(client, source, aws, network):
    _, token = source
    message = load("sns/cloudwatch-alarm-notification.json")
    del message["Subject"]
    message["Message"] = '{"not": "an alarm"}'
    response = deliver(client, token, signed(message, aws[0]))
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.name == "SNS notification" and event.payload["message"] == '{"not": "an alarm"}'


def test_the_certificate_is_fetched_once_and_then_read_from_the_cache(client, source, aws, network):
    _, token = source
    for n in range(3):
        message = {**load("sns/cloudwatch-alarm-notification.json"), "MessageId": f"message-{n}"}
        assert deliver(client, token, signed(message, aws[0])).status_code == 202
    assert network == [CERT_URL]


def test_a_resent_message_is_stored_once(client, source, aws, network):
    _, token = source
    message = signed(load("sns/cloudwatch-alarm-notification.json"), aws[0])
    assert deliver(client, token, message).json()["accepted"] == 1
    assert deliver(client, token, message).json()["duplicate"] is True
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"Message": "tampered"},
        {"Subject": "tampered"},
        {"TopicArn": "arn:aws:sns:eu-west-1:999999999999:other"},
        {"Signature": "bm90IGEgc2lnbmF0dXJl"},  # base64, not a signature
        {"Signature": "%%% not base64 %%%"},
        {"SignatureVersion": "3"},
        {"Signature": None},
    ],
)
def test_a_tampered_or_badly_signed_message_is_401_and_stores_nothing(client, source, aws, network, change):
    _, token = source
    audit_before = AuditEntry.objects.count()
    message = {**signed(load("sns/cloudwatch-alarm-notification.json"), aws[0]), **change}
    response = deliver(client, token, message)
    assert response.status_code == 401, response.json()
    assert response.json()["detail"]
    assert Event.objects.count() == 0 and AuditEntry.objects.count() == audit_before


def test_a_message_signed_by_another_key_is_401(client, source, network):
    _, token = source
    stranger_key, _ = _key_and_certificate()
    response = deliver(client, token, signed(load("sns/cloudwatch-alarm-notification.json"), stranger_key))
    assert response.status_code == 401 and Event.objects.count() == 0


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example.com/SimpleNotificationService.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example.com/cert.pem",
        "https://evil.example.com/sns.eu-west-1.amazonaws.com/cert.pem",
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/cert.pem",
        "file:///etc/passwd",
        "not a url",
        "https://[::1/cert.pem",
    ],
)
def test_a_certificate_from_anywhere_but_sns_is_401_and_never_fetched(client, source, aws, network, cert_url):
    _, token = source
    message = signed({**load("sns/cloudwatch-alarm-notification.json"), "SigningCertURL": cert_url}, aws[0])
    response = deliver(client, token, message)
    assert response.status_code == 401 and "SigningCertURL" in response.json()["detail"]
    assert network == [] and Event.objects.count() == 0


def test_a_subscribe_url_off_sns_is_refused_and_not_visited(client, source, aws, network):
    _, token = source
    message = {**load("sns/subscription-confirmation.json"), "SubscribeURL": "https://evil.example.com/confirm"}
    response = deliver(client, token, signed(message, aws[0]))
    assert response.status_code == 400 and "SubscribeURL" in response.json()["detail"]
    assert network == [CERT_URL]


def test_when_sns_does_not_answer_the_answer_is_502_so_sns_retries(client, source, aws, monkeypatch):
    _, token = source

    def unreachable(url):
        raise UpstreamError(f"SNS did not answer {url}: timed out")

    monkeypatch.setattr(sns, "fetch", unreachable)
    response = deliver(client, token, signed(load("sns/cloudwatch-alarm-notification.json"), aws[0]))
    assert response.status_code == 502 and Event.objects.count() == 0


def test_sns_is_challenged_for_basic_auth_and_may_use_it(client, source, aws, network):
    _, token = source
    message = signed(load("sns/cloudwatch-alarm-notification.json"), aws[0])
    challenge = deliver(client, None, message)
    assert challenge.status_code == 401 and challenge["WWW-Authenticate"] == 'Basic realm="steward"'
    basic = base64.b64encode(f"steward:{token}".encode()).decode()
    assert deliver(client, None, message, HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 202


@pytest.mark.parametrize(
    "body,status",
    [
        (b"not json at all", 400),
        (b"[1, 2]", 400),
        (b'{"Type": 3}', 400),
        (b'{"Type": "Surprise"}', 400),
        (b'{"Type": "Notification"}', 401),  # nothing signed
    ],
)
def test_what_sns_would_never_send_gets_a_clear_4xx(client, source, network, body, status):
    _, token = source
    response = deliver(client, token, body)
    assert response.status_code == status and response.json()["detail"]
    assert Event.objects.count() == 0


def test_an_unknown_alarm_state_is_400(client, source, aws, network):
    _, token = source
    response = deliver(client, token, signed(alarm_notification(NewStateValue="EXPLODED"), aws[0]))
    assert response.status_code == 400 and "EXPLODED" in response.json()["detail"]


def test_sns_also_accepts_application_json(client, source, aws, network):
    _, token = source
    message = signed(load("sns/cloudwatch-alarm-notification.json"), aws[0])
    assert deliver(client, token, message, content_type="application/json").status_code == 202


def test_text_plain_is_refused_for_every_other_kind(client):
    for kind in ("alertmanager", "grafana", "pagerduty", "generic"):
        secret = {"signing_secret": "s" * 32} if kind == "pagerduty" else {}  # a pagerduty source needs one
        _, token = make_source(f"{kind}-src", kind, **secret)
        response = post(client, f"{kind}-src", '{"name": "x"}', token, content_type="text/plain")
        assert response.status_code == 415, kind
    assert Event.objects.count() == 0 and Execution.objects.count() == 0


def test_an_unsubscribe_confirmation_is_acknowledged(client, source, aws, network):
    _, token = source
    message = {**load("sns/subscription-confirmation.json"), "Type": "UnsubscribeConfirmation"}
    response = deliver(client, token, signed(message, aws[0]))
    assert response.status_code == 200 and response.json() == {"unsubscribed": True}
    assert network == [CERT_URL] and Event.objects.count() == 0


def test_an_unreachable_sns_host_is_an_upstream_error_not_a_crash():
    with pytest.raises(UpstreamError):
        sns.fetch("https://127.0.0.1:9/SimpleNotificationService.pem")  # nothing listens there
