"""Starting, rerunning and cancelling runs. Every new run (manual, binding,
schedule, gate, rerun) is built by new_execution, so whether it waits for
approval is decided there, once, for every caller; approving and rejecting
a waiting run is runbooks/approvals.py."""

from django.db import transaction
from django.utils import timezone

from audit import trail
from core import publish as core_publish
from core import templating
from core.errors import CONFLICT, Refused
from runbooks import parameters as params
from runbooks import signals
from runbooks.models import Execution, Runbook, RunbookVersion

Status = Execution.Status


def needs_approval(runbook: Runbook, version: RunbookVersion, original: Execution | None = None) -> bool:
    """Whether a new run waits for a responder: its runbook requires it now,
    or the version it runs did, or (a rerun) the run it repeats needed it.
    A rerun never escapes the approval its original waited for, whatever
    the runbook says today: a person approved that run, not every run of
    those parameters after it."""
    if runbook.requires_approval or version.requires_approval:
        return True
    if original is None:
        return False
    binding = original.binding if original.binding_id else None
    return bool(
        original.decision or original.status == Status.AWAITING_APPROVAL or (binding and binding.requires_approval)
    )


def new_execution(
    runbook: Runbook,
    raw_parameters: dict,
    strict: bool = False,
    version: RunbookVersion | None = None,
    approval: bool = False,
    **fields,
) -> Execution:
    """An unsaved execution of `version` (default: the runbook's current one).
    `approval`: the caller's own reason to wait for a responder (a binding
    that requires it, a rerun of a run that needed it).
    Parameters that fail the schema raise ParameterError when `strict` (a
    person can fix the request), else give a `failed` execution with the
    reason: an alert's attempt stays visible in the history instead of
    vanishing."""
    version = version or runbook.current_version
    now = timezone.now()
    # Every new run passes here (manual, binding, schedule, gate, rerun; a
    # retry continues an approved run and does not): one place decides
    # whether it waits for a responder.
    waits = approval or needs_approval(runbook, version)
    if waits and fields.get("status", Status.QUEUED) in (Status.QUEUED, Status.AWAITING_APPROVAL):
        fields["status"] = Status.AWAITING_APPROVAL
    if fields.get("event") is not None:
        fields.setdefault("source_id", fields["event"].source_id)
    execution = Execution(runbook=runbook, version=version, created_at=now, **fields)
    try:
        execution.parameters = params.validate(version.parameters, raw_parameters)
        execution.concurrency_key = concurrency_key(runbook, execution.parameters)
    except (params.ParameterError, templating.RenderError) as exc:
        if strict:
            raise
        execution.parameters = raw_parameters if isinstance(raw_parameters, dict) else {}
        execution.status, execution.finished_at = Status.FAILED, now
        execution.error = f"Invalid parameters: {exc}"
        if isinstance(exc, templating.RenderError):
            execution.error = f"The concurrency key could not be rendered: {exc}"
        return execution
    if execution.status == Status.QUEUED:
        execution.enqueued_at = now
    return execution


def concurrency_key(runbook: Runbook, parameters: dict) -> str:
    """The slot a run takes under the runbook's concurrency limit."""
    if not runbook.concurrency_limit or not runbook.concurrency_key:
        return ""
    return str(templating.render(runbook.concurrency_key, {"params": parameters}))[:200]


def created_change(execution: Execution) -> trail.Change:
    after = {
        "runbook": execution.runbook.slug,
        "version": execution.version.number,
        "status": execution.status,
        "parameters": execution.parameters,
        "event": execution.event_id,
        "binding": execution.binding_id,
    }
    if execution.rerun_of_id:
        after["rerun_of"] = execution.rerun_of_id
    return trail.Change("execution.created", "execution", execution.id, after=after)


def request_run(runbook: Runbook, raw_parameters: dict, user, actor: trail.Actor, request=None) -> Execution:
    """A manual run. Raises ParameterError on bad parameters (the API's 400)."""
    execution = new_execution(runbook, raw_parameters, strict=True, requested_by=user)
    with transaction.atomic():
        execution.save(force_insert=True)
        trail.record(actor, created_change(execution), request=request)
        enqueue_on_commit([execution])
    return execution


class RerunRefused(Refused, ValueError):
    """A run that cannot be run again, with the reason: a conflict with the
    run's state, so the API's 409."""

    def __init__(self, reason: str):
        super().__init__(f"This run cannot be run again: {reason}", kind=CONFLICT)


def rerun_refusal(original: Execution) -> str:
    """Why running `original` again would be refused, or "" when it would
    start: the new run passes the checks every run passes (its parameters
    against its version's schema, the concurrency key rendered from them).
    rerun() refuses with this reason, and the run's page offers Run again
    only when it is "", so the button never leads to a refusal."""
    if original.status == Status.REJECTED and original.decision == Execution.Decision.REJECTED:
        # A responder said no: running it again is asking again, with a new
        # request that states its own case, not a button beside the refusal.
        who = original.decided_by.get_username() if original.decided_by_id else "a responder"
        return f"{who} rejected it; request a new run instead"
    try:
        concurrency_key(original.runbook, params.validate(original.version.parameters, original.parameters))
    except params.ParameterError as exc:
        return f"its parameters do not pass the schema of v{original.version.number}: {exc}"
    except templating.RenderError as exc:
        return f"the runbook's concurrency key cannot be rendered from its parameters: {exc}"
    return ""


def rerun(original: Execution, user, actor: trail.Actor, request=None) -> Execution:
    """Run again what `original` ran: the same version and parameters (and
    event, so the runbook reads the same STEWARD_EVENT), as a new execution.
    Raises RerunRefused (see rerun_refusal) when the parameters never passed
    the version's schema (the original failed on them), rather than running
    them anyway."""
    refusal = rerun_refusal(original)
    if refusal:
        raise RerunRefused(refusal)
    execution = new_execution(
        original.runbook,
        original.parameters,
        strict=True,
        version=original.version,
        event_id=original.event_id,
        source_id=original.source_id,
        rerun_of=original,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        approval=needs_approval(original.runbook, original.version, original),
    )
    with transaction.atomic():
        execution.save(force_insert=True)
        trail.record(actor, created_change(execution), request=request)
        enqueue_on_commit([execution])
    return execution


def enqueue_on_commit(executions: list[Execution]) -> None:
    """Ring the broker's doorbell once the rows are committed. The row is the
    work; a failed publish leaves it `queued` for the sweep to re-enqueue."""
    signals.runs_created.send(sender=Execution, executions=executions)  # e.g. runs awaiting approval: notify
    jobs = [(str(e.id), e.version.queue) for e in executions if e.status == Status.QUEUED]
    if jobs:
        transaction.on_commit(lambda: publish(jobs), robust=True)


def publish(jobs: list[tuple[str, str]]) -> None:
    """Ring for each `(execution id, queue)`; a failed publish leaves it queued."""
    core_publish.publish("runbooks.run_execution", [((pk,), queue) for pk, queue in jobs], "execution(s)")


def cancel(execution: Execution, actor: trail.Actor, request=None) -> bool:
    """Ask to cancel. A queued run is cancelled at once; a running one is
    stopped by its worker within a second. False if it had already ended."""
    now = timezone.now()
    with transaction.atomic():
        stopped = Execution.objects.filter(
            pk=execution.pk, status__in=[Status.QUEUED, Status.AWAITING_APPROVAL]
        ).update(status=Status.CANCELLED, cancel_requested_at=now, finished_at=now, error="Cancelled on request.")
        flagged = stopped or Execution.objects.filter(
            pk=execution.pk, status=Status.RUNNING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=now)
        if flagged:
            trail.record(
                actor,
                trail.Change(
                    "execution.cancel_requested", "execution", execution.pk, before={"status": execution.status}
                ),
                request=request,
            )
    execution.refresh_from_db()
    return bool(flagged)
