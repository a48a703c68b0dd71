"""The sample event the binding tester starts from: one the binding should
match, so that "Test" right after saving a binding says it would run."""

import json
import re
import uuid

from core import storable
from core.errors import UNKNOWN_FIELD, Refused
from events import paths
from events.models import Event, Source

CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ASK = 'send {"event": {...}} or {"event_id": uuid}'

# A value that makes each kind of condition hold (the others are left out).
_SAMPLES = {
    "eq": lambda v: v,
    "in": lambda v: v[0] if isinstance(v, list) and v else None,
    "contains": lambda v: v,
    "icontains": lambda v: v,
    "startswith": lambda v: v,
    "endswith": lambda v: v,
    "glob": lambda v: re.sub(r"[*?]", "x", re.sub(r"\[[^\]]*\]", "x", v)) if isinstance(v, str) else None,
    "exists": lambda v: "example",
    "gt": lambda v: v + 1 if isinstance(v, (int, float)) else None,
    "gte": lambda v: v,
    "lt": lambda v: v - 1 if isinstance(v, (int, float)) else None,
    "lte": lambda v: v,
}
STATUSES = ("firing", "resolved")


def sample_event(binding) -> dict:
    """An event the binding should match: its conditions' values (the first
    alternative of an any group), `name` and `status` included, its source,
    and a value for each label its parameters and dedup key name. Fields no
    condition names get a placeholder (name "Example")."""
    event: dict = {"labels": {}}
    for condition in binding.match if isinstance(binding.match, list) else []:
        if isinstance(condition, dict) and isinstance(condition.get("any"), list) and condition["any"]:
            condition = condition["any"][0]
        if not isinstance(condition, dict) or condition.get("op") not in _SAMPLES:
            continue
        value = _SAMPLES[condition["op"]](condition.get("value"))
        if value is not None:
            _put(event, condition.get("path", ""), value)
    # The binding's on_status decides; "any" takes what a condition asks.
    if binding.on_status in STATUSES:
        event["status"] = binding.on_status
    elif event.get("status") not in STATUSES:
        event["status"] = "firing"
    event.setdefault("name", "Example")
    if binding.source_id:
        event["source"] = binding.source.slug
    templates = json.dumps(binding.parameters) + binding.dedup_key
    for name in re.findall(r"event\.labels\.(\w+)", templates):
        if isinstance(event["labels"], dict):
            event["labels"].setdefault(name, f"example-{name}")
    return event


def _put(document: dict, path: str, value) -> None:
    """Set `path` in the document, making objects on the way; a path through
    a list index or a non-object is left out."""
    try:
        parts = paths.parse(path)
    except paths.PathError:
        return
    if any(isinstance(part, int) for part in parts):
        return
    for part in parts[:-1]:
        document = document.setdefault(part, {})
        if not isinstance(document, dict):
            return
    document.setdefault(parts[-1], value)


def tested_document(data) -> dict:
    """The event document a binding test runs against, from what the API or
    the tester page was given: {"event": {...}} (with an optional "source"
    slug) or {"event_id": uuid} of a stored event. Refused names the field."""
    if not isinstance(data, dict) or ("event" in data) == ("event_id" in data):
        raise Refused(ASK, "event")
    unknown = sorted(set(data) - {"event", "event_id", "source"})
    if unknown:
        raise Refused(problems=[(name, UNKNOWN_FIELD) for name in unknown])
    if "event_id" in data:
        event = Event.objects.select_related("source").filter(pk=_uuid(data["event_id"])).first()
        if event is None:
            raise Refused("no such event", "event_id")
        return event.context()
    event = data.get("event")
    if not isinstance(event, dict):
        raise Refused(ASK, "event")
    try:
        storable.check(event, "the event")
    except storable.NotStorable as exc:
        raise Refused(str(exc), "event") from None
    document = {
        "name": "",
        "status": "firing",
        "severity": "",
        "fingerprint": "",
        "summary": "",
        "labels": {},
        "annotations": {},
        "payload": {},
        "source": None,
    }
    document.update({k: v for k, v in event.items() if k in document})
    if data.get("source") is not None:
        document["source"] = data["source"]
    if document["status"] not in STATUSES:
        raise Refused("status must be firing or resolved", "event")
    if document["source"] is not None and not (
        isinstance(document["source"], str) and Source.objects.filter(slug=document["source"]).exists()
    ):
        raise Refused(f"no source {document['source']!r}", "source")
    return document


def _uuid(value) -> uuid.UUID:
    # The schema's `format: uuid`: the dashed form only (uuid.UUID also takes braces and urn:uuid:).
    if not isinstance(value, str) or not CANONICAL_UUID.fullmatch(value):
        raise Refused("must be a UUID", "event_id")
    return uuid.UUID(value)
