"""The worker's side of an execution: claim it, run it, record the outcome,
then retry it or let the next run waiting for its slot go."""

import contextlib
import functools
import ipaddress
import logging
import os
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import trail
from runbooks import environments, remote, runs, secret_store, signals
from runbooks.models import Execution, LogLine, Runbook, RunbookVersion
from runbooks.runners import cgroups, namespaces, process, sandbox

log = logging.getLogger(__name__)
Status = Execution.Status
HOST = socket.gethostname()


class DatabaseSink:
    """Stores a run's output in small batches; on check-in records a
    heartbeat when one is due and reads the stop flags.

    The process group id rides along with the first write the run makes
    anyway (a batch of lines or the first check-in, a quarter of a second
    in) instead of costing a commit of its own at every start: a run too
    short for either never needs it."""

    def __init__(self, execution: Execution):
        self.execution = execution
        self.last_heartbeat = time.monotonic()
        self.pgid: int | None = None
        self.pgid_saved = False

    def started(self, pid: int) -> None:
        self.pgid = pid

    def _unsaved_pgid(self) -> dict:
        if self.pgid is None or self.pgid_saved:
            return {}
        self.pgid_saved = True
        return {"pgid": self.pgid}

    def lines(self, lines: list[process.Line]) -> None:
        with transaction.atomic():
            LogLine.objects.bulk_create(
                LogLine(execution_id=self.execution.pk, n=line.n, t=line.t, stream=line.stream, text=line.text)
                for line in lines
            )
            Execution.objects.filter(pk=self.execution.pk).update(
                log_count=lines[-1].n, heartbeat_at=timezone.now(), **self._unsaved_pgid()
            )
        self.last_heartbeat = time.monotonic()

    def check_in(self) -> str | None:
        due = time.monotonic() - self.last_heartbeat >= settings.STEWARD_HEARTBEAT_SECONDS
        if due or (self.pgid is not None and not self.pgid_saved):
            Execution.objects.filter(pk=self.execution.pk).update(heartbeat_at=timezone.now(), **self._unsaved_pgid())
            self.last_heartbeat = time.monotonic()
        flags = (
            Execution.objects.filter(pk=self.execution.pk)
            .values_list("cancel_requested_at", "shutdown_requested_at")
            .first()
        )
        if flags is None or flags[0]:
            return "cancel"
        return "shutdown" if flags[1] else None


def claim(execution_id: str, worker: str) -> Execution | None:
    """queued → running, once: a second delivery of the message finds nothing.
    Returns the claimed row (runbook, version and event loaded), or None.

    The `execution.started` audit entry and its notification go in the same
    transaction as the status change, on the row already read: one commit
    before the runbook starts.

    With a concurrency limit the runbook row is locked, so claims of the same
    runbook are decided one at a time, on every worker: at the limit the run
    waits for a slot (or is skipped, as the runbook says).
    """
    with transaction.atomic():
        row = (
            Execution.objects.select_related("runbook", "version", "event__source")
            .filter(pk=execution_id, status=Status.QUEUED)
            .first()
        )
        if row is None or (row.not_before and row.not_before > timezone.now()):
            return None
        runbook = row.runbook
        if runbook.concurrency_limit:
            # NO KEY: a plain FOR UPDATE also blocks the foreign-key checks of
            # every transaction inserting a run of this runbook, which then
            # deadlocks against this one's audit append (the chain head lock).
            Runbook.objects.select_for_update(no_key=True).filter(pk=runbook.pk).first()
            running = Execution.objects.filter(
                runbook=runbook, status=Status.RUNNING, concurrency_key=row.concurrency_key
            ).count()
            if running >= runbook.concurrency_limit:
                _at_limit(row, runbook)
                return None
        now = timezone.now()
        claimed = {
            "status": Status.RUNNING,
            "started_at": now,
            "heartbeat_at": now,
            "host": HOST,
            "worker": worker,
            "waiting_for_slot": False,
            "network": network_of(row.version),
        }
        if not Execution.objects.filter(pk=execution_id, status=Status.QUEUED).update(**claimed):
            return None
        for name, value in claimed.items():
            setattr(row, name, value)
        _record_started(row, worker)
    return row


def _record_started(row: Execution, worker: str) -> None:
    trail.record(
        trail.SYSTEM,
        trail.Change(
            "execution.started",
            "execution",
            row.pk,
            before={"status": "queued"},
            after={"status": "running", "host": HOST, "worker": worker},
        ),
    )
    signals.execution_started.send(sender=Execution, execution=row)


def _at_limit(row: Execution, runbook: Runbook) -> None:
    key = f" for {row.concurrency_key!r}" if row.concurrency_key else ""
    if runbook.on_concurrency_limit == Runbook.OnLimit.SKIP:
        reason = f"Skipped: {runbook.concurrency_limit} run(s) of {runbook.slug}{key} already running."
        now = timezone.now()
        Execution.objects.filter(pk=row.pk, status=Status.QUEUED).update(
            status=Status.SKIPPED, error=reason, finished_at=now
        )
        trail.record(
            trail.SYSTEM,
            trail.Change(
                "execution.skipped", "execution", row.pk, before={"status": "queued"}, after={"reason": reason}
            ),
        )
    else:
        # Leaves the broker: the run that frees the slot (or the sweep) sends it again.
        Execution.objects.filter(pk=row.pk, status=Status.QUEUED).update(waiting_for_slot=True, enqueued_at=None)


def network_of(version) -> str:
    """The network a run of `version` gets on this worker: a worker that
    opted out of the sandbox has only its own to give."""
    return version.network if settings.STEWARD_SANDBOX == "namespaces" else "host"


def _hosts_of_url(url: str) -> list[str]:
    hosts = []
    for part in url.split(";"):  # kombu takes several broker URLs, failover
        with contextlib.suppress(ValueError):
            host = urlsplit(part.strip()).hostname
            if host:
                hosts.append(host)
    return hosts


def control_plane_hosts() -> list[str]:
    """Where Steward itself lives: the database, the broker, the cache and
    the web app's own address (STEWARD_BASE_URL)."""
    hosts = [settings.DATABASES["default"].get("HOST") or ""]
    hosts += _hosts_of_url(settings.CELERY_BROKER_URL)
    hosts += _hosts_of_url(settings.CACHE_URL)
    hosts += _hosts_of_url(settings.STEWARD_BASE_URL)
    return sorted({h for h in hosts if h and not h.startswith("/")})  # a path: a Unix socket, hidden anyway


def egress_deny() -> list[str]:
    """The networks an egress run may not reach, resolved now, at each
    start (a name may have moved). A name that does not resolve fails the
    run: refusing an address we cannot name is impossible."""
    deny = [str(network) for network in settings.STEWARD_EGRESS_DENY]
    for host in control_plane_hosts():
        try:
            ipaddress.ip_address(host)
            deny.append(host)
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise namespaces.SandboxError(f"the control plane host {host!r} does not resolve ({exc})") from None
        deny += sorted({info[4][0] for info in infos})
    return deny


def spec_for(execution: Execution, secrets: dict[str, str] | None = None, python_env: str = "") -> process.RunSpec:
    version = execution.version
    as_other_user = os.geteuid() == 0  # a root worker never runs a runbook as root
    network = network_of(version)
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
        uid_pool=settings.STEWARD_RUNBOOK_UIDS,
        uid_lock_dir=settings.STEWARD_RUNBOOK_UID_LOCK_DIR,
        run_as=settings.STEWARD_RUNBOOK_USER if as_other_user else None,
        secrets=secrets or {},
        max_output_bytes=settings.STEWARD_RUNBOOK_MAX_OUTPUT_BYTES,
        limits=sandbox_limits(version.timeout_seconds, as_other_user),
        hidden_paths=[str(settings.BASE_DIR), str(settings.VAR_DIR), *settings.STEWARD_RUNBOOK_HIDDEN_PATHS],
        sandbox=settings.STEWARD_SANDBOX,
        network=network,
        tmp_bytes=settings.STEWARD_RUNBOOK_TMP_MB * 1024**2,
        egress_deny=egress_deny() if network == "egress" else [],
        cgroup=delegated_cgroup(),
        bwrap=settings.STEWARD_BWRAP,
        python_env=python_env,
    )


@functools.cache
def delegated_cgroup() -> str:
    """The cgroup v2 folder for a cgroup per run, checked once per process."""
    path, why = cgroups.detect(settings.STEWARD_RUNBOOK_CGROUP)
    if settings.STEWARD_RUNBOOK_CGROUP or path:
        log.info("runbook cgroups: %s", why)
    return path or ""


def sandbox_limits(timeout_seconds: int, as_other_user: bool) -> sandbox.Limits:
    return sandbox.Limits(
        cpu_seconds=timeout_seconds + settings.STEWARD_RUNBOOK_CPU_MARGIN_SECONDS,
        address_space_bytes=settings.STEWARD_RUNBOOK_MAX_ADDRESS_SPACE_BYTES,
        file_bytes=settings.STEWARD_RUNBOOK_MAX_FILE_BYTES,
        open_files=settings.STEWARD_RUNBOOK_MAX_OPEN_FILES,
        # RLIMIT_NPROC counts all processes of the user: as the worker's own
        # user it would count the worker and everything else that user runs.
        processes=settings.STEWARD_RUNBOOK_MAX_PROCESSES if as_other_user else 0,
    )


def event_document(event) -> dict:
    """The triggering event as the runbook reads it from STEWARD_EVENT."""
    return {} if event is None else event.document()


def run(execution_id: str, worker: str = "") -> None:
    execution = claim(execution_id, worker)
    if execution is None:
        return
    try:
        secrets = secret_store.values_for(execution.version.secrets, execution.runbook)
    except secret_store.SecretError as exc:
        # Failing loudly beats running without the credential it needs.
        finish(execution, process.Outcome("failed", error=str(exc)))
        return
    env = None
    try:
        if execution.version.kind == RunbookVersion.Kind.SSH:  # on the targets, not here
            outcome = remote.run(execution, secrets, DatabaseSink(execution), spec_for)
        else:
            env = environment_for(execution)
            outcome = process.run(spec_for(execution, secrets, env.path if env else ""), DatabaseSink(execution))
    except environments.BuildError as exc:
        outcome = build_failed(execution, exc)
    except namespaces.SandboxError as exc:
        outcome = process.Outcome("failed", error=f"The runbook's sandbox could not be set up: {exc}")
    except Exception as exc:  # a bug of ours must not leave the run "running"
        log.exception("execution %s: the runner failed", execution_id)
        outcome = process.Outcome("failed", error=f"Steward could not run this runbook ({type(exc).__name__}).")
    finally:
        if env is not None:
            env.release()  # held while the run ran: eviction leaves it alone
    finish(execution, outcome)


def environment_for(execution: Execution) -> "environments.Environment | None":
    """The version's environment on this host, built now if it is not
    there (the first run here, or deleted since); None without requirements."""
    lock = execution.version.requirements_lock
    if not lock:
        return None
    env = environments.ensure(lock)
    if env.built:
        log.info("execution %s: built the environment %s", execution.pk, os.path.basename(env.path))
    return env


def build_failed(execution: Execution, exc: "environments.BuildError") -> process.Outcome:
    """The run fails with the build's error; uv's output is kept as the
    run's log (Steward's own lines: the runbook never started)."""
    now = timezone.now()
    texts = [line for line in exc.log.splitlines() if line.strip()][-200:]
    if texts:
        lines = [process.Line(n, now, LogLine.Stream.STEWARD, text) for n, text in enumerate(texts, 1)]
        DatabaseSink(execution).lines(lines)
    return process.Outcome("failed", error=f"The runbook's environment could not be built: {exc}")


def finish(execution: Execution, outcome: process.Outcome) -> bool:
    """Record the outcome of a running execution; False if it was no longer
    running (the sweep already marked it lost)."""
    return end(execution, outcome.status, outcome.error, exit_code=outcome.exit_code, result=outcome.result)


def mark_lost(execution: Execution, why: str, now=None) -> bool:
    """The run's worker went silent (or restarted during it): kill what is
    left of it on this machine, then end it as lost."""
    if execution.host == HOST and execution.started_at:
        # Without a pgid (the run died before its first check-in saved it),
        # by the execution id in any group.
        process.kill_orphans(execution.pgid, str(execution.pk))
    ended = end(execution, Status.LOST, f"Lost: {why} The runbook's outcome is unknown.", why=why, now=now)
    if ended:
        log.warning("execution %s lost: %s", execution.pk, why)
    return ended


def end(execution: Execution, status: str, error: str, *, exit_code=None, result=None, why: str = "", now=None) -> bool:
    """The one way a running execution ends, finished by its worker or lost:
    a conditional update from `running` (so the worker and the sweep cannot
    both end it), its audit entry, `execution_ending` for the floors above
    and any retry, in one transaction; then the next run waiting for its
    slot goes, and `execution_finished` tells the breaker and the gates.
    False if it had already ended."""
    now = now or timezone.now()
    lost = status == Status.LOST
    fields = {"status": status, "error": error, "finished_at": now}
    if not lost:
        fields.update(exit_code=exit_code, result=result, heartbeat_at=now)
    with transaction.atomic():
        if not Execution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(**fields):
            return False
        after = {"error": why} if lost else {"status": status, "exit_code": exit_code}
        action = "execution.lost" if lost else "execution.finished"
        trail.record(
            trail.SYSTEM, trail.Change(action, "execution", execution.pk, before={"status": "running"}, after=after)
        )
        for name, value in fields.items():
            setattr(execution, name, value)
        signals.execution_ending.send(sender=Execution, execution=execution, status=status)
        retry = schedule_retry(execution)
    if retry is not None:
        runs.enqueue_on_commit([retry])
    release_slot(execution.runbook, execution.concurrency_key)
    signals.execution_finished.send(sender=Execution, execution=execution, status=status)
    if not lost:
        started = execution.started_at or now
        log.info("execution %s %s in %.2fs", execution.pk, status, (now - started).total_seconds())
    return True


def schedule_retry(execution: Execution) -> Execution | None:
    """A new attempt when the runbook asks for retries of this status. Same
    version and parameters; it waits out its backoff (doubling each attempt)
    before the sweep sends it. Call inside the transaction that ended the run."""
    runbook = execution.runbook
    retry_on = runbook.retry_on or list(Runbook.RETRYABLE)
    if execution.status not in retry_on or execution.attempt >= runbook.max_attempts:
        return None
    delay = runbook.retry_backoff_seconds * 2 ** (execution.attempt - 1)
    now = timezone.now()
    retry = Execution(
        runbook=runbook,
        version=execution.version,
        parameters=execution.parameters,
        event_id=execution.event_id,
        source_id=execution.source_id,
        binding_id=execution.binding_id,
        requested_by_id=execution.requested_by_id,
        attempt=execution.attempt + 1,
        retry_of_id=execution.retry_of_id or execution.pk,
        concurrency_key=execution.concurrency_key,
        status=Status.QUEUED,
        created_at=now,
        not_before=now + timedelta(seconds=delay) if delay else None,
        enqueued_at=None if delay else now,
    )
    retry.save(force_insert=True)
    trail.record(
        trail.SYSTEM,
        trail.Change(
            "execution.retry_scheduled",
            "execution",
            retry.pk,
            after={"retry_of": str(retry.retry_of_id), "attempt": retry.attempt, "after_seconds": delay},
        ),
    )
    return retry


def release_slot(runbook: Runbook, key: str) -> int:
    """A run of a limited runbook ended: send the oldest runs waiting for this
    slot. Locks the runbook row like `claim`, so no waiter is missed."""
    if not runbook.concurrency_limit:
        return 0
    with transaction.atomic():
        Runbook.objects.select_for_update(no_key=True).filter(pk=runbook.pk).first()  # see claim()
        running = Execution.objects.filter(runbook=runbook, status=Status.RUNNING, concurrency_key=key).count()
        free = runbook.concurrency_limit - running
        if free <= 0:
            return 0
        waiting = list(
            Execution.objects.select_related("version")
            .filter(runbook=runbook, status=Status.QUEUED, waiting_for_slot=True, concurrency_key=key)
            .order_by("created_at")[:free]
        )
        if not waiting:
            return 0
        Execution.objects.filter(pk__in=[x.pk for x in waiting]).update(
            waiting_for_slot=False, enqueued_at=timezone.now()
        )
        for x in waiting:
            x.status = Status.QUEUED
        runs.enqueue_on_commit(waiting)
    return len(waiting)
