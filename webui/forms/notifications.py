"""The notifications page's forms; their rules are notifications/validation.py's."""

from django import forms

from events.models import Binding
from gates.models import Gate
from notifications.models import Channel, EventKind, Kind
from runbooks.models import Runbook

TARGET_HELP = "Slack: the incoming webhook URL (kept secret). Webhook: the receiver's URL (https://)."


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=Kind.choices)
    url = forms.CharField(label="URL", max_length=2000, required=False, help_text=TARGET_HELP)
    recipients = forms.CharField(
        label="Recipients", max_length=2000, required=False, help_text="Email: addresses, separated by commas."
    )
    routing_key = forms.CharField(
        label="Routing key",
        max_length=64,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="PagerDuty: the Events API v2 integration's key (kept secret).",
    )


class ChannelEditForm(forms.Form):
    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False)
    url = forms.CharField(
        label="New URL", max_length=2000, required=False, help_text="Leave empty to keep the current one."
    )
    recipients = forms.CharField(label="Recipients", max_length=2000, required=False)
    routing_key = forms.CharField(
        label="New routing key",
        max_length=64,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Leave empty to keep the current one.",
    )
    signing_secret = forms.CharField(
        label="New signing secret",
        max_length=255,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Webhook: at least 16 characters; leave empty to keep the current one.",
    )


class SubscriptionForm(forms.Form):
    channel = forms.ModelChoiceField(Channel.objects.order_by("name"), to_field_name="slug")
    runbook = forms.ModelChoiceField(
        Runbook.objects.order_by("name"), to_field_name="slug", required=False, help_text="One of runbook,"
    )
    binding = forms.ModelChoiceField(Binding.objects.order_by("name"), required=False, help_text="binding")
    gate = forms.ModelChoiceField(
        Gate.objects.order_by("name"), to_field_name="name", required=False, help_text="or gate."
    )
    events = forms.MultipleChoiceField(choices=EventKind.choices, widget=forms.CheckboxSelectMultiple)
