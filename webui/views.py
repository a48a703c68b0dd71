"""Pages. Each view reads what it shows in a bounded number of queries and
calls the same services as the API for anything that changes state."""

from django.contrib import messages
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from events.filters import EventFilter, SourceFilter
from events.models import Binding, Event, Source
from reports import stats
from runbooks import approvals, runs
from runbooks.filters import ExecutionFilter
from runbooks.logs import log_page
from runbooks.models import Execution, Runbook
from webui import dashboard_charts, explain, logs, refusals, timeline
from webui.access import role_required
from webui.filters import list_page
from webui.htmx import fragment

Status = Execution.Status


def _executions():
    return Execution.objects.select_related("runbook", "version", "event")


@role_required("read")
def dashboard(request):
    """What needs a person now (running, awaiting approval, failures, tripped
    bindings), then four charts over fixed recent windows."""
    now = timezone.now()
    plan = stats.Plan.load(now)  # which hours the charts read from the hourly rollups
    hours = stats.runs_per_hour(now, plan=plan)
    totals = {s.value: sum(h.counts[s.value] for h in hours) for s in Status}
    rates = stats.success_rates(now, plan=plan)
    delays = stats.alert_to_remediation(now, plan=plan)
    noisy = stats.noisiest_alerts(now, plan=plan)
    return render(
        request,
        "webui/dashboard.html",
        {
            "counts": [(s.value, totals[s.value]) for s in Status],
            "ran_today": sum(totals.values()),
            # Oldest first: the one closest to expiring leads.
            "awaiting": _executions()
            .filter(status=Status.AWAITING_APPROVAL)
            .select_related("requested_by")
            .order_by("created_at")[:20],
            "running": _executions()
            .filter(status=Status.RUNNING)
            .select_related("requested_by")
            .order_by("-started_at")[:20],
            "failures": _executions()
            .filter(status__in=[Status.FAILED, Status.TIMED_OUT, Status.LOST])
            .select_related("requested_by")
            .order_by("-created_at")[:10],
            "tripped": Binding.objects.filter(tripped_at__isnull=False)
            .select_related("runbook")
            .order_by("-tripped_at")[:20],
            "has_runbooks": Runbook.objects.exists(),
            "charts": dashboard_charts.build(hours, rates, delays, noisy),
            "groups": stats.GROUPS,
            "hour_rows": [
                {"label": f"{timezone.localtime(h.start):%H}:00", "values": [h.counts[s.value] for s in Status]}
                for h in hours
            ],
            "time_zone": timezone.get_current_timezone_name(),
            "rates": rates,
            "delays": delays,
            "median_delay": stats.median_bucket(delays),
            "noisy": noisy,
        },
    )


@role_required("read")
def execution_list(request):
    return list_page(request, "webui/execution_list.html", ExecutionFilter, _executions(), "-created_at", "executions")


def _get_execution(pk):
    try:
        return _executions().select_related("binding", "requested_by", "decided_by", "event__source").get(pk=pk)
    except (Execution.DoesNotExist, ValueError):
        raise Http404("No such execution.") from None


# What the page says of a run that never started, where its output would be.
NOT_STARTED = {
    Execution.Status.AWAITING_APPROVAL: "Not started yet — awaiting approval.",
    Execution.Status.QUEUED: "Not started yet — queued for a worker.",
    Execution.Status.REJECTED: "This run never started: rejected.",
    Execution.Status.SKIPPED: "This run never started: skipped.",
    Execution.Status.CANCELLED: "This run never started: cancelled before it began.",
    Execution.Status.FAILED: "This run never started: it failed before it began.",
    Execution.Status.LOST: "This run never started: lost before a worker began it.",
}


def _run_state(execution) -> dict:
    """What the summary offers and says: Run again only where a rerun would
    start (the rule the rerun API applies), and the words for a run that
    never started instead of an empty log."""
    return {
        "rerun_refusal": runs.rerun_refusal(execution) if execution.is_finished else "",
        "not_started": NOT_STARTED.get(execution.status, "") if execution.started_at is None else "",
    }


@role_required("read")
def execution_detail(request, pk):
    execution = _get_execution(pk)
    return render(
        request,
        "webui/execution_detail.html",
        {
            "execution": execution,
            **_run_state(execution),
            "steps": timeline.steps(execution),
            # Four eyes: the requester sees no Approve/Reject, only Cancel.
            "may_decide": approvals.may_decide(execution, request.user),
            "approval_deadline": execution.created_at + approvals.timeout(),
            **logs.tail(execution),
        },
    )


def _line_number(request, name: str, default: int) -> int:
    try:
        return max(0, int(request.GET.get(name, default)))
    except ValueError:
        return default


@role_required("read")
@fragment("execution_detail")
def execution_log(request, pk):
    """The htmx poll: new lines, the status, and the next poll (none once done)."""
    execution = _get_execution(pk)
    log = logs.with_html(log_page(execution, _line_number(request, "after", 0)))
    return render(
        request,
        "webui/execution_detail.html#log-update",
        {"execution": execution, **_run_state(execution), "steps": timeline.steps(execution), **log},
    )


@role_required("read")
@fragment("execution_detail")
def execution_log_earlier(request, pk):
    """The "earlier lines" button: the lines before `before`, put on top of the log."""
    execution = _get_execution(pk)
    log = logs.before(execution, _line_number(request, "before", 0))
    return render(request, "webui/execution_detail.html#log-earlier", {"execution": execution, **log})


@role_required("read")
def execution_log_download(request, pk):
    """The whole log as a text file, streamed: a long log never sits in memory."""
    execution = _get_execution(pk)
    response = StreamingHttpResponse(logs.as_text(execution), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{execution.runbook.slug}-{execution.pk}.log"'
    return response


@role_required("cancel")
@require_POST
def execution_cancel(request, pk):
    execution = _get_execution(pk)
    if runs.cancel(execution, actor_of(request), request=request):
        messages.success(request, "Cancel requested.")
    else:
        messages.info(request, f"This run had already ended ({execution.status}).")
    return redirect("execution_detail", pk=execution.pk)


@role_required("approve")
@require_POST
def execution_approve(request, pk):
    return _decide(request, pk, approvals.approve, "Approved: the run is queued.")


@role_required("approve")
@require_POST
def execution_reject(request, pk):
    return _decide(request, pk, approvals.reject, "Rejected: the run will not start.")


def _decide(request, pk, decide, done: str):
    execution = _get_execution(pk)
    try:
        decide(execution, request.user, actor_of(request), request.POST.get("reason", "")[:1000], request=request)
    except approvals.ApprovalRefused as exc:
        return refusals.to_page(request, exc, redirect("execution_detail", pk=execution.pk))
    else:
        messages.success(request, done)
    return redirect("execution_detail", pk=execution.pk)


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
    executions = list(_executions().select_related("binding").filter(event=event).order_by("-created_at"))
    return render(
        request,
        "webui/event_detail.html",
        {
            "event": event,
            "executions": executions,
            "verdicts": explain.bindings_for_event(event, executions),
        },
    )


@role_required("read")
def source_list(request):
    return list_page(request, "webui/source_list.html", SourceFilter, Source.objects.all(), "name", "sources")


# --- Error pages: JSON for the API and webhooks, HTML elsewhere ----------------


def _error_page(request, status: int, title: str):
    if request.path.startswith(("/api/", "/hooks/")):
        return JsonResponse({"detail": title}, status=status)
    return render(request, "webui/error.html", {"status": status, "title": title}, status=status)


def bad_request(request, exception=None):
    return _error_page(request, 400, "Bad request.")


def forbidden(request, exception=None):
    return _error_page(request, 403, "You may not do this.")


def not_found(request, exception=None):
    return _error_page(request, 404, "Not found.")


def server_error(request):
    return _error_page(request, 500, "Something went wrong on our side; it has been logged.")
