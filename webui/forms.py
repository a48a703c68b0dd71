"""Forms of the pages. They parse what a browser sends; the rules a runbook,
its parameters or a secret must follow live in runbooks/ and are the same
for the API (the runbook form even validates through the API's serializer).
"""

import json
import os

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation

from accounts import validation as account_validation
from accounts.roles import ROLES
from core import storable
from core.errors import Refused
from events import matching, validation
from events.models import Binding, DedupEntry, Source
from runbooks import parameters as params
from runbooks import secret_store
from runbooks import validation as runbook_validation
from runbooks.models import DEFAULT_NETWORK, Network, Runbook, RunbookVersion, Secret
from runbooks.validation import MAX_SCRIPT

# An uploaded script's kind comes from its extension.
UPLOAD_KINDS = {".py": RunbookVersion.Kind.PYTHON, ".sh": RunbookVersion.Kind.SHELL}


class JSONField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value.strip():
            return {}
        try:
            data = json.loads(value)
            # What no database stores (NUL, NaN) or nests beyond reason
            # (which raised RecursionError, a 500) is the field's error.
            storable.check(data, "the JSON")
        except RecursionError:
            raise forms.ValidationError(f"Not valid JSON: nested deeper than {storable.MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        return data

    def prepare_value(self, value):
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2)
        return value


class CommaListField(forms.CharField):
    """`a, b, c` ↔ ["a", "b", "c"]."""

    def to_python(self, value):
        value = super().to_python(value) or ""
        return [item.strip() for item in value.split(",") if item.strip()]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


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
            name: cleaned[name] for name in (*fields, "queue", "secrets", "network", "requires_approval", "protected")
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


class _JSONValueField(forms.CharField):
    """A parameter of a type the form has no widget for (array, object)."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value.strip():
            return None
        try:
            data = json.loads(value)
            # What no database stores (NUL, NaN) or nests beyond reason
            # (which raised RecursionError, a 500) is the field's error.
            storable.check(data, "the JSON")
        except RecursionError:
            raise forms.ValidationError(f"Not valid JSON: nested deeper than {storable.MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        return data

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


class _NeverShownTextarea(forms.Textarea):
    """A secret's value is never sent back to the browser, not even after an error."""

    def format_value(self, value):
        return None


def _scope_field() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=Runbook.objects.filter(current_version__isnull=False).order_by("name"),
        to_field_name="slug",
        required=False,
        label="Allowed runbooks",
        help_text="Only these runbooks may declare it and get its value. Only an admin changes this list.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )


class _ScopedSecretForm(forms.Form):
    """The scope field is shown to everyone who may edit the secret, but
    only an admin's choice counts: for others it is disabled, so Django
    keeps the current scope whatever the browser sends (and
    secret_store refuses a change from them anyway)."""

    def __init__(self, *args, may_scope: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allowed_runbooks"] = _scope_field()
        if not may_scope:
            self.fields["allowed_runbooks"].disabled = True
            self.fields["allowed_runbooks"].help_text = "Only an admin changes which runbooks may use a secret."


class SecretForm(_ScopedSecretForm):
    name = forms.CharField(max_length=100, help_text="Upper-case letters, digits and '_', e.g. PAGER_TOKEN")
    value = forms.CharField(
        strip=False,
        max_length=secret_store.MAX_VALUE_LENGTH,
        widget=_NeverShownTextarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Encrypted when saved and never shown again.",
    )
    description = forms.CharField(max_length=500, required=False)

    def clean_name(self):
        name = self.cleaned_data["name"]
        problem = secret_store.name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        if Secret.objects.filter(name=name).exists():
            raise forms.ValidationError("A secret with this name exists; replace its value instead.")
        return name


class SecretUpdateForm(_ScopedSecretForm):
    value = forms.CharField(
        strip=False,
        required=False,
        max_length=secret_store.MAX_VALUE_LENGTH,
        label="New value",
        widget=_NeverShownTextarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Leave empty to keep the current value.",
    )
    description = forms.CharField(max_length=500, required=False)


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


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. deploy pipeline")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires in (days)",
        help_text="Empty: never expires (revoke it when it is no longer needed).",
    )


ROLE_CHOICES = [("", "no role"), *((r, r) for r in ROLES)]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)


class UserForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False, initial="viewer")

    def clean_username(self):
        try:
            return account_validation.new_username(self.cleaned_data["username"])
        except account_validation.AccountRefused as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("username") and cleaned.get("password"):
            user = get_user_model()(username=cleaned["username"])
            try:
                password_validation.validate_password(cleaned["password"], user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class _JSONListField(JSONField):
    """A JSON list; empty means no items."""

    def to_python(self, value):
        if not (value or "").strip():
            return []
        return super().to_python(value)


MATCH_EXAMPLE = (
    '[{"path": "labels.severity", "op": "eq", "value": "critical"}, '
    '{"any": [{"path": "labels.service", "op": "eq", "value": "checkout"}, '
    '{"path": "labels.instance", "op": "glob", "value": "web-*"}]}]'
)


class BindingForm(forms.Form):
    """Create or edit a binding. The rules are events/validation.py's, the
    API's too, so the page and the API accept exactly the same bindings;
    `fields` is what the save writes (services.save_binding)."""

    name = forms.CharField(max_length=100)
    source = forms.ChoiceField(required=False, help_text="Only events of this source, or of any source.")
    match = _JSONListField(
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
