"""`make run`'s embedded default end to end: the supervisor command starts
web and worker on SQLite and the filesystem broker (no PostgreSQL, no
Redis), the printed curl fires the demo binding, and Ctrl-C stops it all."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import wait_for
from tests.processes import alive

pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(marker: str, supervisor: int | None = None) -> list[int]:
    """Pids whose environment names our private var dir: what the run started.
    Steward's processes keep their environment to root (core/procfs.py),
    so a test that is not root also takes the supervisor's descendants,
    found through /proc/<pid>/stat, which anyone may read."""
    pids, parents = set(), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[1])
                if marker.encode() in (entry / "environ").read_bytes():
                    pids.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    if supervisor is not None:
        tree = {supervisor}
        while grown := {pid for pid, parent in parents.items() if parent in tree} - tree:
            tree |= grown
        pids |= tree
    return sorted(pid for pid in pids if pid != os.getpid())


class Output:
    """Collects a child's output in a thread so it never blocks on a full pipe."""

    def __init__(self, stream):
        self.text = ""
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in iter(stream.readline, ""):
            self.text += line


@pytest.fixture
def embedded(tmp_path):
    var_dir = tmp_path / "var"
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY", "STEWARD_ENCRYPTION_KEY")
    }
    env.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "PORT": str(port), "STEWARD_VAR_DIR": str(var_dir)}
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_steward"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(proc.stdout)
    try:
        yield proc, output, f"http://127.0.0.1:{port}", env
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in processes_with(f"STEWARD_VAR_DIR={var_dir}"):
            os.kill(pid, signal.SIGKILL)


def test_make_run_then_the_printed_curl_gives_a_succeeded_run_with_output(embedded):
    proc, output, base_url, env = embedded
    wait_for(lambda: "Steward is ready on" in output.text, timeout=90, what=f"the ready box:\n{output.text}")
    assert "Runbook sandbox: namespaces" in output.text  # bubblewrap works here: runbooks contained
    # Announced once everything answers: /healthz says ok at that moment.
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as response:
        assert response.status == 200 and json.loads(response.read())["status"] == "ok"
    # The box comes after the worker's start-up lines, with all a person needs.
    box = output.text[output.text.index("Steward is ready on") :]
    assert output.text.index(" ready.") < output.text.index("Steward is ready on")
    token = re.search(r"Bearer (sts_\w+)", box).group(1)
    password = re.search(r"log in:\s+admin / (\S+)", box).group(1)
    assert f"curl -sS -X POST {base_url}/hooks/demo" in box and "Press Ctrl-C" in box

    def webhook():
        request = urllib.request.Request(
            f"{base_url}/hooks/demo",
            method="POST",
            data=json.dumps({"name": "DiskFull", "severity": "critical", "labels": {"instance": "web-01"}}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            return None

    status, body = wait_for(webhook, timeout=30, interval=0.2, what="the web server")
    fired = time.monotonic()
    assert status == 202 and len(body["executions"]) == 1
    execution_id = body["executions"][0]

    # The same, as a person: log in with the printed password and open the run.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    login_page = opener.open(f"{base_url}/accounts/login/").read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    opener.open(
        urllib.request.Request(
            f"{base_url}/accounts/login/",
            method="POST",
            data=f"username=admin&password={password}&csrfmiddlewaretoken={csrf}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": f"{base_url}/accounts/login/"},
        )
    )

    def succeeded_page():
        html = opener.open(f"{base_url}/executions/{execution_id}/").read().decode()
        return html if 'class="status status-succeeded">succeeded<' in html else None

    html = wait_for(succeeded_page, timeout=5, interval=0.1, what="a succeeded execution")
    assert time.monotonic() - fired < 5
    assert "Checking disk usage on web-01" in html and "Freed 3.4 GiB" in html

    # PORT is not 8000: the source page's webhook URL follows it.
    source_page = opener.open(f"{base_url}/sources/demo/").read().decode()
    assert f"{base_url}/hooks/demo" in source_page and "127.0.0.1:8000" not in source_page

    # The API agrees, with a token from create_api_token, run as the README
    # says: no DEBUG and no keys set, in make run's checkout (its var folder).
    made = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", "admin"],
        cwd=settings.BASE_DIR,
        env={k: v for k, v in env.items() if k != "DEBUG"},
        capture_output=True,
        text=True,
        check=True,
    )
    api_token = made.stdout.strip().splitlines()[-1]
    request = urllib.request.Request(
        f"{base_url}/api/v1/executions/{execution_id}", headers={"Authorization": f"Bearer {api_token}"}
    )
    detail = json.loads(urllib.request.urlopen(request, timeout=5).read())
    assert detail["status"] == "succeeded" and detail["result"]["host"] == "web-01"

    # The trail is signed as in production: a checkpoint from make run's own
    # key, shown on the Audit page and verified against the database.
    var_dir = Path(env["STEWARD_VAR_DIR"])
    wait_for(lambda: list((var_dir / "checkpoints").iterdir()), timeout=30, what="a signed checkpoint")
    assert "Latest signed checkpoint" in opener.open(f"{base_url}/audit/").read().decode()
    checked = ["--checkpoints", str(var_dir / "checkpoints"), "--public-key", str(var_dir / "audit-signing.pub")]
    verified = subprocess.run(
        [sys.executable, "manage.py", "audit_verify", *checked],
        cwd=settings.BASE_DIR,
        env={k: v for k, v in env.items() if k != "DEBUG"},
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Ctrl-C stops every process it started within 10 seconds.
    started = processes_with(f"STEWARD_VAR_DIR={env['STEWARD_VAR_DIR']}", supervisor=proc.pid)
    assert len(started) >= 5  # supervisor, gunicorn and its worker, celery worker (and its pool), checkpointer
    # No Celery beat: the worker's agent thread does the periodic work.
    assert not [pid for pid in started if b"beat" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=12)
    # Every process it started is gone within the 10 seconds, not merely
    # quiet a moment after the supervisor exits.
    wait_for(
        lambda: not [pid for pid in started if alive(pid)],
        timeout=max(0.1, 10 - (time.monotonic() - asked)),
        what="every process it started to end",
    )
