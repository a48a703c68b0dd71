"""What a notification says, the same for every kind of channel: a title,
the status, the facts a person paged at night needs (runbook, attempt,
binding, alert, exit code, duration), the result summary and the error,
bounded in size, and an absolute link to the page in Steward. Each sender
(notifications/senders/) lays it out for its channel."""

import json

from django.conf import settings
from django.utils import timezone

from notifications.models import EventKind

MAX_SUMMARY = 2000  # characters of the result, as JSON
MAX_ERROR = 2000
MAX_FIELD = 300

SEVERITY = {
    EventKind.RUN_STARTED: "info",
    EventKind.RUN_SUCCEEDED: "info",
    EventKind.RUN_FAILED: "error",
    EventKind.AWAITING_APPROVAL: "warning",
    EventKind.BINDING_TRIPPED: "critical",
    EventKind.GATE_FAILED: "error",
    "test": "info",
}
HEADLINE = {
    EventKind.RUN_STARTED: "started",
    EventKind.RUN_SUCCEEDED: "succeeded",
    EventKind.AWAITING_APPROVAL: "awaits approval",
}


def link(path: str) -> str:
    """An absolute link to a page, on the public base URL (as webhook URLs are)."""
    return f"{settings.STEWARD_BASE_URL}{path}"


def clip(text: str, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def result_summary(result) -> str:
    """The run's result (already masked: secrets show as ***), as compact JSON, bounded."""
    if result is None:
        return ""
    return clip(json.dumps(result, sort_keys=True, ensure_ascii=False, default=str), MAX_SUMMARY)


def _base(event: str, title: str, status: str, url: str, dedup_key: str) -> dict:
    return {
        "event": event,
        "title": clip(title, 250),
        "status": status,
        "severity": SEVERITY.get(event, "info"),
        "url": url,
        "dedup_key": dedup_key,
        "at": timezone.now().isoformat(),
        "runbook": None,
        "execution": None,
        "binding": None,
        "gate": None,
        "fields": [],
        "result_summary": "",
        "error": "",
        "reasons": [],
    }


def for_execution(event: str, execution) -> dict:
    runbook = execution.runbook
    headline = HEADLINE.get(event, execution.status.replace("_", " "))
    attempt = f" (attempt {execution.attempt})" if execution.attempt > 1 else ""
    message = _base(
        event,
        f"{runbook.name} {headline}{attempt}",
        execution.status,
        link(f"/executions/{execution.pk}/"),
        # A retry shares its first attempt's key: PagerDuty's incident for a
        # failure resolves when a later attempt succeeds.
        f"steward-execution-{execution.retry_of_id or execution.pk}",
    )
    message["runbook"] = {"slug": runbook.slug, "name": runbook.name}
    message["execution"] = {
        "id": str(execution.pk),
        "status": execution.status,
        "attempt": execution.attempt,
        "exit_code": execution.exit_code,
        "created_at": execution.created_at.isoformat() if execution.created_at else None,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
    }
    fields = [("Runbook", runbook.name), ("Status", execution.status)]
    if execution.attempt > 1:
        fields.append(("Attempt", str(execution.attempt)))
    binding = execution.binding
    if binding is not None:
        message["binding"] = {"id": str(binding.pk), "name": binding.name}
        fields.append(("Binding", binding.name))
    event_row = execution.event
    if event_row is not None:
        fields.append(("Alert", f"{event_row.name} ({event_row.status})"))
    if execution.exit_code is not None:
        fields.append(("Exit code", str(execution.exit_code)))
    if execution.started_at and execution.finished_at:
        fields.append(("Duration", f"{(execution.finished_at - execution.started_at).total_seconds():.1f} s"))
    if execution.parameters:
        fields.append(("Parameters", json.dumps(execution.parameters, sort_keys=True, ensure_ascii=False)))
    message["fields"] = [[label, clip(value, MAX_FIELD)] for label, value in fields]
    message["result_summary"] = result_summary(execution.result)
    message["error"] = clip(execution.error, MAX_ERROR)
    return message


def for_binding(event: str, binding) -> dict:
    message = _base(
        event,
        f"Binding {binding.name} tripped",
        "tripped",
        link("/bindings/"),
        f"steward-binding-{binding.pk}",
    )
    message["binding"] = {"id": str(binding.pk), "name": binding.name}
    message["runbook"] = {"slug": binding.runbook.slug, "name": binding.runbook.name}
    message["error"] = clip(f"{binding.tripped_reason}. Its matches are skipped until a person resets it.", MAX_ERROR)
    message["fields"] = [["Binding", clip(binding.name, MAX_FIELD)], ["Runbook", clip(binding.runbook.name, MAX_FIELD)]]
    return message


def for_gate_check(event: str, check) -> dict:
    gate = check.gate
    message = _base(
        event,
        f"Gate {gate.name}: {check.verdict}",
        check.verdict or "",
        link("/gates/"),
        f"steward-gate-check-{check.pk}",
    )
    message["gate"] = {"name": gate.name, "check": str(check.pk), "verdict": check.verdict}
    message["reasons"] = [clip(str(r), MAX_FIELD) for r in (check.reasons or [])[:20]]
    message["error"] = clip("; ".join(message["reasons"]), MAX_ERROR)
    fields = [("Gate", gate.name), ("Verdict", check.verdict or "")]
    fields += [
        (str(k), json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v) for k, v in check.fields.items()
    ][:10]
    message["fields"] = [[label[:60], clip(value, MAX_FIELD)] for label, value in fields]
    return message


def for_test(channel) -> dict:
    message = _base(
        "test",
        f"Test message from Steward to {channel.name}",
        "test",
        link("/notifications/"),
        f"steward-test-{channel.pk}",
    )
    message["fields"] = [["Channel", clip(channel.name, MAX_FIELD)], ["Kind", channel.kind]]
    message["error"] = ""
    return message
