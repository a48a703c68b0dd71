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
