"""The executions: the list, a run's page and its live log, and what a
person does to a run (cancel, approve, reject, run again), through the
same services as the API."""

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from runbooks import approvals, runs
from runbooks.filters import ExecutionFilter
from runbooks.logs import log_page
from runbooks.models import Execution
from webui import logs, refusals, timeline
from webui.access import role_required
from webui.filters import list_page
from webui.htmx import fragment

Status = Execution.Status


def listed_runs():
    """Executions with what every list of runs shows beside them."""
    return Execution.objects.select_related("runbook", "version", "event")


@role_required("read")
def execution_list(request):
    return list_page(request, "webui/execution_list.html", ExecutionFilter, listed_runs(), "-created_at", "executions")


def _get_execution(pk):
    try:
        return listed_runs().select_related("binding", "requested_by", "decided_by", "event__source").get(pk=pk)
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


@role_required("run")
@require_POST
def execution_rerun(request, pk):
    try:
        original = Execution.objects.select_related("runbook", "version").get(pk=pk)
    except (Execution.DoesNotExist, ValueError):
        raise Http404("No such execution.") from None
    try:
        execution = runs.rerun(original, request.user, actor_of(request), request=request)
    except runs.RerunRefused as exc:
        messages.error(request, f"{exc}.")
        return redirect("execution_detail", pk=original.pk)
    return redirect("execution_detail", pk=execution.pk)
