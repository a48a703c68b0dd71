"""Bindings: the list, new and edit through events/validation.py's rules,
delete, resetting a tripped breaker, the tester and the backtest."""

import uuid

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from core.errors import Refused
from events import backtest, bindings, breaker, samples
from events.filters import BindingFilter
from events.models import Binding, Event, Source
from events.samples import sample_event
from notifications import subscribed
from webui import refusals
from webui.access import role_required
from webui.filters import list_page
from webui.forms.events import BindingForm, BindingTestForm


@role_required("read")
def binding_list(request):
    bindings = Binding.objects.select_related("source", "runbook")
    return list_page(request, "webui/binding_list.html", BindingFilter, bindings, "name", "bindings")


@role_required("manage_bindings")
def binding_new(request):
    # ?source=<slug> (the source page's link) picks the source.
    initial = (
        {"source": request.GET["source"]} if Source.objects.filter(slug=request.GET.get("source", "")).exists() else {}
    )
    form = BindingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        binding = bindings.save_binding(None, form.values, actor_of(request), request=request)
        return _after_saving(request, binding, "created")
    return render(request, "webui/binding_form.html", {"form": form})


@role_required("manage_bindings")
def binding_edit(request, pk):
    binding = get_object_or_404(Binding.objects.select_related("source", "runbook"), pk=pk)
    form = BindingForm(request.POST or None, initial=BindingForm.initial_of(binding), binding=binding)
    if request.method == "POST" and form.is_valid():
        binding = bindings.save_binding(binding, form.values, actor_of(request), request=request)
        return _after_saving(request, binding, "saved")
    return render(request, "webui/binding_form.html", {"form": form, "binding": binding})


def _after_saving(request, binding: Binding, done: str):
    """An enabled binding goes to the tester, with an event it matches;
    a disabled one back to the list."""
    if not binding.enabled:
        messages.success(request, f"Binding {binding.name} {done}. It is disabled: it starts nothing until enabled.")
        return redirect("binding_list")
    runs = "asks for approval to run" if binding.requires_approval else "runs"
    messages.success(
        request,
        f"Binding {binding.name} {done}: the next matching event {runs} {binding.runbook.name}. "
        "Test it with a sample event: edit the event below to look like a real alert, then press Test. Nothing runs.",
    )
    return redirect(f"{reverse('binding_test')}?binding={binding.pk}")


@role_required("manage_bindings")
def binding_delete(request, pk):
    """GET: what deleting this binding does, and a button; POST: delete it."""
    binding = get_object_or_404(Binding.objects.select_related("source", "runbook"), pk=pk)
    if request.method == "POST":
        bindings.delete_binding(binding, actor_of(request), request=request)
        messages.success(request, f"Binding {binding.name} deleted. Its past runs stay in the history.")
        return redirect("binding_list")
    return render(
        request,
        "webui/binding_delete.html",
        {
            "binding": binding,
            "runs": binding.executions.count(),
            "subscriptions": subscribed.count_for_binding(binding),
        },
    )


@role_required("manage_bindings")
@require_POST
def binding_reset(request, pk):
    binding = get_object_or_404(Binding, pk=pk)
    if breaker.reset(binding, actor_of(request), request=request):
        messages.success(request, f"Binding {binding.name} reset: it runs again.")
    else:
        messages.info(request, f"Binding {binding.name} was not tripped.")
    return redirect("binding_list")


@role_required("read")
def binding_test(request):
    """Paste an event or pick a stored one; see what every binding would do."""
    initial = {}
    if request.method == "GET" and request.GET.get("binding"):
        binding = Binding.objects.filter(pk=_uuid_or_none(request.GET["binding"])).first()
        if binding is not None:
            initial["event"] = sample_event(binding)
    form = BindingTestForm(request.POST or None, initial=initial, recent=Event.objects.order_by("-received_at")[:20])
    results, error = None, ""
    if request.method == "POST" and form.is_valid():
        data = (
            {"event_id": form.cleaned_data["event_id"]}
            if form.cleaned_data["event_id"]
            else {"event": form.cleaned_data["event"]}
        )
        try:
            results = bindings.test_bindings(samples.tested_document(data))
        except Refused as exc:
            error = refusals.summary(exc)
    return render(request, "webui/binding_test.html", {"form": form, "results": results, "error": error})


def _uuid_or_none(value: str):
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@role_required("read")
def binding_backtest(request, pk):
    """The binding replayed over the stored events of the last days."""
    binding = get_object_or_404(Binding.objects.select_related("source", "runbook"), pk=pk)
    try:
        days = min(90, max(1, int(request.GET.get("days", 7))))
    except ValueError:
        days = 7
    return render(
        request,
        "webui/binding_backtest.html",
        {"binding": binding, "days": days, "result": backtest.backtest(binding, days)},
    )
