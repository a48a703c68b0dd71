"""The notifications page: channels, subscriptions and recent deliveries
(status, attempts, last error). Admins add, change, test and delete
channels and subscriptions; everyone else reads. The forms' rules are
notifications/validation.py's, the API's too, so both refuse the same things."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from core.errors import Refused
from notifications import channels, validation
from notifications.models import Channel, Delivery, Subscription
from webui import pagination, refusals
from webui.access import role_required
from webui.forms.notifications import ChannelEditForm, ChannelForm, SubscriptionForm


def _page(request, channel_form=None, subscription_form=None, created=None, status=200):
    deliveries, links = pagination.page(request, Delivery.objects.select_related("channel"), "-created_at")
    return render(
        request,
        "webui/notification_list.html",
        {
            "channels": Channel.objects.order_by("name"),
            "subscriptions": Subscription.objects.select_related("channel", "runbook", "binding", "gate"),
            "deliveries": deliveries,
            **links,
            "channel_form": channel_form or ChannelForm(),
            "subscription_form": subscription_form or SubscriptionForm(),
            "created": created,
        },
        status=status,
    )


@role_required("read", post="manage_notifications")
def notification_list(request):
    if request.method != "POST":
        return _page(request)
    form = ChannelForm(request.POST)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        if "recipients" in data:
            data["recipients"] = [r for r in data["recipients"].replace(",", " ").split() if r]
        try:
            prepared = validation.channel(data["kind"], data)
        except Refused as exc:
            refusals.add_to_form(form, exc)
        else:
            channel = channels.create_channel(
                data["name"], data["kind"], prepared, actor_of(request), user=request.user, request=request
            )
            # Rendered, not redirected: a generated signing secret must never
            # sit in a URL, a cookie or a later page.
            return _page(request, created={"channel": channel, "secret": prepared.generated_secret}, status=201)
    return _page(request, channel_form=form, status=400)


@role_required("read", post="manage_notifications")
def channel_detail(request, slug):
    channel = get_object_or_404(Channel, slug=slug)
    initial = {"name": channel.name, "enabled": channel.enabled, "recipients": ", ".join(channel.recipients)}
    form = ChannelEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        data["enabled"] = form.cleaned_data["enabled"]
        if "recipients" in data:
            data["recipients"] = [r for r in data["recipients"].replace(",", " ").split() if r]
        try:
            prepared = validation.channel(channel.kind, data, channel)
        except Refused as exc:
            refusals.add_to_form(form, exc)
        else:
            changes = {name: data[name] for name in ("name", "enabled") if name in data}
            channels.update_channel(channel, changes, prepared, actor_of(request), request=request)
            messages.success(request, f"Channel {channel.name} saved.")
            return redirect("notification_list")
    recent = Delivery.objects.filter(channel=channel).select_related("channel")[:20]
    return render(
        request,
        "webui/notification_channel.html",
        {"channel": channel, "form": form, "deliveries": recent},
        status=400 if form.errors else 200,
    )


@role_required("manage_notifications")
@require_POST
def channel_test(request, slug):
    channel = get_object_or_404(Channel, slug=slug)
    channels.send_test(channel, actor_of(request), request=request)
    messages.success(request, f"Test message to {channel.name} queued: its delivery is at the top of the list.")
    return redirect("notification_list")


@role_required("manage_notifications")
@require_POST
def channel_delete(request, slug):
    channel = get_object_or_404(Channel, slug=slug)
    channels.delete_channel(channel, actor_of(request), request=request)
    messages.success(request, f"Channel {channel.name} and its subscriptions deleted; its deliveries stay listed.")
    return redirect("notification_list")


@role_required("manage_notifications")
@require_POST
def subscription_new(request):
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        chosen = form.cleaned_data
        subjects = {name: chosen[name] for name in ("runbook", "binding", "gate")}
        try:
            events = validation.subscription(subjects, chosen["events"])
        except Refused as exc:
            refusals.add_to_form(form, exc)
        else:
            subscription = Subscription(created_by=request.user, channel=chosen["channel"], events=events, **subjects)
            channels.save_subscription(subscription, actor_of(request), request=request)
            messages.success(request, "Subscription saved.")
            return redirect("notification_list")
    return _page(request, subscription_form=form, status=400)


@role_required("manage_notifications")
@require_POST
def subscription_delete(request, pk):
    subscription = get_object_or_404(Subscription.objects.select_related("channel", "runbook", "gate"), pk=pk)
    channels.delete_subscription(subscription, actor_of(request), request=request)
    messages.success(request, "Subscription deleted.")
    return redirect("notification_list")
