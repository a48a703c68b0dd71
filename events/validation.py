"""Every rule a binding must pass to be saved, for every caller alike: the
API's serializer, the binding page's form, and the services. Plain values in
(the source and runbook as objects, or None); a refusal names each field
that breaks a rule, all at once (core.errors.Refused)."""

from core import templating
from core.errors import Refused, collect, refusing
from events import matching, paths
from events.models import Binding, DedupEntry

NAME_MAX = 100
# The fields a generic source's mapping may set, each from a path into the payload.
MAPPING_FIELDS = {"name", "status", "severity", "fingerprint", "summary", "labels", "annotations"}
# Kinds whose signatures use a signing secret, and whether it is required.
SIGNING_SECRET_REQUIRED = {"pagerduty": True, "generic": False}
SIGNING_SECRET_LENGTH = (16, 255)
BREAKER_FAILURES_MAX = 1000
BREAKER_WINDOW_MINUTES = (1, 7 * 24 * 60)


def match(conditions) -> list:
    with refusing("match", matching.ConditionError):
        matching.validate(conditions)
    return conditions


def templates(value, field: str):
    """Parameters (an object of templates) or the dedup key (one template)."""
    with refusing(field, templating.RenderError):
        templating.check(value if field == "parameters" else {field: value})
    return value


def _between(fields: dict, field: str, low: int, high: int) -> None:
    value = fields.get(field)
    if value is not None and not low <= value <= high:
        raise Refused(f"must be between {low} and {high}", field)


def _runbook(runbook) -> None:
    if runbook is not None and runbook.current_version_id is None:
        raise Refused("this runbook has no version yet", "runbook")


def _on_status(value) -> None:
    if value is not None and value not in Binding.OnStatus.values:
        raise Refused(f"must be one of {', '.join(Binding.OnStatus.values)}", "on_status")


def _name(value) -> None:
    if value is not None and not (isinstance(value, str) and value.strip() and len(value) <= NAME_MAX):
        raise Refused(f"a name of 1 to {NAME_MAX} characters", "name")


def binding(fields: dict) -> dict:
    """Check the fields a save would write (all, or those a partial update
    changes); returns them unchanged, or raises Refused with every problem."""
    checks = [
        lambda: _name(fields.get("name")),
        lambda: _on_status(fields.get("on_status")),
        lambda: _runbook(fields.get("runbook")),
        lambda: _between(fields, "dedup_window_seconds", 0, DedupEntry.MAX_WINDOW_SECONDS),
        lambda: _between(fields, "breaker_failures", 0, BREAKER_FAILURES_MAX),
        lambda: _between(fields, "breaker_window_minutes", *BREAKER_WINDOW_MINUTES),
    ]
    if "match" in fields:
        checks.append(lambda: match(fields["match"]))
    if "parameters" in fields:
        checks.append(lambda: templates(fields["parameters"], "parameters"))
    if fields.get("dedup_key"):
        checks.append(lambda: templates(fields["dedup_key"], "dedup_key"))
    collect(checks)
    return fields


def source_mapping(value) -> dict:
    if not isinstance(value, dict) or not set(value) <= MAPPING_FIELDS:
        raise Refused(f"mapping is an object with keys among {', '.join(sorted(MAPPING_FIELDS))}", "mapping")
    for field, path in value.items():
        try:
            paths.parse(path)
        except paths.PathError as exc:
            raise Refused(f"{field}: {exc}", "mapping") from None
    return value


def _preset(kind, preset) -> None:
    if preset and kind != "generic":
        raise Refused("only generic sources take a preset", "preset")


def _signing_secret(kind, secret: bool) -> None:
    if secret and kind not in SIGNING_SECRET_REQUIRED:
        raise Refused(f"{kind} sources do not use a signing secret", "signing_secret")
    if SIGNING_SECRET_REQUIRED.get(kind) and not secret:
        raise Refused(f"{kind} sources need the signing secret of their webhook", "signing_secret")


def _secret_length(value) -> None:
    low, high = SIGNING_SECRET_LENGTH
    if value and not low <= len(value) <= high:
        raise Refused(f"a signing secret of {low} to {high} characters", "signing_secret")


def source_kind(fields: dict, instance=None) -> None:
    """What depends on the kind: presets are for generic sources, and a
    signing secret for pagerduty (required) and generic (optional). `fields`
    are those a save would write; `instance` the source they change, if any."""
    kind = fields.get("kind", instance.kind if instance else None)
    preset = fields.get("preset", instance.preset if instance else "")
    if "signing_secret" in fields:
        secret = bool(fields["signing_secret"])  # "" clears it
    else:
        secret = bool(instance and instance.signing_secret_encrypted)
    collect([lambda: _preset(kind, preset), lambda: _signing_secret(kind, secret)])


def source(fields: dict, instance=None) -> dict:
    """Every rule a source's fields must pass, for the API, the page and
    the services alike; returns them unchanged, or raises Refused with every
    problem. (A taken name or slug is the database's to refuse: SourceTaken.)"""
    checks = [
        lambda: _name(fields.get("name")),
        lambda: _secret_length(fields.get("signing_secret")),
        lambda: source_kind(fields, instance),
    ]
    if "mapping" in fields:
        checks.append(lambda: source_mapping(fields["mapping"]))
    collect(checks)
    return fields
