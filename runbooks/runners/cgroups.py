"""A cgroup v2 per run, where the host delegates a subtree to the worker.

With one (STEWARD_RUNBOOK_CGROUP: a cgroup2 folder the worker may write,
with the `pids` and `memory` controllers), each run gets a child cgroup with
`pids.max` and `memory.max`; the run's bwrap joins it before it execs (the
child writes to `cgroup.procs`), and `cgroup.kill` ends whatever is left.
Without one (cgroup v1 hosts, as our development and CI machines), rlimits
and the PID namespace do the job; `detect()` says which and why.
"""

import contextlib
import os
import time

CGROUP2_MAGIC = "cgroup2"


def detect(base: str) -> tuple[str | None, str]:
    """(the delegated folder, why) or (None, why not)."""
    if not base:
        return None, "no delegated cgroup v2 subtree configured (STEWARD_RUNBOOK_CGROUP)"
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return None, "this host has cgroup v1 (no unified cgroup v2 hierarchy at /sys/fs/cgroup)"
    try:
        with open(os.path.join(base, "cgroup.controllers")) as f:
            available = f.read().split()
    except OSError as exc:
        return None, f"{base} is not a cgroup v2 folder: {exc.strerror}"
    missing = {"pids", "memory"} - set(available)
    if missing:
        return None, f"{base} lacks the {', '.join(sorted(missing))} controller(s)"
    try:
        with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
            f.write("+pids +memory")
    except OSError as exc:
        return None, f"cannot enable pids and memory below {base}: {exc.strerror}"
    if not os.access(base, os.W_OK):
        return None, f"{base} is not writable by the worker"
    return base, f"cgroup v2 per run below {base}"


class RunCgroup:
    """One run's cgroup: made before the start, killed and removed after."""

    def __init__(self, base: str, name: str, pids_max: int, memory_max: int):
        self.path = os.path.join(base, name)
        os.mkdir(self.path, 0o755)
        try:
            if pids_max:
                self._write("pids.max", str(pids_max))
            if memory_max:
                self._write("memory.max", str(memory_max))
            # Opened now, written by the child between fork and exec ("0": itself).
            self.procs_fd = os.open(os.path.join(self.path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            self.remove()
            raise

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def join_in_child(self) -> None:
        os.write(self.procs_fd, b"0")

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.procs_fd)
        with contextlib.suppress(OSError):
            self._write("cgroup.kill", "1")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)  # the killed processes are still being reaped
