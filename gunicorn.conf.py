"""gunicorn for Steward: threaded workers, so a gate check that waits for its
verdict does not block webhooks."""

import os
import shutil
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 90  # a gate check may wait up to 60 s
graceful_timeout = 8
keepalive = 5
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# prometheus_client aggregates the metrics of every gunicorn worker through
# files in this folder; it must be set before the app imports the library.
_var = Path(os.environ.get("STEWARD_VAR_DIR", Path(__file__).resolve().parent / "var"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_var / "prometheus"))


def on_starting(server):
    """Metrics of a previous run are not this run's."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
