"""Ask a gate, and work out its verdict from the runs it started.

A runbook judges a change by its exit: 0 passes, anything else fails, and
its reasons are read from its result (`{"reasons": [...]}` or
`{"reason": "..."}`), else from its error. A run that times out fails the
gate unless the gate says `on_timeout: pass`; a run that could not give an
answer (lost, cancelled, rejected, skipped) makes the verdict `error`. A gate
whose runs have not all ended after its `timeout_seconds` decides as its
`on_timeout` says.
"""

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit import trail
from gates import signals
from gates.models import Check, Gate
from runbooks import runs
from runbooks.models import Execution
from runbooks.parameters import ParameterError

MAX_WAIT_SECONDS = 60
Status = Execution.Status
UNANSWERED = {Status.LOST, Status.CANCELLED, Status.REJECTED, Status.SKIPPED}


def ask(gate: Gate, fields: dict, user, actor: trail.Actor, request=None) -> Check:
    """Start one run of every runbook of the gate, with the fields as its
    parameters. Raises ParameterError naming the runbook whose schema the
    fields do not fit (the API's 400), and then starts nothing."""
    runbooks = list(gate.runbooks.select_related("current_version").order_by("slug"))
    executions = []
    for runbook in runbooks:
        try:
            executions.append(runs.new_execution(runbook, fields, strict=True, requested_by=user))
        except ParameterError as exc:
            raise ParameterError(f"runbook {runbook.slug}: {exc}") from None
    with transaction.atomic():
        check = Check.objects.create(gate=gate, fields=fields, requested_by=user)
        for execution in executions:
            execution.save(force_insert=True)
        check.executions.set(executions)
        trail.record_many(
            actor,
            [trail.Change("gate.checked", "gate_check", check.pk, after={"gate": gate.name, "fields": fields})]
            + [runs.created_change(x) for x in executions],
            request=request,
        )
        runs.enqueue_on_commit(executions)
    return check


def refresh(check: Check) -> Check:
    """Decide the check if its runs allow it; a decided check never changes
    again, except by an override."""
    if check.verdict is not None:
        return check
    runs = list(check.executions.select_related("runbook").order_by("runbook__slug"))
    verdict, reasons = judge(check, runs)
    if verdict is None:
        return check
    now = timezone.now()
    with transaction.atomic():
        if Check.objects.filter(pk=check.pk, verdict__isnull=True).update(
            verdict=verdict, reasons=reasons, decided_at=now
        ):
            trail.record(
                trail.SYSTEM,
                trail.Change("gate.decided", "gate_check", check.pk, after={"verdict": verdict, "reasons": reasons}),
            )
            signals.check_decided.send(sender=Check, check=check)
    check.refresh_from_db()
    return check


def judge(check: Check, runs: list[Execution]) -> tuple[str | None, list[str]]:
    gate = check.gate
    if not runs:
        return Check.Verdict.PASS, ["the gate has no runbook"]
    timed_out = timezone.now() - check.created_at > timedelta(seconds=gate.timeout_seconds)
    if not all(run.is_finished for run in runs) and not timed_out:
        return None, []
    failures, errors = [], []
    for run in runs:
        slug = run.runbook.slug
        if not run.is_finished or run.status == Status.TIMED_OUT:
            if gate.on_timeout == Gate.OnTimeout.FAIL:
                late = "timed out" if run.is_finished else f"no answer within the gate's {gate.timeout_seconds} s"
                failures.append(f"{slug}: {late}")
        elif run.status == Status.FAILED:
            failures += [f"{slug}: {reason}" for reason in reasons_of(run)]
        elif run.status in UNANSWERED:
            errors.append(f"{slug}: the run ended {run.status}: {run.error or 'no answer'}")
    if errors:
        return Check.Verdict.ERROR, errors + failures
    if failures:
        return Check.Verdict.FAIL, failures
    return Check.Verdict.PASS, []


def reasons_of(run: Execution) -> list[str]:
    result = run.result if isinstance(run.result, dict) else {}
    reasons = result.get("reasons")
    if isinstance(reasons, list) and reasons:
        return [str(r) for r in reasons]
    if result.get("reason"):
        return [str(result["reason"])]
    return [run.error or f"exited with code {run.exit_code}"]


def wait(check: Check, seconds: float) -> Check:
    """Hold the request until the check is decided or `seconds` have passed."""
    deadline = time.monotonic() + min(seconds, MAX_WAIT_SECONDS)
    check = refresh(check)
    while check.verdict is None and time.monotonic() < deadline:
        time.sleep(0.25)
        check = refresh(check)
    return check


def override(check: Check, verdict: str, reason: str, user, actor: trail.Actor, request=None) -> Check:
    """An admin's decision over the runbooks' (audited, with the reason)."""
    before = {"verdict": check.verdict, "reasons": check.reasons}
    with transaction.atomic():
        Check.objects.filter(pk=check.pk).update(
            verdict=verdict, decided_at=timezone.now(), overridden_by=user, override_reason=reason
        )
        trail.record(
            actor,
            trail.Change(
                "gate.overridden", "gate_check", check.pk, before=before, after={"verdict": verdict, "reason": reason}
            ),
            request=request,
        )
    check.refresh_from_db()
    return check
