"""Pages. Each view reads what it shows in a bounded number of queries and
calls the same services as the API for anything that changes state."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from events.models import Event, Source
from runbooks import approvals, services
from runbooks.api import log_page
from runbooks.models import Execution
from webui import pagination
from webui.access import forbidden_page, role_required

Status = Execution.Status


def _executions():
    return Execution.objects.select_related("runbook", "version", "event")


@role_required("read")
def dashboard(request):
    since = timezone.now() - timedelta(hours=24)
    counts = dict(
        Execution.objects.filter(created_at__gte=since).values_list("status").annotate(n=Count("id")).order_by()
    )
    return render(
        request,
        "webui/dashboard.html",
        {
            "counts": [(s.value, counts.get(s.value, 0)) for s in Status],
            # Oldest first: the one closest to expiring leads.
            "awaiting": _executions()
            .filter(status=Status.AWAITING_APPROVAL)
            .select_related("requested_by")
            .order_by("created_at")[:20],
            "running": _executions().filter(status=Status.RUNNING).order_by("-started_at")[:20],
            "failures": _executions()
            .filter(status__in=[Status.FAILED, Status.TIMED_OUT, Status.LOST])
            .order_by("-created_at")[:10],
            "recent": _executions().order_by("-created_at")[:15],
        },
    )


@role_required("read")
def execution_list(request):
    queryset = _executions()
    status = request.GET.get("status", "")
    runbook = request.GET.get("runbook", "")
    if status in Status.values:
        queryset = queryset.filter(status=status)
    if runbook:
        queryset = queryset.filter(runbook__slug=runbook)
    rows, next_cursor = pagination.page(queryset, request.GET.get("after"), "created_at")
    return render(
        request,
        "webui/execution_list.html",
        {
            "executions": rows,
            "next_cursor": next_cursor,
            "statuses": Status.values,
            "status": status,
            "runbook": runbook,
        },
    )


def _get_execution(pk):
    try:
        return _executions().select_related("binding", "requested_by", "decided_by", "event__source").get(pk=pk)
    except (Execution.DoesNotExist, ValueError):
        raise Http404("No such execution.") from None


@role_required("read")
def execution_detail(request, pk):
    execution = _get_execution(pk)
    log = log_page(execution, 0)
    return render(
        request,
        "webui/execution_detail.html",
        {
            "execution": execution,
            # Four eyes: the requester sees no Approve/Reject, only Cancel.
            "may_decide": approvals.may_decide(execution, request.user),
            "approval_deadline": execution.created_at + approvals.timeout(),
            **log,
        },
    )


@role_required("read")
def execution_log(request, pk):
    """The htmx poll: new lines, the status, and the next poll (none once done)."""
    execution = _get_execution(pk)
    try:
        after = max(0, int(request.GET.get("after", 0)))
    except ValueError:
        after = 0
    log = log_page(execution, after)
    return render(request, "webui/execution_detail.html#log-update", {"execution": execution, **log})


@role_required("cancel")
@require_POST
def execution_cancel(request, pk):
    execution = _get_execution(pk)
    if services.cancel(execution, actor_of(request), request=request):
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
        if exc.status == 403:
            return forbidden_page(request, str(exc))
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("execution_detail", pk=execution.pk)


@role_required("read")
def event_list(request):
    rows, next_cursor = pagination.page(Event.objects.select_related("source"), request.GET.get("after"), "received_at")
    return render(request, "webui/event_list.html", {"events": rows, "next_cursor": next_cursor})


@role_required("read")
def event_detail(request, pk):
    try:
        event = Event.objects.select_related("source").get(pk=pk)
    except (Event.DoesNotExist, ValueError):
        raise Http404("No such event.") from None
    return render(
        request,
        "webui/event_detail.html",
        {
            "event": event,
            "executions": _executions().filter(event=event).order_by("-created_at"),
        },
    )


@role_required("read")
def source_list(request):
    return render(request, "webui/source_list.html", {"sources": Source.objects.all()})


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
