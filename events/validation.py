"""Every rule a binding must pass to be saved, for every caller alike: the
API's serializer, the binding page's form, and the services. Plain values in
(the source and runbook as objects, or None); a refusal names each field
that breaks a rule, all at once (core.errors.Refused)."""

from core import templating
from core.errors import Refused, collect, refusing
from events import matching
from events.models import Binding, DedupEntry

NAME_MAX = 100
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
