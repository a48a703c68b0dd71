"""What the integration tests look at from outside: an execution that has
ended, and the processes a run left on this machine."""

import os
import tempfile
from pathlib import Path

from runbooks.models import Execution
from tests.conftest import wait_for


def final(execution_id, timeout: float = 30) -> Execution:
    """The execution once it has ended (fails the test after `timeout`)."""

    def check():
        x = Execution.objects.get(pk=execution_id)
        return x if x.is_finished else None

    return wait_for(check, timeout=timeout, what=f"execution {execution_id} to end")


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper (this container's init may not reap)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def processes_of(execution_id) -> list[int]:
    """Live processes whose environment names this execution (root reads any)."""
    marker = f"STEWARD_EXECUTION_ID={execution_id}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or not alive(int(entry.name)):
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def processes_running(token: str) -> list[int]:
    """Live processes whose command line holds `token`: how a test finds a
    child that cleared its environment (`env -i`) and left its session."""
    needle = token.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or not alive(int(entry.name)):
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def folder_outside_tmp(mode: int = 0o755) -> Path:
    """A folder a runbook can be shown, outside /tmp: each run has a /tmp
    of its own, where the host's is not to be seen at all. Remove it after."""
    base = "/var/lib" if os.geteuid() == 0 else os.path.expanduser("~")
    folder = Path(tempfile.mkdtemp(prefix="steward-test-", dir=base))
    folder.chmod(mode)
    return folder
