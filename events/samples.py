"""The sample event the binding tester starts from: one the binding should
match, so that "Test" right after saving a binding says it would run."""

import json
import re

from events import paths

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
