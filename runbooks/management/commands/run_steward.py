"""`make run`: migrate, seed the demo, then run web, worker and beat until
Ctrl-C or SIGTERM, and stop all of them (runbooks included) within 10 s."""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from runbooks import demo
from runbooks.execution import HOST
from runbooks.models import DEFAULT_QUEUE, Execution, RunbookVersion
from runbooks.worker_agent import sandbox_problem

STOP_SECONDS = 8  # TERM, then KILL what is left: well inside the contract's 10 s


class Command(BaseCommand):
    help = "Run Steward on this machine: web server, worker and scheduler."

    def handle(self, *args, **options):
        port = int(os.environ.get("PORT", "8000"))
        base_url = f"http://127.0.0.1:{port}"
        call_command("migrate", verbosity=0)
        password = demo.seed()
        token = demo.rotate_demo_token()
        self.children: list[subprocess.Popen] = []
        self.sandbox_env = self.choose_sandbox()
        self.start(port)
        self.announce(base_url, password, token)
        self.wait()

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
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                ",".join(queues),
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "-n",
                f"steward@{HOST}",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        }
        for _name, command in commands.items():
            # Own process groups: the terminal's Ctrl-C reaches only us, and
            # we stop the children in order. Every process gets the sandbox
            # choice, so the web pages show the banner when it is `process`.
            env = {**os.environ, **self.sandbox_env}
            self.children.append(subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True, env=env))

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
        login = (
            f"admin / {password}"
            if password
            else ("admin (password printed at first start; `manage.py changepassword admin` sets a new one)")
        )
        self.stdout.write(
            f"\nSteward is starting on {base_url}\n"
            f"  log in:      {login}\n"
            f"  demo source: token rotated; fire the demo binding with:\n\n{demo.demo_curl(base_url, token)}\n\n"
            "Press Ctrl-C to stop.\n"
        )
        self.stdout.flush()

    def wait(self) -> None:
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping and all(child.poll() is None for child in self.children):
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
