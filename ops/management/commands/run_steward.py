"""`make run`: migrate, seed the demo, then run web, worker and the audit
checkpointer until Ctrl-C or SIGTERM, and stop all of them (runbooks
included) within 10 s. No Celery beat: the worker's agent thread fires
schedules and runs the sweeps (ops/worker_agent.py); beat had no schedule
to carry."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from core.workers import worker_command
from ops import demo
from ops.worker_agent import sandbox_problem
from runbooks.models import DEFAULT_QUEUE, Execution, RunbookVersion, Worker
from runbooks.worker import HOST

STOP_SECONDS = 8  # TERM, then KILL what is left: well inside the contract's 10 s
READY_SECONDS = 120  # past this, say what /healthz still misses instead of waiting silently
RULE = "═" * 78


class Command(BaseCommand):
    help = "Run Steward on this machine: web server and worker (which also fires schedules)."

    def handle(self, *args, **options):
        port = int(os.environ.get("PORT", "8000"))
        base_url = f"http://127.0.0.1:{port}"
        # The pages' webhook URLs and snippets come from STEWARD_BASE_URL, read
        # by the web process we start: without this, PORT=8100 would still show
        # :8000 in every snippet. An explicit STEWARD_BASE_URL (a proxy's
        # public address) wins.
        os.environ.setdefault("STEWARD_BASE_URL", base_url)
        call_command("migrate", verbosity=0)
        password = demo.seed()
        token = demo.rotate_demo_token()
        self.children: list[subprocess.Popen] = []
        self.spawned_at = timezone.now()
        self.sandbox_env = self.choose_sandbox()
        self.audit_env = self.audit_checkpoints()
        self.start(port)
        self.announce(base_url, password, token)
        self.wait(lambda: self.ready(base_url), lambda: self.announce_ready(base_url, password, token))

    def start(self, port: int) -> None:
        queues = sorted({DEFAULT_QUEUE, *RunbookVersion.objects.values_list("queue", flat=True).distinct()})
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-c",
                str(settings.BASE_DIR / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            "worker": worker_command(python, queues, f"steward@{HOST}", "--concurrency", "2", "--loglevel", "INFO"),
        }
        # Where the checkpoints are, for the Audit page; the signing key's
        # path only for the checkpointer, never for a worker.
        shown = {k: v for k, v in self.audit_env.items() if k == "STEWARD_AUDIT_CHECKPOINT_DIR"}
        envs = {"web": shown, "worker": {}}
        if self.audit_env:
            commands["checkpointer"] = [python, "manage.py", "audit_checkpoint", "--every"]
            envs["checkpointer"] = self.audit_env
        for name, command in commands.items():
            # Own process groups: the terminal's Ctrl-C reaches only us, and
            # we stop the children in order. Every process gets the sandbox
            # choice, so the web pages show the banner when it is `process`.
            env = {**os.environ, **self.sandbox_env, **envs[name]}
            self.children.append(subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True, env=env))

    def audit_checkpoints(self) -> dict:
        """Sign the trail as production does: a key of this checkout's own,
        made once under var/, and the folder the checkpointer writes (both
        hidden from runbooks with the rest of var/). A signing key set in the
        environment is production's choice: kept, and its checkpointer is
        run by the deployment (README, Production)."""
        if settings.STEWARD_AUDIT_SIGNING_KEY_FILE:
            return {}
        key, public = settings.VAR_DIR / "audit-signing.key", settings.VAR_DIR / "audit-signing.pub"
        if not key.exists():
            try:
                call_command("audit_keygen", str(key), str(public), stdout=io.StringIO())
            except CommandError as exc:
                self.stderr.write(f"Audit checkpoints: off, no signing key could be made: {exc}")
                return {}
        folder = Path(settings.STEWARD_AUDIT_CHECKPOINT_DIR or settings.VAR_DIR / "checkpoints")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.stdout.write(f"Audit checkpoints: signed into {folder} (verify with the key {public})")
        return {"STEWARD_AUDIT_SIGNING_KEY_FILE": str(key), "STEWARD_AUDIT_CHECKPOINT_DIR": str(folder)}

    def choose_sandbox(self) -> dict:
        """On a laptop: the namespace sandbox when bwrap works here (as root,
        or as a user through unprivileged user namespaces), else opt out
        out loud. An explicit STEWARD_SANDBOX is kept as it is."""
        if "STEWARD_SANDBOX" in os.environ:
            self.stdout.write(f"Runbook sandbox: {settings.STEWARD_SANDBOX} (STEWARD_SANDBOX is set)")
            return {}
        problem = sandbox_problem()
        if problem is None:
            who = "a UID of its own per run" if os.geteuid() == 0 else "your user, in a user namespace"
            self.stdout.write(f"Runbook sandbox: namespaces (bubblewrap works here; runbooks run as {who})")
            return {}
        self.stdout.write(
            f"Runbook sandbox: process, runbooks are NOT contained: {problem}.\n"
            "  Install bubblewrap (and passt for egress runbooks) to contain them."
        )
        return {"STEWARD_SANDBOX": "process"}

    def announce(self, base_url: str, password: str | None, token: str) -> None:
        self.stdout.write(
            f"\nSteward is starting on {base_url}\n"
            f"  log in:      {_login(password)}\n"
            f"  demo source: token rotated; fire the demo binding with:\n\n{demo.demo_curl(base_url, token)}\n\n"
            "Press Ctrl-C to stop.\n"
        )
        self.stdout.flush()

    def ready(self, base_url: str) -> bool:
        """/healthz answers 200 and this start's worker has reported in (a row
        left by the previous `make run` within the last minute must not count)."""
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                healthy = response.status == 200 and json.loads(response.read()).get("status") == "ok"
        except (urllib.error.URLError, OSError, ValueError):
            return False
        try:
            return (
                healthy
                and Worker.objects.filter(
                    name=f"steward@{HOST}", started_at__gte=self.spawned_at, stopped_at__isnull=True
                ).exists()
            )
        finally:
            connection.close()  # no connection held open between polls

    def announce_ready(self, base_url: str, password: str | None, token: str) -> None:
        """The same facts again, after the children's start-up logs that buried
        the first copy: the last thing on the terminal until a run happens.
        Rules above and below only, no side borders, so the curl pastes as is."""
        self.stdout.write(
            f"\n{RULE}\n"
            f"Steward is ready on {base_url}\n\n"
            f"  open:   {base_url}/\n"
            f"  log in: {_login(password)}\n\n"
            "Fire the demo binding (the token changes at every start):\n\n"
            f"{demo.demo_curl(base_url, token)}\n\n"
            "Press Ctrl-C to stop.\n"
            f"{RULE}\n"
        )
        self.stdout.flush()

    def wait(self, ready=None, on_ready=None) -> None:
        """Until Ctrl-C, SIGTERM or a child's exit; `on_ready` runs once when
        `ready()` first holds (polled every second, never blocking the stop)."""
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        waiting, next_poll = ready is not None, time.monotonic()
        give_up = time.monotonic() + READY_SECONDS
        while not stopping and all(child.poll() is None for child in self.children):
            if waiting and time.monotonic() >= next_poll:
                if ready():
                    waiting = False
                    on_ready()
                elif time.monotonic() > give_up:
                    waiting = False
                    self.stderr.write(f"Steward is not ready after {READY_SECONDS} s: see the logs above and /healthz.")
                next_poll = time.monotonic() + 1
            time.sleep(0.2)
        if not stopping:
            self.stderr.write("A Steward process exited; stopping the others.")
        self.stop()

    def stop(self) -> None:
        for child in self.children:
            child.terminate()  # the leader only: it stops its own children in order
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and any(child.poll() is None for child in self.children):
            time.sleep(0.1)
        for pgid in local_run_groups():
            _signal_group(pgid, signal.SIGKILL)
        for child in self.children:
            _signal_group(child.pid, signal.SIGKILL)
            child.wait()
        self.stdout.write("Steward stopped.")


def _login(password: str | None) -> str:
    if password:
        return f"admin / {password}"
    return "admin (password printed at first start; `make manage ARGS='changepassword admin'` sets a new one)"


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def local_run_groups() -> list[int]:
    """Runbooks run in their own process groups: what the worker could not
    stop in time is killed here."""
    return list(
        Execution.objects.filter(status=Execution.Status.RUNNING, host=HOST, pgid__isnull=False).values_list(
            "pgid", flat=True
        )
    )
