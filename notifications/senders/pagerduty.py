"""PagerDuty Events API v2: a `trigger` per notification, deduplicated by
run (a retry shares its first attempt's key), binding or gate check; a run
that succeeds sends `resolve` for its key instead, so the incident its
failed first attempt opened closes by itself."""

import json

from django.conf import settings

from core import crypto
from notifications import transport
from notifications.models import EventKind

SEVERITIES = {"critical", "error", "warning", "info"}


def body_of(message: dict, routing_key: str) -> dict:
    if message["event"] == EventKind.RUN_SUCCEEDED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": message["dedup_key"]}
    details = {label: value for label, value in message["fields"]}
    if message["error"]:
        details["error"] = message["error"]
    if message["result_summary"]:
        details["result"] = message["result_summary"]
    if message["reasons"]:
        details["reasons"] = message["reasons"]
    payload = {
        "summary": message["title"][:1024],
        "source": settings.STEWARD_BASE_URL,
        "severity": message["severity"] if message["severity"] in SEVERITIES else "info",
        "timestamp": message["at"],
        "class": message["event"],
        "custom_details": details,
    }
    if message["runbook"]:
        payload["component"] = message["runbook"]["slug"]
    if message["binding"]:
        payload["group"] = message["binding"]["name"]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": message["dedup_key"],
        "payload": payload,
        "links": [{"href": message["url"], "text": "Open in Steward"}],
        "client": "Steward",
        "client_url": message["url"],
    }


def send(channel, delivery) -> str:
    try:
        routing_key = crypto.decrypt(channel.secret_encrypted)
    except crypto.DecryptionError as exc:
        raise transport.SendError(f"the routing key {exc}", permanent=True) from None
    body = json.dumps(body_of(delivery.message, routing_key), ensure_ascii=False).encode()
    answer = transport.post(settings.STEWARD_PAGERDUTY_EVENTS_URL, body, {})
    return f"HTTP {answer.status}"
