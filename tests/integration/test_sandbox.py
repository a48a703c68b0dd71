"""The sandbox on the real worker: runbooks that loop, allocate, fork-bomb or
leave children behind end with the right status, leave no process, and the
worker runs the next runbook as if nothing happened. Runbooks run as
STEWARD_RUNBOOK_USER (`nobody`) here, since the test worker is root."""

import os

import pytest
from django.conf import settings
from django.db import connection

from audit import trail
from runbooks import services
from runbooks.models import Execution, LogLine
from tests.conftest import wait_for
from tests.factories import make_runbook
from tests.processes import final, processes_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def lines(execution) -> list[str]:
    return list(LogLine.objects.filter(execution=execution).order_by("n").values_list("text", flat=True))


def run(slug, script, kind="python", timeout_seconds=3) -> Execution:
    runbook = make_runbook(name=slug, slug=slug, script=script, kind=kind, timeout_seconds=timeout_seconds)
    return services.request_run(runbook, {}, None, trail.SYSTEM)


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
        # ends it, and RLIMIT_NPROC keeps the machine usable meanwhile.
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
    """As `nobody`, inside Landlock: the worker's environment, Django's
    settings file, the dev secret key and the SQLite database are unreadable."""
    targets = {
        "worker environ": f"/proc/{worker.pid}/environ",
        "settings file": os.path.join(settings.BASE_DIR, "config", "settings.py"),
        "secret key file": os.path.join(settings.VAR_DIR, "secret_key"),
        "var folder": str(settings.VAR_DIR),
    }
    if connection.vendor == "sqlite":
        targets["database file"] = connection.settings_dict["NAME"]
    script = (
        "import os, sys\n"
        f"targets = {targets!r}\n"
        "targets['supervisor environ'] = f'/proc/{os.getppid()}/environ'\n"
        "for what, path in targets.items():\n"
        "    try:\n"
        "        data = open(path, 'rb').read() if not os.path.isdir(path) else os.listdir(path)\n"
        "        print(f'READ {what}: {len(data)}')\n"
        "    except OSError as exc:\n"
        "        print(f'denied {what}: {exc.strerror}')\n"
    )
    done = final(run("snoop", script, timeout_seconds=10).pk)
    assert done.status == "succeeded", done.error
    output = lines(done)
    assert len(output) == len(targets) + 1
    assert all(text.startswith("denied ") for text in output), output
    assert all("Permission denied" in text or "No such file" in text for text in output)
