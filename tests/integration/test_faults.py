"""Faults of the broker: a Redis of the test's own, on another port, is
stopped while alerts arrive. Nothing is lost and nothing runs twice."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

from audit.models import AuditEntry
from runbooks.models import Execution, LogLine
from tests.conftest import child_env, wait_for
from tests.factories import make_binding, make_runbook, make_source
from tests.services import require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, port: int, folder):
        self.port, self.folder, self.proc = port, folder, None

    def start(self):
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10, what="redis to start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server (apt-get install redis-server)")
    server = Redis(free_port(), tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


@pytest.fixture
def web(tmp_path):
    """gunicorn serving the app on the test database, with the given broker."""
    started = []

    def start(**env):
        port = free_port()
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


def post(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_redis_stopped_while_200_alerts_arrive_loses_nothing_and_runs_each_once(redis, web, workers, worker):
    broker = f"redis://127.0.0.1:{redis.port}/0"
    runbook = make_runbook(
        name="Note",
        script='import os; print("ran", os.environ["PARAM_HOST"])',
        parameters={"type": "object", "properties": {"host": {"type": "string"}}},
    )
    source, token = make_source("storm", "generic")
    make_binding(
        runbook,
        source,
        match=[{"path": "name", "op": "eq", "value": "DiskFull"}],
        parameters={"host": "{{ event.labels.instance }}"},
    )
    workers(["steward"], "outage", CELERY_BROKER_URL=broker)
    base = web(CELERY_BROKER_URL=broker)

    redis.stop()
    started = time.monotonic()
    statuses = [
        post(f"{base}/hooks/storm", token, {"name": "DiskFull", "labels": {"instance": f"web-{i}"}}) for i in range(200)
    ]
    assert statuses == [202] * 200
    assert time.monotonic() - started < 30  # a dead broker does not stall the webhook
    assert Execution.objects.filter(runbook=runbook).count() == 200

    redis.start()

    def all_done():
        return Execution.objects.filter(runbook=runbook, status="succeeded").count() == 200

    wait_for(all_done, timeout=90, interval=0.5, what="every execution to run once Redis is back")
    executions = Execution.objects.filter(runbook=runbook)
    assert sorted(LogLine.objects.filter(execution__in=executions).values_list("text", flat=True)) == sorted(
        f"ran web-{i}" for i in range(200)
    )
    starts = AuditEntry.objects.filter(action="execution.started").values_list("object_id", flat=True)
    assert sorted(starts) == sorted(str(x.pk) for x in executions)  # each started exactly once
