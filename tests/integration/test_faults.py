"""Faults of the broker and the database: a Redis or PostgreSQL of the
test's own, on another port, is stopped while alerts arrive. Nothing is
lost, nothing runs twice, nothing is half-written, and never a 500."""

import contextlib
import glob
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from audit.models import AuditEntry
from runbooks.models import Execution, LogLine
from tests.conftest import child_env, free_port, wait_for
from tests.factories import make_binding, make_runbook, make_source
from tests.services import require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


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


class Postgres:
    """A PostgreSQL server of the test's own, so stopping it disturbs nothing."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        require(bool(found), "PostgreSQL's server binaries (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="steward-pg-"))
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/steward"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.folder, "postgres", "postgres")
        self._as_postgres(
            [str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"]
        )

    def _as_postgres(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(shlex.quote(c) for c in command)]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-o",
                options,
                "-l",
                str(self.folder / "log"),
                "-w",
                "start",
            ]
        )

    def stop(self) -> None:
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop"])

    def query(self, sql: str, params=()) -> list:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=steward") as conn:
            return conn.execute(sql, params).fetchall()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def postgres():
    server = Postgres()
    server.start()
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True) as c:
        c.execute("CREATE DATABASE steward")
    env = child_env(DATABASE_URL=server.url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
    )
    yield server
    server.remove()


def test_postgresql_stopped_and_started_during_a_burst_gives_202_or_503_and_every_202_is_stored(postgres, web):
    base = web(DATABASE_URL=postgres.url)
    seed = (
        "from events.models import Source; from runbooks.models import Runbook; from runbooks import versions;"
        "from events.models import Binding; from audit import trail\n"
        "rb = Runbook(slug='note', name='Note'); versions.save_runbook(rb, {'kind': 'shell', 'script': 'true'},"
        " trail.SYSTEM)\n"
        "s = Source(slug='burst', name='Burst', kind='generic'); print(s.rotate_token()); s.save()\n"
        "Binding.objects.create(name='all', source=s, runbook=rb)\n"
    )
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", seed],
        cwd=settings.BASE_DIR,
        env=child_env(DATABASE_URL=postgres.url),
        check=True,
        capture_output=True,
        text=True,
    )
    token = made.stdout.strip().splitlines()[-1]

    answers: list[tuple[int, dict]] = []
    stop = threading.Event()

    def burst():
        i = 0
        while not stop.is_set():
            body = json.dumps({"name": "Burst", "labels": {"n": str(i)}}).encode()
            request = urllib.request.Request(
                f"{base}/hooks/burst",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answers.append((response.status, json.loads(response.read())))
            except urllib.error.HTTPError as error:
                answers.append((error.code, json.loads(error.read() or b"{}")))
            i += 1

    senders = [threading.Thread(target=burst) for _ in range(2)]
    for sender in senders:
        sender.start()
    time.sleep(1.5)
    postgres.stop()
    time.sleep(1.5)
    postgres.start()
    wait_for(
        lambda: answers and answers[-1][0] == 202 and len(answers) > 20, timeout=20, what="webhooks to succeed again"
    )
    time.sleep(1)
    stop.set()
    for sender in senders:
        sender.join()

    statuses = {status for status, _ in answers}
    assert statuses == {202, 503}, statuses  # never a 500; the outage was seen and passed
    accepted = [body for status, body in answers if status == 202]
    event_ids = [e for body in accepted for e in body["events"]]
    execution_ids = [x for body in accepted for x in body["executions"]]
    stored_events = {str(r[0]) for r in postgres.query("SELECT id FROM events_event")}
    stored_executions = {str(r[0]) for r in postgres.query("SELECT id FROM runbooks_execution")}
    assert set(event_ids) <= stored_events and set(execution_ids) <= stored_executions
    assert len(execution_ids) == len(event_ids)
    # Nothing half-written: every stored event has its execution.
    orphans = postgres.query(
        "SELECT count(*) FROM events_event e LEFT JOIN runbooks_execution x ON x.event_id = e.id WHERE x.id IS NULL"
    )
    assert orphans == [(0,)]
    assert all(body.get("detail") for status, body in answers if status == 503)
