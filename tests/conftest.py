import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import api_token

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("oncall", password="correct-horse-battery")


@pytest.fixture
def api(client, user):
    """A test client that sends a real API token."""
    token = api_token(user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def database_url() -> str:
    """The test database as a URL, for processes the tests start."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": database_url(), **extra})
    return env


def _purge_default_queue() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(settings.CELERY_TASK_DEFAULT_QUEUE, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on the test database and the test broker."""
    _purge_default_queue()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115  (open for the worker's whole life)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=settings.BASE_DIR,
        env=child_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the test worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    yield proc
    # The tests are over: nothing is left to finish, and the whole group must
    # be gone (with its database sessions) before the test database is dropped.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()


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
