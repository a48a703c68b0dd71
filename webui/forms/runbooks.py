"""Runbook authoring (script typed or uploaded) and the Run form built from
a version's parameter schema; the rules are runbooks/validation.py's."""

import json
import os

from django import forms
from django.conf import settings

from runbooks import parameters as params
from runbooks import validation as runbook_validation
from runbooks.models import DEFAULT_NETWORK, Network, RunbookVersion
from runbooks.validation import MAX_SCRIPT
from webui.forms.fields import CommaListField, JSONField

# An uploaded script's kind comes from its extension.
UPLOAD_KINDS = {".py": RunbookVersion.Kind.PYTHON, ".sh": RunbookVersion.Kind.SHELL}


def _unix_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


class RunbookForm(forms.Form):
    """Create or edit a runbook. A change to the script, parameters, timeout,
    secrets or queue saves a new version; the rest changes no code."""

    name = forms.CharField(max_length=100)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Markdown: what it does, when to run it, what to check after.",
    )
    team = forms.CharField(max_length=100, required=False, label="Owner team")
    tags = CommaListField(required=False, help_text="Comma-separated, e.g. disk, linux")
    kind = forms.ChoiceField(choices=RunbookVersion.Kind.choices)
    script_file = forms.FileField(
        required=False,
        label="Upload a script (.py or .sh)",
        help_text="Replaces the script below; its extension sets the kind.",
        widget=forms.ClearableFileInput(attrs={"accept": ".py,.sh"}),
    )
    script = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_SCRIPT,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code", "data-editor": "script"}),
        help_text="Tab indents; press Esc, then Tab, to leave the editor.",
    )
    parameters = JSONField(
        required=False,
        label="Parameters (JSON Schema)",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code", "data-editor": "json"}),
        help_text='For example {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}',
    )
    timeout_seconds = forms.IntegerField(min_value=1, max_value=86400, initial=300, label="Timeout (seconds)")
    queue = forms.CharField(
        max_length=64, required=False, help_text="The workers that run it; empty for the default queue."
    )
    network = forms.ChoiceField(
        choices=Network.choices,
        initial=DEFAULT_NETWORK,
        required=False,  # left out: the current mode stays
        help_text="What the run may reach. Egress never reaches Steward's broker, cache, database or web app; "
        "host (admins only) is the worker's own network.",
    )
    secrets = CommaListField(
        required=False, help_text="Names of the secrets it gets as environment variables, e.g. PAGER_TOKEN"
    )
    requirements = forms.CharField(
        required=False,
        label="Requirements (Python)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
        help_text="One package a line, as in requirements.txt, e.g. requests>=2.31. Resolved into a lock with "
        "hashes when saved; every run installs exactly that.",
    )
    requires_approval = forms.BooleanField(
        required=False,
        label="Runs wait for approval",
        help_text="Every new run waits until a responder other than the one who asked approves it.",
    )
    protected = forms.BooleanField(
        required=False,
        label="Protected",
        help_text="A new version runs only after another author approves it.",
    )
    message = forms.CharField(
        max_length=200, required=False, label="What changed", help_text="Kept with the new version, if one is made."
    )

    def __init__(self, *args, runbook=None, user=None, **kwargs):
        self.runbook, self.user = runbook, user
        super().__init__(*args, **kwargs)

    def clean_script(self):
        # Browsers send a textarea's lines with CRLF (the HTML standard says
        # so): unchanged text must stay the same script, and bash cannot run
        # a script with carriage returns anyway.
        return _unix_newlines(self.cleaned_data.get("script", ""))

    def clean_requirements(self):
        # Lines, as the API's list: blank lines and # comments are no requirement.
        lines = (line.split("#", 1)[0].strip() for line in self.cleaned_data.get("requirements", "").splitlines())
        return [line for line in lines if line]

    def clean_script_file(self):
        upload = self.cleaned_data.get("script_file")
        if not upload:
            return None
        extension = os.path.splitext(upload.name)[1].lower()
        if extension not in UPLOAD_KINDS:
            raise forms.ValidationError("Upload a .py or .sh file.")
        limit = min(settings.STEWARD_RUNBOOK_UPLOAD_MAX_BYTES, MAX_SCRIPT)
        if upload.size > limit:
            raise forms.ValidationError(f"The file is {upload.size} bytes; the limit is {limit}.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        return {"kind": UPLOAD_KINDS[extension], "script": _unix_newlines(text)}

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("script_file")
        if upload:
            cleaned.update(upload)
        elif "script" in cleaned and not cleaned["script"].strip() and "script_file" not in self.errors:
            self.add_error("script", "Write a script or upload one.")
        if self.errors:
            return cleaned
        # runbooks/validation.py's rules, the API's too, so the form and the
        # API accept the same runbooks.
        fields = ("name", "description", "team", "tags", "kind", "script", "parameters", "timeout_seconds")
        data = {
            name: cleaned[name]
            for name in (*fields, "queue", "secrets", "network", "requires_approval", "protected", "requirements")
        }
        try:
            runbook_validation.runbook(data, self.runbook, self.user)
        except runbook_validation.Refused as exc:
            for field, messages in exc.by_field().items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned

    def runbook_data(self) -> dict:
        """What runbooks.versions.save_runbook takes."""
        names = ("name", "description", "team", "tags")
        data = {name: self.cleaned_data[name] for name in names}
        # The content fields this form shows; the rest keep the latest version's.
        data.update({name: self.cleaned_data[name] for name in RunbookVersion.CONTENT_FIELDS if name in self.fields})
        return data


class ParametersForm(forms.Form):
    """The Run form, generated from a version's parameters JSON Schema: one
    field per property, typed, with its default, description and enum.
    Validation is the API's (runbooks.parameters.validate)."""

    def __init__(self, schema: dict, *args, **kwargs):
        self.schema = schema if isinstance(schema, dict) else {}
        super().__init__(*args, **kwargs)
        properties = self.schema.get("properties") or {}
        required = [name for name in self.schema.get("required") or [] if name in properties]
        # PostgreSQL's jsonb does not keep the order of an object's keys, so
        # the order is a rule of ours: the required parameters as `required`
        # lists them, then the optional ones by name.
        order = required + sorted(name for name in properties if name not in required)
        self.names: dict[str, str] = {}  # field key → parameter name
        for i, name in enumerate(order):
            key = f"param_{i}"
            self.names[key] = name
            prop = properties[name]
            self.fields[key] = parameter_field(name, prop if isinstance(prop, dict) else {}, name in required)

    def field_key(self, name: str) -> str | None:
        return next((key for key, n in self.names.items() if n == name), None)

    def clean(self):
        cleaned = super().clean()
        values = {}
        for key, name in self.names.items():
            if key not in cleaned:
                continue  # the field's own error is shown
            value = cleaned[key]
            if value is None or value == "":
                continue  # left empty: the schema's default (if any) applies
            values[name] = value
        if self.errors:
            return cleaned
        try:
            self.parameters = params.validate(self.schema, values)
        except params.ParameterError as exc:
            for name, message in exc.problems:
                self.add_error(self.field_key(name) if name else None, message)
        return cleaned


class _JSONValueField(JSONField):
    """A parameter of a type the form has no widget for (array, object)."""

    def blank(self):
        return None

    def prepare_value(self, value):
        return value if isinstance(value, str) else json.dumps(value)


class _EnumField(forms.ChoiceField):
    """A select whose options are JSON values: the choice is their JSON text."""

    def __init__(self, options, **kwargs):
        self.options = {json.dumps(v): v for v in options}
        choices = [(key, str(value)) for key, value in self.options.items()]
        if not kwargs.get("required", True):
            choices.insert(0, ("", "—"))
        super().__init__(choices=choices, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return self.options.get(value) if value else None

    def prepare_value(self, value):
        return value if isinstance(value, str) and value in self.options else json.dumps(value)


def parameter_field(name: str, prop: dict, required: bool) -> forms.Field:
    kind = prop.get("type")
    common = {
        "label": prop.get("title") or name,
        "help_text": prop.get("description", ""),
        "required": required,
    }
    if "default" in prop:
        common["initial"] = prop["default"]
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return _EnumField(prop["enum"], **common)
    if kind == "boolean":
        return forms.BooleanField(**{**common, "required": False})
    if kind == "integer":
        return forms.IntegerField(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common)
    if kind == "number":
        return forms.FloatField(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common)
    if kind == "string":
        return forms.CharField(max_length=prop.get("maxLength"), min_length=prop.get("minLength"), **common)
    common["label"] = f"{common['label']} (JSON)"
    return _JSONValueField(widget=forms.Textarea(attrs={"rows": 2, "class": "code"}), **common)
