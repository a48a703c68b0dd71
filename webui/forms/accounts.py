"""API tokens, roles and new users."""

from django import forms
from django.contrib.auth import get_user_model, password_validation

from accounts import validation as account_validation
from accounts.roles import ROLES


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
