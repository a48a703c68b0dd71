"""A UID of its own for each run of a root worker.

The pool (STEWARD_RUNBOOK_UIDS, e.g. 62000-62999) is shared by every worker
process on the machine: a UID is taken by an exclusive `flock` on a file
named for it in a root-only folder, held for the run's whole life. The
kernel drops the lock when the holder dies, however it dies, so a crashed
worker leaks no UID. With a UID per run, RLIMIT_NPROC is a per-run ceiling
(one run's fork bomb cannot starve the next), and runs can neither signal
nor read each other (their files are theirs, mode 0700).
"""

import contextlib
import fcntl
import os
import pwd
import random
import signal
import stat
from dataclasses import dataclass


class PoolError(Exception):
    pass


@dataclass
class Lease:
    uid: int
    fd: int

    def release(self) -> None:
        """At the run's end: nothing of its UID outlives it (pasta, which
        holds the run's network namespace, included), then the UID is free."""
        if self.fd >= 0:
            kill_processes_of(self.uid)
            with contextlib.suppress(OSError):
                os.close(self.fd)  # closing drops the flock
            self.fd = -1


def parse_range(text: str) -> tuple[int, int] | None:
    """`62000-62999` → (62000, 62999); empty → None (no pool)."""
    text = text.strip()
    if not text:
        return None
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise PoolError(f"not a UID range: {text!r} (write e.g. 62000-62999)") from None
    if low <= 0 or high < low:
        raise PoolError(f"not a usable UID range: {text!r} (never 0, first <= last)")
    return low, high


def _lock_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.lstat(path)
    # A folder another user could write would let them hold every lock.
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise PoolError(f"{path} must be a folder owned by the worker's user, not writable by others")


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def acquire(pool: tuple[int, int], lock_dir: str) -> Lease:
    """An exclusive UID from the pool: never 0, never the worker's own,
    never one a user account of the machine has (its owner's processes
    would share the run's limits, and could signal or read the run)."""
    _lock_dir(lock_dir)
    low, high = pool
    count = high - low + 1
    start = random.randrange(count)  # spread workers over the pool: fewer collisions
    mine = {0, os.getuid(), os.geteuid()}
    for i in range(count):
        uid = low + (start + i) % count
        if uid in mine or _has_account(uid):
            continue
        fd = os.open(os.path.join(lock_dir, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        # A worker killed mid-run leaves its run's processes behind: the UID
        # is this run's alone from now on, so whatever still has it goes.
        kill_processes_of(uid)
        return Lease(uid, fd)
    raise PoolError(f"all {count} runbook UIDs ({low}-{high}) are in use by live runs on this machine")


def kill_processes_of(uid: int) -> int:
    """SIGKILL every process whose real or effective UID is `uid`; how many."""
    killed = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        real, effective = (int(x) for x in line.split()[1:3])
                        break
                else:
                    continue
            if uid in (real, effective):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed
