"""Steward's production processes as the bench runs them: gunicorn with the
repository's gunicorn.conf.py, and `celery -A config worker`, with DEBUG
off, generated keys, Redis as broker and cache, persistent database
connections. Also what they hold: the RSS of each of their processes."""

import os
import urllib.request
from pathlib import Path

from bench.procs import PYTHON, Process, Stack, free_port, wait_for
from core.workers import worker_command

WORKER_QUEUE = "steward"  # what the dispatch runbook and the bare task use
INGEST_QUEUE = "bench-ingest"  # no worker listens: ingest measures the webhook alone


def app_env(keys: dict, database_url: str, redis_url: str, var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "STEWARD_"))}
    env.update(keys)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "off",
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "600",
            "CELERY_BROKER_URL": f"{redis_url}/0",
            "CACHE_URL": f"{redis_url}/1",
            "STEWARD_VAR_DIR": str(var_dir),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def start_web(stack: Stack, env: dict, name: str = "web") -> tuple[Process, str]:
    port = free_port()
    process = stack.start(
        name,
        [PYTHON, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        {**env, "PORT": str(port)},
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urllib.request.urlopen(f"{base}/accounts/login/", timeout=2).status == 200
        except OSError:
            return False

    wait_for(up, 60, "gunicorn", process)
    return process, base


def start_workers(stack: Stack, env: dict, concurrency: int = 2) -> Process:
    process = stack.start(
        "worker",
        worker_command(
            PYTHON,
            [WORKER_QUEUE],
            "bench@%h",
            *("--concurrency", str(concurrency), "--include", "bench.tasks", "--loglevel", "INFO"),
        ),
        env,
    )
    wait_for(lambda: "ready." in process.tail(20000), 60, "the Celery worker", process)
    return process


def cpu_seconds(process: Process) -> float:
    """User + system CPU time used so far by the processes of its session."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) == process.pid:  # the session id
                total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return total / ticks


def rss_by_process(process: Process) -> dict[int, tuple[str, int]]:
    """pid -> (command, VmRSS in bytes) of every process in its session
    (gunicorn's master and workers, celery's main process and pool); a
    runbook has its own session and is not counted."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) != process.pid:  # the session id
                continue
            with open(f"/proc/{entry.name}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        if "VmRSS" in status:
            found[int(entry.name)] = (command[:80], int(status["VmRSS"].split()[0]) * 1024)
    return found
