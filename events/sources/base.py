"""What every monitoring tool's adapter does: parse one webhook body into
normalized events. One module per tool (alertmanager.py, generic.py, ...)."""

import hashlib
import json
from dataclasses import dataclass, field

MAX_NAME = 255
MAX_FINGERPRINT = 128


class PayloadError(ValueError):
    """The body is not what this kind of source sends: the webhook's 400."""


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
