"""A generic webhook: the message as JSON, signed like the webhooks Steward
accepts: `X-Steward-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
`X-Steward-Delivery` is the same on every attempt of one delivery, so a
receiver can drop a retry it already has."""

import hashlib
import hmac
import json
import time

from core import crypto
from notifications import transport


def body_of(delivery) -> bytes:
    document = {
        "id": str(delivery.id),
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "message": delivery.message,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def send(channel, delivery) -> str:
    body = body_of(delivery)
    headers = {"X-Steward-Event": delivery.event, "X-Steward-Delivery": str(delivery.id)}
    if channel.secret_encrypted:
        try:
            headers["X-Steward-Signature"] = signature(crypto.decrypt(channel.secret_encrypted), body)
        except crypto.DecryptionError as exc:
            raise transport.SendError(f"the signing secret {exc}", permanent=True) from None
    answer = transport.post(channel.url, body, headers)
    return f"HTTP {answer.status}"
