"""The events: the list, and one event with the runs it started and why
each binding did or did not match it."""

from django.http import Http404
from django.shortcuts import render

from events.filters import EventFilter
from events.models import Event
from webui import explain
from webui.access import role_required
from webui.filters import list_page
from webui.views.runs import listed_runs


@role_required("read")
def event_list(request):
    events = Event.objects.select_related("source")
    return list_page(request, "webui/event_list.html", EventFilter, events, "-received_at", "events")


@role_required("read")
def event_detail(request, pk):
    try:
        event = Event.objects.select_related("source").get(pk=pk)
    except (Event.DoesNotExist, ValueError):
        raise Http404("No such event.") from None
    executions = list(listed_runs().select_related("binding").filter(event=event).order_by("-created_at"))
    return render(
        request,
        "webui/event_detail.html",
        {
            "event": event,
            "executions": executions,
            "verdicts": explain.bindings_for_event(event, executions),
        },
    )
