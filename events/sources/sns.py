"""AWS SNS HTTP(S) subscriptions: JSON sent as text/plain, signed by SNS.

Every message is checked against SNS's signature (SignatureVersion 1 is
SHA1withRSA, 2 is SHA256withRSA) with the certificate at `SigningCertURL`,
fetched only from https://sns.<region>.amazonaws.com and kept in Django's
cache. Then:

- SubscriptionConfirmation: we GET its `SubscribeURL` (same host rule) and
  answer 200 {"confirmed": true}; no event.
- UnsubscribeConfirmation: answered 200, nothing done.
- Notification: one event. A CloudWatch alarm's message (JSON with
  `AlarmName` and `NewStateValue`) is read fully: ALARM is firing, OK is
  resolved, INSUFFICIENT_DATA is firing with severity "unknown". Any other
  message is named by its Subject (else "SNS notification") and kept raw in
  payload.message.

The signature proves the message comes from SNS, from any AWS account: it is
the source token (Basic auth in the subscription URL) that proves it is yours.
Raw message delivery must stay off: it drops the signature.
"""

import base64
import binascii
import hashlib
import http.client
import json
import logging
import re
import urllib.request
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.cache import cache
from django.db import transaction

from audit import trail
from events.sources.base import Adapter, NormalizedEvent, PayloadError, SignatureError, UpstreamError, decode_json, text

EXTRA_CONTENT_TYPES = ("text/plain",)  # SNS's own content type for JSON
AUTH_SCHEME = "Basic"  # SNS sends the URL's credentials only after this challenge
FETCH_TIMEOUT = 5  # seconds
MAX_FETCH_BYTES = 64 * 1024
CERT_CACHE_SECONDS = 24 * 3600
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SIGNATURE_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# The keys SNS signs, in this order, each as "Key\nValue\n" (Subject only
# when the message has one).
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
ALARM_STATUS = {"ALARM": "firing", "OK": "resolved", "INSUFFICIENT_DATA": "firing"}
MAX_SUMMARY = 1000

# An SNS notification carrying one CloudWatch alarm going to ALARM.
SAMPLE = {
    "Type": "Notification",
    "MessageId": "00000000-0000-4000-8000-5eed7e575e57",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:steward-test",
    "Subject": 'ALARM: "StewardTestAlert" in US East (N. Virginia)',
    "Message": json.dumps(
        {
            "AlarmName": "StewardTestAlert",
            "AlarmDescription": "A test alert sent from Steward's source page",
            "AWSAccountId": "123456789012",
            "NewStateValue": "ALARM",
            "NewStateReason": "A test alert sent from Steward's source page",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:StewardTestAlert",
            "Trigger": {
                "MetricName": "CPUUtilization",
                "Namespace": "AWS/EC2",
                "Dimensions": [{"name": "InstanceId", "value": "i-0123456789abcdef0"}],
            },
        }
    ),
    "Timestamp": "2026-01-01T00:00:00.000Z",
    "SignatureVersion": "2",
}

log = logging.getLogger(__name__)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect becomes an error: we trust only the host we checked


_opener = urllib.request.build_opener(_NoRedirects)


def fetch(url: str) -> bytes:
    """GET an SNS URL (a signing certificate, a subscription confirmation).
    The only network call of this module; the caller has checked the URL."""
    try:
        with _opener.open(url, timeout=FETCH_TIMEOUT) as response:
            return response.read(MAX_FETCH_BYTES)
    except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError and timeouts are OSErrors
        raise UpstreamError(f"SNS did not answer {url}: {exc}") from exc


def is_sns_url(url) -> bool:
    """https on sns.<region>.amazonaws.com(.cn), default port, no credentials."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and parts.username is None
        and bool(SNS_HOST.match(parts.hostname or ""))
    )


# --- the signature ------------------------------------------------------------


def verify(request, raw_body: bytes, source) -> None:
    message = _message(raw_body)
    keys = SIGNED_KEYS.get(message["Type"])
    if keys is None:
        raise PayloadError(f"unknown SNS message Type {message['Type']!r}")
    algorithm = SIGNATURE_HASHES.get(text(message.get("SignatureVersion")))
    if algorithm is None:
        raise SignatureError("SignatureVersion must be 1 or 2")
    try:
        signature = base64.b64decode(text(message.get("Signature")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Signature is not base64") from None
    certificate = _certificate(message.get("SigningCertURL"))
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError("the signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature, canonical_string(message, keys), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SignatureError("the SNS signature does not match the message") from None


def canonical_string(message: dict, keys: tuple[str, ...]) -> bytes:
    """What SNS signs: "Key\\nValue\\n" for each signed key it sent."""
    lines = []
    for key in keys:
        if key == "Subject" and key not in message:
            continue
        if not isinstance(message.get(key), str):
            raise SignatureError(f"the message has no {key}, which SNS always signs")
        lines.append(f"{key}\n{message[key]}\n")
    return "".join(lines).encode()


def _certificate(url) -> x509.Certificate:
    """The signing certificate, from Django's cache or from SNS."""
    if not is_sns_url(url):
        raise SignatureError("SigningCertURL must be https on sns.<region>.amazonaws.com")
    key = "steward:sns-cert:" + hashlib.sha256(url.encode()).hexdigest()
    cached = cache.get(key)
    # Kept as PEM text: the cache holds only JSON (core/caches.py).
    fetched = not isinstance(cached, str)
    pem = fetch(url) if fetched else cached.encode("ascii", "replace")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SignatureError("the signing certificate cannot be read") from None
    if fetched:
        # A certificate that loaded is PEM, which is ASCII.
        cache.set(key, pem.decode("ascii"), CERT_CACHE_SECONDS)
    return certificate


def _message(raw_body: bytes) -> dict:
    message = decode_json(raw_body, "The SNS message")
    if not isinstance(message, dict) or not isinstance(message.get("Type"), str):
        raise PayloadError('an SNS message is a JSON object with a "Type"')
    return message


# --- what the message asks ----------------------------------------------------


def control(request, body, source) -> dict | None:
    """Subscription messages: confirm (or acknowledge) and store nothing."""
    if body["Type"] == "SubscriptionConfirmation":
        url = body.get("SubscribeURL")
        if not is_sns_url(url):
            raise PayloadError("SubscribeURL must be https on sns.<region>.amazonaws.com")
        fetch(url)
        with transaction.atomic():
            trail.record(
                trail.source_actor(source),
                trail.Change("source.subscribed", "source", source.slug, after={"topic": body.get("TopicArn")}),
                request=request,
            )
        log.info("source %s: confirmed the SNS subscription to %s", source.slug, body.get("TopicArn"))
        return {"confirmed": True}
    if body["Type"] == "UnsubscribeConfirmation":
        log.info("source %s: unsubscribed from %s", source.slug, body.get("TopicArn"))
        return {"unsubscribed": True}
    return None


def delivery_id(request, body) -> str:
    """SNS delivers at least once: a retry carries the same MessageId."""
    return text(body.get("MessageId"))


def parse(body, source) -> list[NormalizedEvent]:
    if body.get("Type") != "Notification":
        raise PayloadError(f"unknown SNS message Type {body.get('Type')!r}")
    message = text(body.get("Message"))
    envelope = {key: body[key] for key in ("Type", "MessageId", "TopicArn", "Subject", "Timestamp") if key in body}
    alarm = _cloudwatch_alarm(message)
    if alarm is not None:
        return [_alarm_event(alarm, envelope)]
    payload = {"sns": envelope, "message": message}
    return [
        NormalizedEvent(
            name=text(body.get("Subject")) or "SNS notification",
            summary=message[:MAX_SUMMARY],
            labels={"topic_arn": text(body.get("TopicArn"))},
            payload=payload,
        )
    ]


def _cloudwatch_alarm(message: str) -> dict | None:
    """The alarm when the message is CloudWatch's alarm JSON, else None. A
    message that is not JSON, or JSON we would refuse as a body (NaN, NUL,
    deep nesting), is no alarm: it is kept as the text it is."""
    try:
        alarm = decode_json(message, "The SNS Message")
    except PayloadError:
        return None
    if isinstance(alarm, dict) and alarm.get("AlarmName") and alarm.get("NewStateValue"):
        return alarm
    return None


def _alarm_event(alarm: dict, envelope: dict) -> NormalizedEvent:
    state = text(alarm["NewStateValue"])
    if state not in ALARM_STATUS:
        raise PayloadError(f"unknown CloudWatch alarm state {state!r}")
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), dict) else {}
    labels = {
        "alarm_state": state,
        "namespace": text(trigger.get("Namespace")),
        "metric_name": text(trigger.get("MetricName")),
        "account_id": text(alarm.get("AWSAccountId")),
        "region": _region_of(text(alarm.get("AlarmArn"))),
        "topic_arn": text(envelope.get("TopicArn")),
        **_dimensions(trigger.get("Dimensions")),
    }
    return NormalizedEvent(
        name=text(alarm["AlarmName"]),
        status=ALARM_STATUS[state],
        # CloudWatch has no severity; "unknown" marks the no-data state so a
        # binding can tell it from a real breach (or match labels.alarm_state).
        severity="unknown" if state == "INSUFFICIENT_DATA" else "",
        # The alarm's ARN: its ALARM and OK messages share it.
        fingerprint=hashlib.sha256(text(alarm.get("AlarmArn") or alarm["AlarmName"]).encode()).hexdigest()[:32],
        summary=text(alarm.get("NewStateReason"))[:MAX_SUMMARY],
        labels={k: v for k, v in labels.items() if v},
        annotations={"description": text(alarm.get("AlarmDescription"))} if alarm.get("AlarmDescription") else {},
        payload={"sns": envelope, "alarm": alarm},
    )


def _dimensions(dimensions) -> dict:
    """CloudWatch's [{"name": "InstanceId", "value": "i-0abc"}] as labels."""
    if not isinstance(dimensions, list):
        return {}
    return {text(d.get("name")): text(d.get("value")) for d in dimensions if isinstance(d, dict) and d.get("name")}


def _region_of(arn: str) -> str:
    """us-east-1 from arn:aws:cloudwatch:us-east-1:123456789012:alarm:name."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


class Sns(Adapter):
    kind = "sns"
    SAMPLE = SAMPLE
    AUTH_SCHEME = AUTH_SCHEME
    EXTRA_CONTENT_TYPES = EXTRA_CONTENT_TYPES
    parse = staticmethod(parse)
    verify = staticmethod(verify)
    control = staticmethod(control)
    delivery_id = staticmethod(delivery_id)
