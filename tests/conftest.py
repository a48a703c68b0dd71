import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from core.workers import worker_command
from tests.factories import api_token, make_user

# The recorded payloads live in the checkout, beside this file: a fresh clone
# has nothing outside itself.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def user(django_user_model):
    """The engineer most tests act as. An admin (by group, not superuser), so
    a test of one feature is not also a test of roles; tests/accounts/ walks
    what each role may do, with `user_with_role` and `api_as`."""
    return make_user("admin", username="oncall")


@pytest.fixture
def api(client, user):
    """A test client that sends a real API token."""
    token = api_token(user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def user_with_role(db):
    """make(role, username=None): a user in that role (None: no role)."""
    return make_user


@pytest.fixture
def api_as(db):
    """client(user): a fresh test client sending a new API token of `user`."""

    def client_for(user):
        return Client(HTTP_AUTHORIZATION=f"Bearer {api_token(user)}")

    return client_for


def database_url() -> str:
    """The test database as a URL, for processes the tests start."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


# Fast reliability timings for every process the tests start: a silent run
# is lost after 5 s, the sweep runs every second.
FAST_TIMINGS = {
    "STEWARD_HEARTBEAT_SECONDS": "1",
    "STEWARD_LOST_AFTER_SECONDS": "5",
    "STEWARD_SWEEP_SECONDS": "1",
    "STEWARD_REQUEUE_AFTER_SECONDS": "3",
}


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": database_url(), **FAST_TIMINGS})
    env.update(extra)
    return env


def _purge(queue: str) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(queue)


class WorkerProcess:
    """A real `celery worker` process on the test database."""

    def __init__(self, log_dir: Path, queues: list[str], name: str, concurrency: int = 2, **env):
        self.name = f"{name}@{socket.gethostname()}"
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "a")  # noqa: SIM115  (open for the worker's whole life)
        self.proc = subprocess.Popen(
            worker_command(
                sys.executable,
                queues,
                self.name,
                *("--concurrency", str(concurrency), "--without-mingle", "--without-gossip", "--loglevel", "INFO"),
            ),
            cwd=settings.BASE_DIR,
            env=child_env(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while "ready." not in self.log_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the worker and its pool (not the runbooks: they have their own sessions)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on the test database and the test broker."""
    _purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    process = WorkerProcess(
        tmp_path_factory.mktemp("worker"), [settings.CELERY_TASK_DEFAULT_QUEUE], f"test-{uuid.uuid4().hex[:8]}"
    )
    process.proc.log_path = process.log_path  # for handled(): what the worker says it did
    process.proc.node_name = process.name  # for swept(): its heartbeat row
    yield process.proc
    # The tests are over: nothing is left to finish, and the whole group must
    # be gone (with its database sessions) before the test database is dropped.
    process.kill()


@pytest.fixture(scope="session", autouse=True)
def _no_session_left_on_the_test_database(django_db_setup, django_db_blocker):
    """Torn down last, just before the test database is dropped: PostgreSQL
    ends a killed worker's session a moment after the kill, and the live
    server's request threads may leave one open; dropping the database with a
    session still on it fails."""
    yield
    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            cursor.execute(f"SELECT count(*) {others}")
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)
        cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")


@pytest.fixture
def workers(tmp_path, django_db_blocker):
    """Start extra workers on queues of a test's own; all killed at the end."""
    started = []

    def start(queues, name, **kwargs):
        for queue in queues:
            _purge(queue)
        process = WorkerProcess(tmp_path, queues, name, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web(tmp_path):
    """gunicorn serving the app on the test database, with the given broker
    (on a given port when its URL must be known first, e.g. STEWARD_BASE_URL)."""
    started = []

    def start(port=None, **env):
        port = port or free_port()
        log = open(tmp_path / "web.log", "a")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            cwd=settings.BASE_DIR,
            env=child_env(STEWARD_VAR_DIR=str(tmp_path / "var"), **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return urllib.request.urlopen(f"{base}/accounts/login/", timeout=2).status == 200
            except OSError:
                return False

        wait_for(up, timeout=30, what="the web server")
        return base

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=15)


def handled(worker, result, timeout=15.0) -> None:
    """Wait until the worker says it finished the task message `result`
    (an AsyncResult) was: Celery's own "Task name[id] succeeded" log line.
    After it, whatever the message was going to do has been done, so a test
    may assert that it did nothing, with no fixed sleep a slow worker
    outlasts."""
    line = f"[{result.id}] succeeded in "
    what = f"the worker to handle task {result.id}"
    wait_for(lambda: line in worker.log_path.read_text(), timeout=timeout, what=what)


def swept(worker, timeout=15.0) -> None:
    """Wait until a whole sweep of the worker's agent ran after this call:
    the agent beats, then sweeps, then waits; the second beat after now
    comes after a sweep that began after now ended."""
    from runbooks.models import Worker

    def beat_after(moment):
        row = Worker.objects.filter(name=worker.node_name, last_seen_at__gt=moment).first()
        return row and row.last_seen_at

    now = timezone.now()
    first = wait_for(lambda: beat_after(now), timeout=timeout, what="the worker's next heartbeat")
    wait_for(lambda: beat_after(first), timeout=timeout, what="the heartbeat after a whole sweep")


def wait_for(predicate, timeout=15.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report to fixtures (the browser screenshots failures)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_sessionfinish(session, exitstatus):
    """The run's own var folder (see config/settings_test.py) goes with it."""
    var_dir = os.environ.get("STEWARD_VAR_DIR", "")
    if os.path.basename(var_dir).startswith("steward-test-"):
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_webhook_configuration():
    """Each process caches sources and bindings (events/hookconfig.py); a
    rolled-back test's rows must not outlive it in this process's memory."""
    from events import hookconfig

    hookconfig.clear()
    yield
    hookconfig.clear()
