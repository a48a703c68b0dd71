"""Runs that wait for a person before they start.

A binding or runbook with `requires_approval` creates its runs in
`awaiting_approval`. A responder other than the one who asked for the run
(four eyes) approves it, which queues it, or rejects it with a reason. A
request nobody answers within STEWARD_APPROVAL_TIMEOUT_SECONDS expires as
`rejected` ("approval expired"): every worker's sweep calls `expire_due()`.

Approve, reject and expiry are each one conditional update from
`awaiting_approval`, so whichever commits first wins and the others change
nothing. Approve also requires the request to be younger than the timeout:
a request past its time never runs, even before a sweep has expired it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import trail
from core.errors import CONFLICT, FORBIDDEN, INVALID, Refused
from runbooks import runs
from runbooks.models import Execution

Status = Execution.Status
Decision = Execution.Decision
EXPIRED_REASON = "approval expired"
BATCH = 500


class ApprovalRefused(Refused):
    """Why an approve or reject did nothing: the run's state (a conflict),
    the four-eyes rule (forbidden) or a missing reason (invalid)."""

    def __init__(self, message: str, kind: str = CONFLICT):
        super().__init__(message, kind=kind)


def timeout() -> timedelta:
    return timedelta(seconds=settings.STEWARD_APPROVAL_TIMEOUT_SECONDS)


def may_decide(execution: Execution, user) -> bool:
    """Four eyes: whoever asked for a run cannot answer for it. Runs started
    by a binding or a schedule have no requester: any responder may."""
    return execution.requested_by_id is None or execution.requested_by_id != user.pk


def _check_four_eyes(execution: Execution, user) -> None:
    if not may_decide(execution, user):
        raise ApprovalRefused(
            "You requested this run: another responder must approve or reject it (you may cancel it).", FORBIDDEN
        )


def approve(execution: Execution, user, actor: trail.Actor, reason: str = "", request=None) -> Execution:
    """awaiting_approval → queued, and sent to a worker once committed."""
    _check_four_eyes(execution, user)
    now = timezone.now()
    reason = reason.strip()
    with transaction.atomic():
        approved = Execution.objects.filter(
            pk=execution.pk, status=Status.AWAITING_APPROVAL, created_at__gt=now - timeout()
        ).update(
            status=Status.QUEUED,
            enqueued_at=now,
            decision=Decision.APPROVED,
            decided_by=user,
            decided_at=now,
            decision_reason=reason,
        )
        if approved:
            trail.record(
                actor,
                trail.Change(
                    "execution.approved",
                    "execution",
                    execution.pk,
                    before={"status": Status.AWAITING_APPROVAL},
                    after={"status": Status.QUEUED, "reason": reason},
                ),
                request=request,
            )
            execution = Execution.objects.select_related("runbook", "version").get(pk=execution.pk)
            runs.enqueue_on_commit([execution])
            return execution
    execution.refresh_from_db()
    if execution.status == Status.AWAITING_APPROVAL:  # past its time: expire it now rather than later
        expire(execution.pk, now)
        execution.refresh_from_db()
        raise ApprovalRefused("This approval request expired; the run will not start.")
    raise ApprovalRefused(f"This run is not awaiting approval (it is {execution.status}).")


def reject(execution: Execution, user, actor: trail.Actor, reason: str, request=None) -> Execution:
    """awaiting_approval → rejected, with the reviewer's reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ApprovalRefused("Say why the run is rejected (reason).", INVALID)
    _check_four_eyes(execution, user)
    now = timezone.now()
    with transaction.atomic():
        rejected = Execution.objects.filter(pk=execution.pk, status=Status.AWAITING_APPROVAL).update(
            status=Status.REJECTED,
            finished_at=now,
            decision=Decision.REJECTED,
            decided_by=user,
            decided_at=now,
            decision_reason=reason,
            error=f"Rejected by {user.get_username()}: {reason}",
        )
        if rejected:
            trail.record(
                actor,
                trail.Change(
                    "execution.rejected",
                    "execution",
                    execution.pk,
                    before={"status": Status.AWAITING_APPROVAL},
                    after={"status": Status.REJECTED, "reason": reason},
                ),
                request=request,
            )
    execution.refresh_from_db()
    if not rejected:
        raise ApprovalRefused(f"This run is not awaiting approval (it is {execution.status}).")
    return execution


def expire(pk, now=None) -> bool:
    """Reject one request as expired; False when it was answered meanwhile."""
    now = now or timezone.now()
    seconds = settings.STEWARD_APPROVAL_TIMEOUT_SECONDS
    with transaction.atomic():
        expired = Execution.objects.filter(pk=pk, status=Status.AWAITING_APPROVAL).update(
            status=Status.REJECTED,
            finished_at=now,
            decision=Decision.EXPIRED,
            decided_at=now,
            decision_reason=EXPIRED_REASON,
            error=f"Rejected: approval expired (no answer within {seconds} s).",
        )
        if expired:
            trail.record(
                trail.SYSTEM,
                trail.Change(
                    "execution.approval_expired",
                    "execution",
                    pk,
                    before={"status": Status.AWAITING_APPROVAL},
                    after={"status": Status.REJECTED, "reason": EXPIRED_REASON},
                ),
            )
    return bool(expired)


def expire_due(now=None) -> int:
    """The sweep's step: expire the oldest unanswered requests past their time."""
    now = now or timezone.now()
    due = (
        Execution.objects.filter(status=Status.AWAITING_APPROVAL, created_at__lte=now - timeout())
        .order_by("created_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    return sum(expire(pk, now) for pk in list(due))
