"""Secrets: a value that is written, never shown again, and its scope."""

from django import forms

from runbooks import secret_store
from runbooks.models import Runbook, Secret


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
