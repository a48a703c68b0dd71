"""The sandbox on the real worker: runbooks that loop, allocate, fork-bomb,
fill /tmp, leave children behind, probe the control plane or each other
end with the right status, leave no process, and the worker runs the next
runbook as if nothing happened. The worker here is root, so each run has a
UID of its own from STEWARD_RUNBOOK_UIDS, inside its own namespaces."""

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from audit import trail
from core.workers import worker_command
from runbooks import runs
from runbooks.models import Execution, LogLine, Worker
from tests.conftest import child_env, wait_for
from tests.factories import make_runbook, make_user
from tests.processes import final, processes_of, processes_running
from tests.services import require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def _namespaces_available():
    """Never a skip in CI (STEWARD_REQUIRE_SERVICES=1): .ci/run installs bubblewrap."""
    require(shutil.which("bwrap") is not None, "bubblewrap (apt-get install bubblewrap)")


def lines(execution) -> list[str]:
    return list(LogLine.objects.filter(execution=execution).order_by("n").values_list("text", flat=True))


def run(slug, script, kind="python", timeout_seconds=3, **fields) -> Execution:
    runbook = make_runbook(name=slug, slug=slug, script=script, kind=kind, timeout_seconds=timeout_seconds, **fields)
    return runs.request_run(runbook, {}, None, trail.SYSTEM)


def assert_worker_healthy(n):
    after = final(run(f"trivial-{n}", "echo still fine", kind="shell").pk)
    assert after.status == "succeeded" and lines(after) == ["still fine"]


SCENARIOS = {
    # name: (kind, script, timeout, expected status, a line the log must hold)
    "infinite-loop": ("python", "print('spinning', flush=True)\nwhile True:\n    pass\n", 2, "timed_out", "spinning"),
    "4-gib-allocation": (
        "python",
        "print('allocating', flush=True)\nblock = bytearray(4 * 1024**3)\nprint('allocated')\n",
        20,
        "failed",
        "MemoryError",
    ),
    "fork-bomb": (
        "shell",
        # The classic bomb, while the runbook itself waits: only its timeout
        # ends it, and RLIMIT_NPROC (of this run's own UID) keeps the
        # machine and the other runs usable meanwhile.
        "bomb() { bomb | bomb & }\necho bombing\nbomb\nsleep 60\n",
        4,
        "timed_out",
        "bombing",
    ),
    "sleep-with-children": (
        "shell",
        "for i in 1 2 3; do sleep 300 & done\n(sleep 300 &)\nsetsid sleep 300 &\necho forked\nsleep 300\n",
        2,
        "timed_out",
        "forked",
    ),
    "2-gib-tmp-write": (
        "shell",
        # /tmp is the run's own tmpfs of STEWARD_RUNBOOK_TMP_MB: full long
        # before 2 GiB, and the machine's /tmp never sees a byte of it.
        # (In files of 100 MiB: one file is also held under RLIMIT_FSIZE.)
        "for i in $(seq 20); do dd if=/dev/zero of=/tmp/fill$i bs=1M count=100 status=none || exit 1; done\n",
        20,
        "failed",
        "No space left on device",
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_hostile_runbook_ends_cleanly_and_the_worker_stays_healthy(worker, name):
    kind, script, timeout, expected, line = SCENARIOS[name]
    execution = run(name, script, kind=kind, timeout_seconds=timeout)
    done = final(execution.pk, timeout=timeout + 30)
    assert done.status == expected, (done.error, lines(done)[-5:])
    assert any(line in text for text in lines(done)), lines(done)[-5:]
    # The whole run is gone: nothing of its group, nor a child that left it
    # (`setsid`), still runs with its execution id.
    wait_for(lambda: processes_of(execution.pk) == [], timeout=5, what=f"no process of {name} left")
    assert_worker_healthy(name)


def test_a_runbook_finds_nothing_of_the_worker_settings_or_database(worker):
    """Each of these really exists outside the sandbox; inside, none can be
    read: the checkout and var/ are empty tmpfs, /proc shows only the run."""
    canary = settings.VAR_DIR / f"canary-{uuid.uuid4().hex[:8]}"
    canary.write_text("CANARY-CONTENT")
    targets = {
        "worker environ": f"/proc/{worker.pid}/environ",
        "settings file": os.path.join(settings.BASE_DIR, "config", "settings.py"),
        "a file in var": str(canary),
        "var folder": str(settings.VAR_DIR),
    }
    if connection.vendor == "sqlite":
        targets["database file"] = connection.settings_dict["NAME"]
    try:
        for path in targets.values():
            assert os.path.exists(path), path  # a check of hiding needs something to hide
        script = (
            "import os, sys\n"
            f"targets = {targets!r}\n"
            "for what, path in targets.items():\n"
            "    try:\n"
            "        data = open(path, 'rb').read() if not os.path.isdir(path) else os.listdir(path)\n"
            "        print(f'READ {what}: {data!r}')\n"
            "    except OSError as exc:\n"
            "        print(f'denied {what}: {exc.strerror}')\n"
            "print('run:', os.listdir('/run'))\n"
        )
        done = final(run("snoop", script, timeout_seconds=10).pk)
    finally:
        canary.unlink()
    assert done.status == "succeeded", done.error
    output = lines(done)
    assert output[-1] == "run: []"  # no PostgreSQL or Redis Unix socket either
    assert sorted(text.split(":")[0] for text in output[:-1]) == sorted(f"denied {what}" for what in targets)
    assert not any("CANARY" in text for text in output)


# --- The network ---------------------------------------------------------------

PROBE = """
import socket, sys, urllib.request
for host, port in {targets!r}:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(3)
    try:
        s.connect((host, port))
        print("OPEN", host, port)
    except OSError as exc:
        print("refused", host, port, exc.strerror or exc)
    finally:
        s.close()
for url in {urls!r}:
    try:
        print("REACHED", urllib.request.urlopen(url, timeout=5).read().decode())
    except OSError as exc:
        print("unreachable", url, exc)
"""


def host_address() -> str:
    """This machine's address toward its default route (not loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.200", 9))  # no packet is sent for a UDP connect
        return s.getsockname()[0]


@pytest.fixture
def web_port():
    """A listener on every address, as a web app bound to 0.0.0.0 is."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def outside_server():
    """An HTTP server in a network namespace of the test's own, joined to
    this machine by a veth pair: an address beyond the host that egress
    runs may reach. (The host's end of the pair is a host address: refused.)"""
    require(os.geteuid() == 0 and shutil.which("ip") is not None, "root and iproute2, to make a network namespace")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, ns_if = f"stw-{tag}", f"stwh{tag}", f"stwn{tag}"
    subnet = f"10.254.{random.randrange(1, 250)}"

    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", ns)
    server = None
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", ns)
        ip("addr", "add", f"{subnet}.1/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", ns, "addr", "add", f"{subnet}.2/30", "dev", ns_if)
        ip("-n", ns, "link", "set", ns_if, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        code = (
            "import http.server, sys\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.end_headers(); self.wfile.write(b'hello from outside')\n"
            "    def log_message(self, *a): pass\n"
            f"s = http.server.HTTPServer(('{subnet}.2', 8080), H)\nprint('ready', flush=True)\ns.serve_forever()\n"
        )
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert server.stdout.readline().strip() == b"ready"
        yield {"url": f"http://{subnet}.2:8080/", "host_side": f"{subnet}.1"}
    finally:
        if server is not None:
            server.kill()
            server.wait()
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", host_if)
        ip("netns", "del", ns)


def control_plane(web_port) -> list[tuple[str, int]]:
    return [
        ("127.0.0.1", 6379),  # Redis: broker and cache
        ("127.0.0.1", 5432),  # PostgreSQL
        ("127.0.0.1", web_port),  # the web app
        (host_address(), web_port),  # the web app on the host's own address
        (host_address(), 5432),
        ("169.254.169.254", 80),  # cloud metadata
    ]


@pytest.mark.parametrize("mode", ["none", "egress"])
def test_a_runbook_reaches_no_part_of_the_control_plane(worker, web_port, outside_server, mode):
    targets = [*control_plane(web_port), (outside_server["host_side"], web_port)]
    urls = [outside_server["url"]]
    stacks = pasta_processes()
    done = final(run(f"probe-{mode}", PROBE.format(targets=targets, urls=urls), network=mode, timeout_seconds=30).pk)
    assert done.status == "succeeded", (done.error, lines(done))
    assert done.network == mode
    output = lines(done)
    assert not [text for text in output if text.startswith("OPEN")], output
    assert len([text for text in output if text.startswith("refused")]) == len(targets), output
    if mode == "egress":
        assert "REACHED hello from outside" in output, output
        # Its network stack (pasta, which holds the run's network namespace) ended with it.
        assert not pasta_processes() - stacks
    else:
        assert "REACHED hello from outside" not in output, output


def pasta_processes() -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0].endswith(b"pasta"):
                        found.add(int(entry.name))
            except OSError:
                continue
    return found


# --- Leftovers -----------------------------------------------------------------


def escaping(token: str, then: str = "") -> str:
    """Children that double-fork, leave the session and clear their
    environment: what the red team left behind. The run says how many of
    them it saw running (the [.] keeps grep itself out of the count)."""
    return (
        f"setsid -f env -i sleep 1000.{token}\n( setsid env -i sleep 1001.{token} & )\nsleep 0.3\n"
        f"echo seen $(grep -l '[.]{token}' /proc/[0-9]*/cmdline 2>/dev/null | wc -l)\necho started\n{then}"
    )


@pytest.mark.parametrize("how", ["it ends", "cancel", "timeout"])
def test_an_escaped_child_is_gone_when_its_run_is(worker, how):
    token = str(uuid.uuid4().int % 10**12)  # digits: sleep takes it
    then = {"it ends": "", "cancel": "sleep 300\n", "timeout": "sleep 300\n"}[how]
    execution = run(f"escape-{how.replace(' ', '-')}", escaping(token, then), kind="shell", timeout_seconds=3)
    if how == "cancel":
        wait_for(lambda: "started" in lines(execution), what="the run to start")
        wait_for(lambda: len(processes_running(token)) == 2, what="both escaped children to run")
        runs.cancel(Execution.objects.get(pk=execution.pk), trail.SYSTEM)
    done = final(execution.pk, timeout=30)
    assert done.status == {"it ends": "succeeded", "cancel": "cancelled", "timeout": "timed_out"}[how], done.error
    assert "seen 2" in lines(done), lines(done)
    wait_for(lambda: processes_running(token) == [], timeout=5, what="no escaped child left")


def test_an_escaped_child_is_gone_when_its_worker_is_killed(workers, worker):
    queue = f"q-{uuid.uuid4().hex[:8]}"
    doomed = workers([queue], "doomed-sandbox")
    token = str(uuid.uuid4().int % 10**12)  # digits: sleep takes it
    execution = run("escape-kill", escaping(token, "sleep 300\n"), kind="shell", timeout_seconds=600, queue=queue)
    wait_for(lambda: len(processes_running(token)) == 2, what="both escaped children to run")
    doomed.kill()
    # No sweep needed: the PID namespace died with the worker's bwrap.
    wait_for(lambda: processes_running(token) == [], timeout=5, what="no escaped child left")
    assert processes_of(execution.pk) == []


def test_two_concurrent_runs_cannot_read_or_signal_each_other(worker):
    token = str(uuid.uuid4().int % 10**12)  # digits: sleep takes it
    first = run(
        "neighbour-a",
        f'echo "mine-{token}" > mine.txt\necho "ready $STEWARD_PARAMS $PWD $(id -u)"\nsleep 6\ncat mine.txt\n',
        kind="shell",
        timeout_seconds=30,
    )
    ready = wait_for(lambda: [t for t in lines(first) if t.startswith("ready ")], what="the first run to be ready")
    _, params, workdir, first_uid = ready[0].split()
    script = (
        "echo uid $(id -u)\n"
        f"cat {params} || echo no-params\n"
        f"cat {workdir}/mine.txt || echo no-file\n"
        # Every execution id among the processes it can see: only its own.
        "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep ^STEWARD_EXECUTION_ID= | sort -u\n"
        "kill -KILL -1 2>/dev/null; echo signalled-all\n"
    )
    second = final(run("neighbour-b", script, kind="shell", timeout_seconds=20).pk)
    done = final(first.pk, timeout=30)
    assert done.status == "succeeded" and lines(done)[-1] == f"mine-{token}", lines(done)
    output = lines(second)
    assert not any(token in text for text in output), output
    assert "no-params" in output and "no-file" in output
    assert [t for t in output if t.startswith("STEWARD_EXECUTION_ID=")] == [f"STEWARD_EXECUTION_ID={second.pk}"]
    assert "signalled-all" in output
    assert f"uid {first_uid}" not in output and any(t.startswith("uid 62") for t in output), output  # a UID each


# --- Results -------------------------------------------------------------------


@pytest.mark.parametrize("make", ["mkfifo", "ln -s /etc/shadow"], ids=["fifo", "symlink"])
def test_a_fifo_or_symlink_result_fails_the_run_in_time_and_the_worker_keeps_serving(worker, make):
    """The result file is a mount of its own in the sandbox: the runbook
    cannot swap it for a FIFO (which would block the worker) or a symlink
    (which would hand the root worker any file). (Read as plain processes,
    such a result fails the run with its reason: tests/runbooks/test_runner.py.)"""
    started = time.monotonic()
    script = f'rm -f "$STEWARD_RESULT"; {make} "$STEWARD_RESULT"\n'
    done = final(run(f"result-{make.split()[0]}", script, kind="shell").pk, timeout=20)
    assert done.status == "failed" and done.result is None, done.error
    assert any("Device or resource busy" in text for text in lines(done)), lines(done)
    assert time.monotonic() - started < 15
    assert_worker_healthy(f"after-{make.split()[0]}")


# --- No silent downgrade -------------------------------------------------------


def test_the_worker_refuses_to_start_without_the_sandbox_unless_told_to_run_uncontained(workers, tmp_path, client):
    log = tmp_path / "refused.log"
    with open(log, "w") as out:
        refused = subprocess.run(
            worker_command(
                sys.executable,
                [f"q-{uuid.uuid4().hex[:8]}"],
                f"refused-{uuid.uuid4().hex[:6]}@%h",
                *("--without-mingle", "--without-gossip"),
            ),
            cwd=settings.BASE_DIR,
            env=child_env(STEWARD_BWRAP="/nonexistent/bwrap"),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
    text = log.read_text()
    assert refused.returncode != 0, text[-2000:]
    assert "refuses to start" in text and "bwrap is not installed" in text and "STEWARD_SANDBOX=process" in text
    opted_out = workers(
        [f"q-{uuid.uuid4().hex[:8]}"], "uncontained", STEWARD_BWRAP="/nonexistent/bwrap", STEWARD_SANDBOX="process"
    )
    row = wait_for(lambda: Worker.objects.filter(name=opted_out.name).first(), what="the heartbeat row")
    assert row.sandbox == "process"
    client.force_login(make_user("viewer", username="banner-viewer"))
    assert "Runbooks are not contained" in client.get("/").content.decode()
    opted_out.kill()
    Worker.objects.filter(name=opted_out.name).update(stopped_at=row.last_seen_at)
    assert "Runbooks are not contained" not in client.get("/").content.decode()
