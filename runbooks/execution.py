"""The worker's side of an execution: claim it, run it, record the outcome."""

import logging
import os
import socket

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import trail
from runbooks.models import Execution, LogLine
from runbooks.runners import process

log = logging.getLogger(__name__)
Status = Execution.Status
HOST = socket.gethostname()


class DatabaseSink:
    """Stores a run's output in small batches and reads its cancel flag."""

    def __init__(self, execution: Execution):
        self.execution = execution

    def started(self, pid: int) -> None:
        Execution.objects.filter(pk=self.execution.pk).update(pgid=pid)

    def lines(self, lines: list[process.Line]) -> None:
        with transaction.atomic():
            LogLine.objects.bulk_create(
                LogLine(execution_id=self.execution.pk, n=line.n, t=line.t, stream=line.stream, text=line.text)
                for line in lines
            )
            Execution.objects.filter(pk=self.execution.pk).update(log_count=lines[-1].n, heartbeat_at=timezone.now())

    def cancel_requested(self) -> bool:
        return Execution.objects.filter(pk=self.execution.pk, cancel_requested_at__isnull=False).exists()


def claim(execution_id: str) -> bool:
    """queued → running, once: a second delivery of the message finds nothing."""
    now = timezone.now()
    return bool(
        Execution.objects.filter(pk=execution_id, status=Status.QUEUED).update(
            status=Status.RUNNING, started_at=now, heartbeat_at=now, host=HOST
        )
    )


def spec_for(execution: Execution) -> process.RunSpec:
    version = execution.version
    return process.RunSpec(
        kind=version.kind,
        script=version.script,
        parameters=execution.parameters,
        event=event_document(execution.event),
        timeout_seconds=version.timeout_seconds,
        identifiers={
            "STEWARD_EXECUTION_ID": str(execution.id),
            "STEWARD_RUNBOOK": execution.runbook.slug,
            "STEWARD_RUNBOOK_VERSION": str(version.number),
        },
        # A root worker never runs a runbook as root.
        run_as=settings.STEWARD_RUNBOOK_USER if os.geteuid() == 0 else None,
    )


def event_document(event) -> dict:
    """The triggering event as the runbook reads it from STEWARD_EVENT."""
    if event is None:
        return {}
    return {
        "id": str(event.id),
        "source": event.source.slug,
        "received_at": event.received_at.isoformat(),
        "status": event.status,
        "name": event.name,
        "severity": event.severity,
        "fingerprint": event.fingerprint,
        "summary": event.summary,
        "labels": event.labels,
        "annotations": event.annotations,
        "payload": event.payload,
    }


def run(execution_id: str) -> None:
    if not claim(execution_id):
        return
    execution = Execution.objects.select_related("runbook", "version", "event__source").get(pk=execution_id)
    with transaction.atomic():
        trail.record(
            trail.SYSTEM,
            trail.Change(
                "execution.started",
                "execution",
                execution.pk,
                before={"status": "queued"},
                after={"status": "running", "host": HOST},
            ),
        )
    try:
        outcome = process.run(spec_for(execution), DatabaseSink(execution))
    except Exception as exc:  # a bug of ours must not leave the run "running"
        log.exception("execution %s: the runner failed", execution_id)
        outcome = process.Outcome("failed", error=f"Steward could not run this runbook ({type(exc).__name__}).")
    finish(execution, outcome)


def finish(execution: Execution, outcome: process.Outcome) -> None:
    now = timezone.now()
    with transaction.atomic():
        Execution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(
            status=outcome.status,
            exit_code=outcome.exit_code,
            result=outcome.result,
            error=outcome.error,
            finished_at=now,
            heartbeat_at=now,
        )
        trail.record(
            trail.SYSTEM,
            trail.Change(
                "execution.finished",
                "execution",
                execution.pk,
                before={"status": "running"},
                after={"status": outcome.status, "exit_code": outcome.exit_code},
            ),
        )
    log.info(
        "execution %s %s in %.2fs",
        execution.pk,
        outcome.status,
        (now - execution.started_at).total_seconds() if execution.started_at else 0.0,
    )
