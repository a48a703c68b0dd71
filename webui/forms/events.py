"""Sources, bindings and the binding tester; the rules are
events/validation.py's."""

import json

from django import forms

from core.errors import Refused
from events import matching, validation
from events.models import Binding, DedupEntry, Source
from events.sources import ADAPTERS, generic
from runbooks.models import Runbook
from webui.forms.fields import JSONField, JSONListField


class SourceForm(forms.Form):
    name = forms.CharField(max_length=100)
    # The kinds and presets are the adapters' registry's (events/sources/).
    kind = forms.ChoiceField(choices=[(k, k) for k in ADAPTERS])
    preset = forms.ChoiceField(
        required=False,
        choices=[("", "none"), *((p, generic.PRESET_TITLES[p]) for p in generic.PRESETS)],
        help_text="Generic sources only: read a known tool's JSON.",
    )
    signing_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        label="Signing secret",
        help_text="PagerDuty (required) or generic (optional). Stored encrypted; never shown again.",
    )
    rate_limit_per_minute = forms.IntegerField(min_value=0, initial=10000, label="Rate limit per minute")


class BindingTestForm(forms.Form):
    event = JSONField(
        required=False,
        label="Event (JSON)",
        help_text='For example {"name": "HighDiskUsage", "labels": {"severity": "critical", "instance": "web-01"}}',
    )
    event_id = forms.ChoiceField(required=False, label="Or a stored event")

    def __init__(self, *args, recent=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_id"].choices = [("", "—")] + [
            (str(e.pk), f"{e.received_at:%Y-%m-%d %H:%M:%S} {e.name} ({e.status})") for e in recent
        ]

    def clean(self):
        data = super().clean()
        if not data.get("event") and not data.get("event_id"):
            raise forms.ValidationError("Paste an event or pick a stored one.")
        return data


MATCH_EXAMPLE = (
    '[{"path": "labels.severity", "op": "eq", "value": "critical"}, '
    '{"any": [{"path": "labels.service", "op": "eq", "value": "checkout"}, '
    '{"path": "labels.instance", "op": "glob", "value": "web-*"}]}]'
)


class BindingForm(forms.Form):
    """Create or edit a binding. The rules are events/validation.py's, the
    API's too, so the page and the API accept exactly the same bindings;
    `fields` is what the save writes (events/bindings.save_binding)."""

    name = forms.CharField(max_length=100)
    source = forms.ChoiceField(required=False, help_text="Only events of this source, or of any source.")
    match = JSONListField(
        required=False,
        label="Match conditions (JSON)",
        help_text="All must hold; an any group holds when one of its conditions does. Empty matches every event. "
        f"For example {MATCH_EXAMPLE}",
    )
    on_status = forms.ChoiceField(choices=Binding.OnStatus.choices, label="On status", initial="firing")
    runbook = forms.ChoiceField()
    parameters = JSONField(
        required=False,
        label="Parameters (JSON, values are templates)",
        help_text='Rendered from the event, e.g. {"host": "{{ event.labels.instance }}"}. '
        "A label the alert lacks fails the run with the reason.",
    )
    dedup_key = forms.CharField(
        max_length=200,
        required=False,
        label="Dedup key",
        help_text="A template of the event, e.g. {{ event.labels.instance }}; empty means the event's fingerprint.",
    )
    dedup_window_seconds = forms.IntegerField(
        min_value=0,
        max_value=DedupEntry.MAX_WINDOW_SECONDS,
        initial=0,
        label="Dedup window (seconds)",
        help_text="Within it, a second event with the same key starts no run; 0 runs every time, except that an "
        "Alertmanager or Grafana re-notification of the same firing (fingerprint and startsAt) never runs again.",
    )
    breaker_failures = forms.IntegerField(
        min_value=0,
        max_value=1000,
        initial=0,
        label="Trip after this many failed runs",
        help_text="Within the window below, the binding stops running until a person resets it; 0 never trips.",
    )
    breaker_window_minutes = forms.IntegerField(
        min_value=1, max_value=7 * 24 * 60, initial=10, label="Breaker window (minutes)"
    )
    requires_approval = forms.BooleanField(
        required=False, label="Runs wait for approval", help_text="A responder approves each run before it starts."
    )
    cancel_on_resolve = forms.BooleanField(
        required=False,
        label="Cancel on resolve",
        help_text="A resolved event cancels this binding's runs of the same alert that have not started.",
    )
    enabled = forms.BooleanField(required=False, initial=True, help_text="A disabled binding starts nothing.")

    def __init__(self, *args, binding=None, **kwargs):
        self.binding = binding
        self.values = None
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "any source")] + [
            (s.slug, f"{s.name} ({s.slug})") for s in Source.objects.order_by("name").only("slug", "name")
        ]
        runbooks = Runbook.objects.filter(current_version__isnull=False).order_by("name").only("slug", "name")
        self.fields["runbook"].choices = [("", "—")] + [(r.slug, f"{r.name} ({r.slug})") for r in runbooks]

    @classmethod
    def initial_of(cls, binding) -> dict:
        """The form's values for an existing binding: what the API shows of it."""
        data = binding.audit_state()
        initial = {name: data[name] for name in cls.base_fields}
        initial["source"] = initial["source"] or ""
        return initial

    def clean_match(self):
        match = self.cleaned_data["match"]
        if isinstance(match, list):
            problems = list(_condition_problems(match))
            if problems:
                raise forms.ValidationError(problems)
        return match

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = {name: cleaned[name] for name in self.base_fields}
        values["source"] = Source.objects.filter(slug=cleaned["source"]).first() if cleaned["source"] else None
        values["runbook"] = Runbook.objects.filter(slug=cleaned["runbook"]).first()
        if cleaned["source"] and values["source"] is None:
            self.add_error("source", "This source no longer exists.")
        if values["runbook"] is None:
            self.add_error("runbook", "This runbook no longer exists.")
        if self.errors:
            return cleaned
        try:
            self.values = validation.binding(values)
        except Refused as exc:
            for field, messages in exc.by_field().items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


def _condition_problems(match: list):
    """Each bad condition, named by its number and its own JSON, with what is
    wrong (the rules are events.matching's, the API's)."""
    for i, condition in enumerate(match, start=1):
        shown = json.dumps(condition)
        alternatives = condition.get("any") if isinstance(condition, dict) and set(condition) == {"any"} else None
        if isinstance(alternatives, list):
            for j, alternative in enumerate(alternatives, start=1):
                problem = _condition_problem(alternative)
                if problem:
                    yield f"Condition {i}, alternative {j} {json.dumps(alternative)}: {problem}"
                    break
            else:
                problem = _condition_problem(condition)
                if problem:
                    yield f"Condition {i} {shown}: {problem}"
            continue
        problem = _condition_problem(condition)
        if problem:
            yield f"Condition {i} {shown}: {problem}"


def _condition_problem(condition) -> str:
    try:
        matching.validate([condition])
    except matching.ConditionError as exc:
        # "match[0].op 'x' is not ..." → "op 'x' is not ...": the caller names the condition.
        return str(exc).removeprefix("match[0]").lstrip(".: ")
    return ""
