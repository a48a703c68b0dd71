"""What each Celery worker does beside running tasks, in a thread of its
main process (so a pool busy with long runbooks never delays it):

- reports itself every few seconds (the Worker row; /healthz reads it);
- on start, ends the runs its previous life left `running`;
- sweeps: re-sends lost queue messages, marks silent runs `lost`;
- on a warm shutdown (SIGTERM), gives running runbooks a grace period, then
  asks them to stop, so none is left `running`.

Before any of that, a worker that cannot make the runbook sandbox refuses
to start (`check_sandbox`), unless STEWARD_SANDBOX=process opts out; an
opted-out worker says so in its heartbeat row, and every page shows it.
"""

import ctypes
import logging
import os
import pwd
import threading

from celery import signals
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

log = logging.getLogger(__name__)
_PR_SET_DUMPABLE = 4


class Agent(threading.Thread):
    def __init__(self, name: str, queues: list[str]):
        super().__init__(name="steward-agent", daemon=True)
        self.worker_name, self.queues = name, queues
        self.stopping = threading.Event()

    def run(self) -> None:
        from ops import sweep
        from runbooks import worker
        from runbooks.models import Execution, Worker
        from runbooks.worker import HOST

        started = timezone.now()
        first = True
        while not self.stopping.is_set():
            try:
                now = timezone.now()
                Worker.objects.update_or_create(
                    name=self.worker_name,
                    defaults={
                        "host": HOST,
                        "pid": os.getpid(),
                        "queues": self.queues,
                        "started_at": started,
                        "last_seen_at": now,
                        "stopped_at": None,
                        "sandbox": settings.STEWARD_SANDBOX,
                    },
                )
                if first:
                    for execution in Execution.objects.select_related("runbook", "version").filter(
                        status=Execution.Status.RUNNING, worker=self.worker_name, started_at__lt=started
                    ):
                        worker.mark_lost(execution, f"Its worker {self.worker_name} restarted during the run.")
                    first = False
                sweep.sweep()
            except DatabaseError:
                log.warning("worker agent: database unavailable; will retry", exc_info=True)
            except Exception:
                log.exception("worker agent: sweep failed; will retry")
            finally:
                # Never hold a connection across a fork of a pool process.
                connection.close()
            self.stopping.wait(settings.STEWARD_SWEEP_SECONDS)


_agent: Agent | None = None


def sandbox_problem() -> str | None:
    """Why this worker cannot contain runbooks, or None when it can."""
    from runbooks.runners import namespaces, uids

    if os.geteuid() != 0:
        return namespaces.probe(os.getuid(), os.getgid(), settings.STEWARD_BWRAP)
    if settings.STEWARD_RUNBOOK_UIDS is None:
        try:
            account = pwd.getpwnam(settings.STEWARD_RUNBOOK_USER)
        except KeyError:
            return f"the runbook user {settings.STEWARD_RUNBOOK_USER!r} does not exist"
        return namespaces.probe(account.pw_uid, account.pw_gid, settings.STEWARD_BWRAP)
    try:
        lease = uids.acquire(settings.STEWARD_RUNBOOK_UIDS, settings.STEWARD_RUNBOOK_UID_LOCK_DIR)
    except (uids.PoolError, OSError) as exc:
        return f"no runbook UID: {exc}"
    try:
        return namespaces.probe(lease.uid, lease.uid, settings.STEWARD_BWRAP)
    finally:
        lease.release()


@signals.worker_init.connect
def check_sandbox(sender=None, **kwargs):
    """No silent downgrade: without its sandbox the worker does not start."""
    if settings.STEWARD_SANDBOX == "process":
        log.warning(
            "STEWARD_SANDBOX=process: runbooks run NOT contained (no namespaces: they share this "
            "machine's network, processes and files); every page says so"
        )
        return
    problem = sandbox_problem()
    if problem:
        message = (
            f"Steward's worker refuses to start: runbooks cannot be contained here: {problem}. "
            "Fix that (install bubblewrap; in a container use the worker's seccomp/AppArmor profile from "
            "docker-compose.yml), or set STEWARD_SANDBOX=process to run runbooks uncontained, which every "
            "page will then say."
        )
        log.critical(message)
        raise SystemExit(message)


@signals.worker_ready.connect
def start_agent(sender, **kwargs):
    global _agent
    queues = sorted(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    _agent = Agent(sender.hostname, queues)
    _agent.start()


@signals.worker_shutting_down.connect
def stop_runs_after_grace(sender, **kwargs):
    """Warm shutdown: running runbooks get STEWARD_SHUTDOWN_GRACE_SECONDS to
    end by themselves, then their runners stop them (status `lost`, retried
    when the runbook allows)."""
    name = sender if isinstance(sender, str) else getattr(_agent, "worker_name", "")
    if _agent is not None:
        _agent.stopping.set()
    timer = threading.Timer(settings.STEWARD_SHUTDOWN_GRACE_SECONDS, _request_stop, args=(name,))
    timer.daemon = True
    timer.start()


def _request_stop(worker_name: str) -> None:
    from runbooks.models import Execution, Worker

    try:
        close_old_connections()
        stopped = Execution.objects.filter(
            status=Execution.Status.RUNNING, worker=worker_name, shutdown_requested_at__isnull=True
        ).update(shutdown_requested_at=timezone.now())
        Worker.objects.filter(name=worker_name).update(stopped_at=timezone.now())
        log.warning("shutdown grace over: asked %d run(s) of %s to stop", stopped, worker_name)
    finally:
        connection.close()


@signals.worker_process_init.connect
def harden_pool_process(**kwargs):
    """A runbook (another user when the worker is root) must not read this
    process's memory or environment through /proc or ptrace."""
    ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
