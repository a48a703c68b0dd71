"""Anything that can POST JSON: an object, or an array of objects (one event
each). Fields are read from the top level, or from the paths in the source's
`mapping` (e.g. {"name": "alert.title", "labels": "tags"}), laid over the
paths of its `preset` when it has one (datadog, splunk, elastic_watcher,
eventbridge: see PRESETS).

Optionally signed: `X-Steward-Signature: t=<unix time>,v1=<hex
HMAC-SHA256(key, "<t>.<raw body>")>`, at most 5 minutes off our clock. The key
is the source's signing secret; a source without one accepts the contract's
original form, keyed with the source token the request authenticated with.
A source that has a signing secret requires the signature.
"""

import time

from events import paths
from events.credentials import presented_token
from events.sources.base import (
    Adapter,
    NormalizedEvent,
    PayloadError,
    SignatureError,
    any_signature_matches,
    check_count,
    hmac_sha256_hex,
    normalize_status,
    string_map,
    text,
)

# One alert in the default shape; a source with a mapping or a preset reads
# other paths, so its test alert may be refused, with the reason shown.
SAMPLE = {
    "name": "StewardTestAlert",
    "status": "firing",
    "severity": "info",
    "summary": "A test alert sent from Steward's source page",
    "labels": {"instance": "test.example"},
}

DEFAULT_PATHS = {
    "name": ("name", "alertname", "title"),
    "status": ("status",),
    "severity": ("severity",),
    "fingerprint": ("fingerprint",),
    "summary": ("summary",),
    "labels": ("labels",),
    "annotations": ("annotations",),
}
SIGNATURE_HEADER = "X-Steward-Signature"
MAX_SIGNATURE_AGE = 300  # seconds, either way: a replay window, and clock skew


# Status words that mean "resolved" in the tools' own vocabularies; with a
# preset, any other status word is "firing" (a tool's "Warn" or "No Data" is
# still an alert).
RESOLVED_WORDS = {"resolved", "recovered", "ok"}

# Where a known tool puts each field: candidate paths, the first present one
# wins; a field a preset leaves out is read from the defaults.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    # Datadog's webhook integration with the payload in the README ($ALERT_TITLE,
    # $ALERT_TRANSITION, $ALERT_PRIORITY, $AGGREG_KEY, $TAGS, ...).
    "datadog": {
        "name": ("alert_title", "title"),
        "status": ("alert_transition",),
        "severity": ("alert_priority", "alert_type"),
        "fingerprint": ("aggreg_key", "alert_id"),
        "summary": ("text_only_msg", "body"),
        "labels": ("tags",),  # "env:prod,service:api": see _labels
    },
    # Splunk's webhook alert action: {"search_name", "sid", "results_link",
    # "app", "owner", "result": {the first result's fields}}. The result's
    # fields (count, _time...) vary, so the default fingerprint does too: map
    # `fingerprint` (e.g. to "result.host") to deduplicate.
    "splunk": {
        "name": ("search_name",),
        "severity": ("result.severity", "result.priority"),
        "summary": ("result.message", "result._raw"),
        "labels": ("result",),
    },
    # An Elasticsearch Watcher webhook action whose body is the watch context,
    # `{{#toJson}}ctx{{/toJson}}`: {"watch_id", "id", "execution_time",
    # "trigger", "metadata", "payload", "vars"}. The watch's metadata may
    # carry name, severity, summary, status and labels.
    "elastic_watcher": {
        "name": ("metadata.name", "watch_id"),
        "status": ("metadata.status",),
        "severity": ("metadata.severity",),
        "summary": ("metadata.summary", "metadata.description"),
        "labels": ("metadata.labels",),
    },
    # An EventBridge event, as a rule's API destination target sends it:
    # {"id", "detail-type", "source", "account", "time", "region",
    # "resources", "detail"}. CloudWatch alarm state changes are read fully.
    "eventbridge": {
        "name": ("detail.alarmName", "detail-type"),
        "status": ("detail.state.value",),
        # The resource (an alarm's or an instance's ARN), the same in
        # every state change of it.
        "fingerprint": ("resources[0]",),
        "summary": ("detail.state.reason",),
        "labels": ("detail",),
    },
}


# What the pages call each preset.
PRESET_TITLES = {
    "datadog": "Datadog",
    "splunk": "Splunk",
    "elastic_watcher": "Elastic Watcher",
    "eventbridge": "Amazon EventBridge",
}


def verify(request, raw_body: bytes, source) -> None:
    header = request.headers.get(SIGNATURE_HEADER, "")
    secret = source.signing_secret
    if not header:
        if secret:
            raise SignatureError(f"this source requires {SIGNATURE_HEADER}")
        return
    timestamp, sent = _parse_signature_header(header)
    if abs(time.time() - timestamp) > MAX_SIGNATURE_AGE:
        raise SignatureError(f"{SIGNATURE_HEADER} is more than {MAX_SIGNATURE_AGE // 60} minutes old (or ahead)")
    # Without a signing secret, the key is the token this request was let in
    # with (the server keeps only its hash, so it can use it only now).
    key = secret or presented_token(request)
    expected = hmac_sha256_hex(key, f"{timestamp}.".encode() + raw_body)
    if not any_signature_matches(expected, sent):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    """`t=1700000000,v1=<hex>[,v1=<hex>]` into (t, [hex, ...])."""
    timestamp, sent = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            sent.append(value)
    if timestamp is None or not sent:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like t=<unix time>,v1=<hex>")
    return timestamp, sent


def parse(body, source) -> list[NormalizedEvent]:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise PayloadError("an empty array carries no event")
    check_count(len(items))
    preset = PRESETS.get(source.preset or "")
    candidates = _paths_for(source.mapping or {}, preset)
    events = []
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(body, list) else "body"
        if not isinstance(item, dict):
            raise PayloadError(f"{where} must be a JSON object")
        name = _read(item, candidates["name"])
        if name is None or text(name).strip() == "":
            raise PayloadError(f"{where}: no event name (send {' or '.join(candidates['name'])})")
        events.append(
            NormalizedEvent(
                name=text(name),
                status=_status(_read(item, candidates["status"]), lenient=preset is not None),
                severity=text(_read(item, candidates["severity"])),
                fingerprint=text(_read(item, candidates["fingerprint"])),
                summary=text(_read(item, candidates["summary"])),
                labels=_labels(_read(item, candidates["labels"]), f"{where}.labels", preset is not None),
                annotations=string_map(_read(item, candidates["annotations"]), f"{where}.annotations"),
                payload=item,
            )
        )
    return events


def _paths_for(mapping: dict, preset: dict | None) -> dict[str, tuple[str, ...]]:
    """For each field, the paths to try: the source's own mapping, else the
    preset's, else the contract's defaults."""
    preset_paths = preset or {}
    return {
        field_name: (mapping[field_name],) if mapping.get(field_name) else preset_paths.get(field_name, defaults)
        for field_name, defaults in DEFAULT_PATHS.items()
    }


def _read(item: dict, candidates: tuple[str, ...]):
    """The first candidate's value that is present, not null and not ""
    (tools leave a template variable that does not apply empty)."""
    for path in candidates:
        value = paths.resolve(item, path)
        if value is not paths.MISSING and value is not None and value != "":
            return value
    return None


def _status(value, lenient: bool) -> str:
    """Plain generic sources send firing/resolved; a preset's tool speaks
    its own words (Datadog's "Recovered", CloudWatch's "OK")."""
    if not lenient:
        return normalize_status(value)
    word = text(value).strip().lower()
    return "resolved" if word in RESOLVED_WORDS else "firing"


def _labels(value, what: str, tags_allowed: bool) -> dict:
    """An object; with a preset also tags, "env:prod,canary" or a list of
    them (Datadog's $TAGS), as {"env": "prod", "canary": ""}."""
    if tags_allowed and isinstance(value, str):
        value = value.split(",")
    if tags_allowed and isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        pairs = (tag.strip().partition(":") for tag in value if tag.strip())
        return {key: val for key, _, val in pairs}
    return string_map(value, what)


class Generic(Adapter):
    kind = "generic"
    SAMPLE = SAMPLE
    parse = staticmethod(parse)
    verify = staticmethod(verify)
