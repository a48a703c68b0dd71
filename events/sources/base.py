"""What every monitoring tool's adapter does. One module per tool
(alertmanager.py, grafana.py, ...), each ending in an `Adapter` subclass
registered in `ADAPTERS` (the one list of kinds). `Adapter` gives every
optional part its default, so callers never probe for it:

- `parse(body, source) -> list[NormalizedEvent]`: the decoded JSON body into
  events (none, one or several); raises PayloadError (400).
- `verify(request, raw_body, source)`, optional (default: nothing to check): the tool's signature, checked
  before parsing; raises SignatureError (401). The source's token has already
  been checked.
- `control(request, body, source) -> dict | None`, optional (default None): answers messages
  that are about the subscription rather than alerts (SNS confirmations);
  a dict is the 200 answer and nothing is stored.
- `delivery_id(request, body) -> str`, optional (default ""): the tool's id of this
  delivery, so a retry of it is stored only once.
- `occurrence(event) -> str`, optional (default ""): which firing of an alert an event
  is, for tools that re-send alerts still firing (Alertmanager, Grafana): a
  binding runs once per occurrence (events/dedup.py).
- `EXTRA_CONTENT_TYPES`, optional (default none): content types accepted besides JSON.
- `AUTH_SCHEME`, optional (default Bearer): the scheme named in a 401's WWW-Authenticate.
- `SAMPLE`: a body of this kind holding one firing alert, which the source
  page's "Send a test alert" feeds through `parse` (events/webhooks.py: send_test_alert).

Any of them may raise PayloadError (400), or UpstreamError (502) when it had
to ask another service that did not answer.
"""

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field

from django.conf import settings

from core import storable

MAX_NAME = 255
MAX_FINGERPRINT = 128
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class PayloadError(ValueError):
    """The body is not what this kind of source sends: the webhook's 400."""


class TooManyAlerts(PayloadError):
    """More alerts in one request than STEWARD_WEBHOOK_MAX_ALERTS: the webhook's 413."""


class SignatureError(ValueError):
    """The signature is missing, malformed, stale or wrong: the webhook's 401."""


class UpstreamError(RuntimeError):
    """A service we had to ask (SNS) did not answer: the webhook's 502, so
    the tool retries later."""


# Deeper JSON than this is refused: no tool sends it, and Python's decoder
# (and every walk of the payload later) would otherwise recurse on it.
MAX_DEPTH = storable.MAX_DEPTH


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON (send numbers, or the text {name!r} in quotes)")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"the number {number[:40]} is too large")
    return value


def decode_json(raw, what: str = "The body"):
    """JSON from a tool, refusing what the database would refuse later (as a
    503 the tool retries for ever, or a 500): NaN and Infinity (also numbers
    too large for a float), the NUL character and lone surrogates in any
    string or key, and nesting deeper than MAX_DEPTH. Raises PayloadError."""
    try:
        document = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise PayloadError(f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{what} is not valid JSON: {exc}") from None
    check_document(document, what)
    return document


def check_document(document, what: str = "The body") -> None:
    """Raise PayloadError unless the document can be stored as it is."""
    try:
        storable.check(document, what)
    except storable.NotStorable as exc:
        raise PayloadError(str(exc)) from None


def check_count(count: int) -> None:
    """Refuse a request carrying more alerts than STEWARD_WEBHOOK_MAX_ALERTS,
    before any of them is read."""
    limit = settings.STEWARD_WEBHOOK_MAX_ALERTS
    if count > limit:
        raise TooManyAlerts(
            f"At most {limit} alerts per request (STEWARD_WEBHOOK_MAX_ALERTS); this one carries {count}. "
            "Nothing was stored: send them in smaller batches."
        )


@dataclass
class NormalizedEvent:
    name: str
    status: str = "firing"
    severity: str = ""
    fingerprint: str = ""
    summary: str = ""
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    payload: dict = field(default_factory=dict)

    def __post_init__(self):
        self.name = self.name[:MAX_NAME]
        self.severity = self.severity[:32]
        if not self.fingerprint:
            self.fingerprint = fingerprint_of(self.name, self.labels)
        self.fingerprint = self.fingerprint[:MAX_FINGERPRINT]


def fingerprint_of(name: str, labels: dict) -> str:
    """Stable across label order: a hash of the name and the sorted labels."""
    canonical = json.dumps({"name": name, "labels": labels}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def normalize_status(value, default: str = "firing") -> str:
    if value is None or value == "":
        return default
    status = str(value).strip().lower()
    if status not in ("firing", "resolved"):
        raise PayloadError(f"status must be 'firing' or 'resolved', not {value!r}")
    return status


def text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def string_map(value, what: str) -> dict:
    """Labels and annotations: an object whose values are kept as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return {str(k): text(v) for k, v in value.items()}


def hmac_sha256_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def any_signature_matches(expected_hex: str, candidates: list[str]) -> bool:
    """Whether one of the sent hex signatures is the expected one. Each is
    checked to be 64 hex digits first (compare_digest refuses non-ASCII
    text), then compared in constant time."""
    if not all(_SHA256_HEX.fullmatch(c) for c in candidates):
        raise SignatureError("a signature is not 64 hexadecimal digits")
    return any([hmac.compare_digest(expected_hex, c.lower()) for c in candidates])


class Adapter:
    """One source kind. A subclass names its `kind` and `SAMPLE` and gives
    `parse`; the rest has a default for the kinds that need none."""

    kind: str
    SAMPLE: dict
    AUTH_SCHEME = "Bearer"
    EXTRA_CONTENT_TYPES: tuple[str, ...] = ()

    def parse(self, body, source) -> list[NormalizedEvent]:
        raise NotImplementedError

    def verify(self, request, raw_body: bytes, source) -> None:
        """No signature beyond the source's token."""

    def control(self, request, body, source) -> dict | None:
        return None

    def delivery_id(self, request, body) -> str:
        return ""

    def occurrence(self, event) -> str:
        return ""
