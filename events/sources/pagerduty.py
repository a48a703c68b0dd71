"""PagerDuty v3 webhook subscriptions: one event per incident notification.

Body: `{"event": {"id", "event_type", "resource_type", "occurred_at",
"agent", "data"}}`. For `incident.*` types `data` is the incident (or, for
annotations and responder requests, an object whose `incident` refers to it).
Other resources (`pagey.ping`, `service.*`) are acknowledged and store nothing.

Signed with the subscription's secret: `X-PagerDuty-Signature: v1=<hex
HMAC-SHA256(secret, raw body)>`, with several comma-separated `v1=` values
while a secret is being rotated. `X-Webhook-Id` names the delivery, so a
retry is stored once.
"""

from events.sources.base import (
    Adapter,
    NormalizedEvent,
    PayloadError,
    SignatureError,
    any_signature_matches,
    hmac_sha256_hex,
    text,
)

SIGNATURE_HEADER = "X-PagerDuty-Signature"
DELIVERY_HEADER = "X-Webhook-Id"
RESOLVED_TYPES = {"incident.resolved"}

# A v3 webhook about one triggered incident.
SAMPLE = {
    "event": {
        "id": "01STEWARDTESTALERT",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-01-01T00:00:00.000Z",
        "agent": {"type": "user_reference", "summary": "Steward test alert"},
        "data": {
            "id": "QSTEWARDTEST1",
            "type": "incident",
            "title": "StewardTestAlert",
            "status": "triggered",
            "urgency": "low",
            "priority": None,
            "html_url": "https://example.pagerduty.com/incidents/QSTEWARDTEST1",
            "service": {"id": "PSTEWARD", "type": "service_reference", "summary": "Steward test"},
        },
    }
}


def verify(request, raw_body: bytes, source) -> None:
    secret = source.signing_secret
    if not secret:
        raise SignatureError("this PagerDuty source has no signing secret: set one through the API")
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER}")
    # "v1=abc,v1=def": other versions may appear one day and are skipped.
    sent = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    if not sent:
        raise SignatureError(f"{SIGNATURE_HEADER} holds no v1= signature")
    if not any_signature_matches(hmac_sha256_hex(secret, raw_body), sent):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body and the source's signing secret")


def delivery_id(request, body) -> str:
    return request.headers.get(DELIVERY_HEADER, "")


def parse(body, source) -> list[NormalizedEvent]:
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise PayloadError('a PagerDuty v3 webhook is {"event": {"event_type": ..., "data": {...}}}')
    event_type = text(event.get("event_type"))
    if not event_type:
        raise PayloadError("event.event_type is missing")
    if event.get("resource_type") != "incident":
        return []  # a ping or a service change: nothing to run
    incident = _incident(event["data"])
    title = text(incident.get("title") or incident.get("summary")) or event_type
    priority = _get(incident, "priority", "summary")
    urgency = _get(incident, "urgency")
    labels = {
        "event_type": event_type,
        "incident_id": _get(incident, "id"),
        "incident_status": _get(incident, "status"),
        "service": _get(incident, "service", "summary"),
        "service_id": _get(incident, "service", "id"),
        "urgency": urgency,
        "priority": priority,
    }
    annotations = {"html_url": _get(incident, "html_url"), "agent": _get(event, "agent", "summary")}
    return [
        NormalizedEvent(
            name=title,
            status="resolved" if event_type in RESOLVED_TYPES else "firing",
            # Priority (P1..P5) when the account uses priorities, else urgency.
            severity=priority or urgency,
            # The incident's id: every notification about one incident
            # shares it, so a resolve pairs with its trigger.
            fingerprint=labels["incident_id"],
            summary=title,
            labels={k: v for k, v in labels.items() if v},
            annotations={k: v for k, v in annotations.items() if v},
            payload=event,
        )
    ]


def _incident(data: dict) -> dict:
    """The incident a notification is about: `data` itself, or the reference
    in `data.incident` (notes, responder requests, status updates)."""
    if data.get("type") == "incident":
        return data
    incident = data.get("incident")
    if not isinstance(incident, dict):
        raise PayloadError("event.data is neither an incident nor refers to one")
    return incident


def _get(obj, *keys) -> str:
    """The text at obj[k1][k2]..., or "" when any step is missing or not an
    object (PagerDuty sends null for an unset priority)."""
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return text(obj)


class PagerDuty(Adapter):
    kind = "pagerduty"
    SAMPLE = SAMPLE
    parse = staticmethod(parse)
    verify = staticmethod(verify)
    delivery_id = staticmethod(delivery_id)
