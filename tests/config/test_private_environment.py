"""A Steward process's environment holds the credentials the runbook's
scrubbed environment leaves out. Another process of the same user (a
runbook of a worker that is not root) cannot read it through /proc."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import wait_for

CREDENTIAL = "postgres://steward:do-not-leak-7@db/steward"


def as_unprivileged(command: list[str]) -> list[str]:
    """Root reads every process's /proc: both sides run as `nobody` then."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to drop root for this test")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]


def start(code: str) -> subprocess.Popen:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": CREDENTIAL}
    return subprocess.Popen(
        as_unprivileged([sys.executable, "-c", code]),
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def read_environ_as_the_same_user(pid: int) -> str:
    reader = (
        "import sys\n"
        "try:\n"
        f"    print(open('/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
        "except OSError as exc:\n"
        "    print('denied:', exc.strerror)\n"
    )
    done = subprocess.run(as_unprivileged([sys.executable, "-c", reader]), capture_output=True, text=True, timeout=30)
    return done.stdout


def wait_ready(proc: subprocess.Popen) -> None:
    assert proc.stdout.readline().strip() == "ready"
    wait_for(lambda: Path(f"/proc/{proc.pid}").exists(), what="the process")


@pytest.mark.parametrize("imports_steward", [False, True], ids=["plain python (the control)", "a steward process"])
def test_another_process_of_the_same_user_cannot_read_a_steward_process_environment(imports_steward):
    if not (Path(settings.BASE_DIR) / "config" / "__init__.py").stat().st_mode & 0o004:
        pytest.fail("the checkout must be readable by nobody for this test")
    code = ("import config\n" if imports_steward else "") + "print('ready', flush=True)\nimport time\ntime.sleep(30)\n"
    proc = start(code)
    try:
        wait_ready(proc)
        seen = read_environ_as_the_same_user(proc.pid)
        if imports_steward:
            assert CREDENTIAL not in seen and "denied: Permission denied" in seen
        else:  # without it, the same reader gets the credential: the test can tell
            assert CREDENTIAL in seen
    finally:
        proc.kill()
        proc.wait()
