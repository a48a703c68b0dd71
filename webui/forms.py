import json

from django import forms

from runbooks import parameters as params
from runbooks.models import RunbookVersion


class JSONField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None

    def prepare_value(self, value):
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2)
        return value


class RunbookForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(choices=RunbookVersion.Kind.choices)
    script = forms.CharField(
        strip=False,
        max_length=256 * 1024,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
    )
    parameters = JSONField(
        required=False,
        label="Parameters (JSON Schema)",
        help_text='For example {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}',
    )
    timeout_seconds = forms.IntegerField(min_value=1, max_value=86400, initial=300, label="Timeout (seconds)")

    def clean_parameters(self):
        schema = self.cleaned_data["parameters"]
        try:
            params.check_schema(schema)
        except params.ParameterError as exc:
            raise forms.ValidationError(str(exc)) from None
        return schema


class RunForm(forms.Form):
    parameters = JSONField(required=False, label="Parameters (JSON)")


class SourceForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=[(k, k) for k in ("alertmanager", "grafana", "pagerduty", "sns", "generic")])
    preset = forms.ChoiceField(
        required=False,
        choices=[
            ("", "none"),
            ("datadog", "Datadog"),
            ("splunk", "Splunk"),
            ("elastic_watcher", "Elastic Watcher"),
            ("eventbridge", "Amazon EventBridge"),
        ],
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
