"""What a runbook process may use: resource limits, no new privileges, and
(where the kernel has Landlock) no access to Steward's own files.

`child_setup()` builds the function that subprocess runs in the child between
fork and exec, after the switch of user. Everything that can fail or take time
(opening folders, building the Landlock ruleset) happens before the fork, in
`prepare()`; the child only makes a few system calls.
"""

import ctypes
import logging
import os
import resource
import signal
import stat
from dataclasses import dataclass

log = logging.getLogger(__name__)

GiB = 1024**3
MiB = 1024**2

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38


@dataclass
class Limits:
    """Per-process limits (setrlimit); 0 or None leaves one unset.

    `processes` (RLIMIT_NPROC) counts every process of the user on the
    machine, not of this run: it is set only when the runbook runs as a user
    of its own (see runbooks.worker.spec_for), never as the worker's user.
    """

    cpu_seconds: int | None = None  # default: the timeout + 10 s (process.run)
    address_space_bytes: int = 1 * GiB
    file_bytes: int = 256 * MiB
    open_files: int = 1024
    processes: int = 0
    core_bytes: int = 0  # no core dumps: they would hold the secrets in memory

    def rlimits(self) -> list[tuple[int, int]]:
        wanted = [
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_AS, self.address_space_bytes),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_NPROC, self.processes),
        ]
        limits = [(which, value) for which, value in wanted if value]
        limits.append((resource.RLIMIT_CORE, self.core_bytes))
        return limits


# --- Landlock: hide folders from the runbook ----------------------------------
#
# Landlock only grants: once a ruleset is in force, a file can be opened only
# beneath a folder a rule allows. To hide /work/steward we allow every entry of
# / except /work, and every entry of /work except steward: the hidden folders'
# siblings are allowed, their ancestors only as the way through (traversing a
# folder is never restricted, listing it is). So `ls /` fails for a runbook
# when a hidden folder sits in /, and everything else works as before.

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on x86_64 and arm64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
# Access rights by ABI version: v1 has 13, v2 adds REFER, v3 TRUNCATE, v5 IOCTL_DEV.
_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_ALL_RIGHTS_LATEST = (1 << 16) - 1
# Rights that make sense on a file (not a folder): EXECUTE, WRITE_FILE, READ_FILE, TRUNCATE, IOCTL_DEV.
_FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    return max(version, 0)


def _is_beneath(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _ancestors(path: str) -> set[str]:
    """`/a/b/c` → {"/", "/a", "/a/b"}."""
    found = set()
    while path != "/":
        path = os.path.dirname(path)
        found.add(path)
    return found


def _allowed_entries(hidden: list[str]) -> list[str]:
    """Every path to allow so that all is reachable but the hidden folders."""
    ancestors = {a for h in hidden for a in _ancestors(h) if not any(_is_beneath(a, x) for x in hidden)}
    allowed = []
    for folder in sorted(ancestors):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if path not in ancestors and not any(_is_beneath(path, h) for h in hidden):
                allowed.append(path)
    return allowed


def landlock_ruleset(hidden_paths: list[str], also_allow: list[str]) -> int | None:
    """A Landlock ruleset fd hiding `hidden_paths`, or None when the kernel
    has no Landlock or there is nothing to hide. `also_allow` (the run's temp
    folder) stays reachable even beneath a hidden folder."""
    hidden = sorted({os.path.realpath(p) for p in hidden_paths if p and os.path.exists(p)})
    hidden = [h for h in hidden if h != "/"]
    if not hidden:
        return None
    abi = landlock_abi()
    if abi == 0:
        return None
    rights = _RIGHTS_BY_ABI.get(abi, _ALL_RIGHTS_LATEST)
    attr = _RulesetAttr(rights)
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        log.warning("Landlock ruleset not created: %s", os.strerror(ctypes.get_errno()))
        return None
    try:
        for path in [*_allowed_entries(hidden), *also_allow]:
            _allow(ruleset, path, rights)
    except OSError:
        os.close(ruleset)
        raise
    return ruleset


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        # O_NOFOLLOW: a symlink's target is checked where it really lives.
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # gone since listed
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISLNK(mode):
            return
        allowed = rights if stat.S_ISDIR(mode) else rights & _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed, fd)
        if _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"Landlock rule for {path}: {os.strerror(error)}")
    finally:
        os.close(fd)


# --- In the child, between fork and exec ---------------------------------------


def child_setup(limits: Limits, ruleset: int | None, join_cgroup=None):
    """The preexec function: runs in the child after the switch of user.
    `join_cgroup` (a run's cgroup v2, see `cgroups`) is called first."""
    rlimits = limits.rlimits()

    def setup() -> None:
        if join_cgroup is not None:
            join_cgroup()
        # SIGKILL when the worker process supervising the run dies, so a
        # killed worker leaves no runbook running.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for which, value in rlimits:
            _, hard = resource.getrlimit(which)
            if which == resource.RLIMIT_CPU:
                # SIGXCPU at the limit, SIGKILL 5 s later if it is ignored.
                soft, new_hard = value, value + 5
            else:
                soft = new_hard = value
            if hard != resource.RLIM_INFINITY:  # an unprivileged process cannot raise its hard limit
                soft, new_hard = min(soft, hard), min(new_hard, hard)
            resource.setrlimit(which, (soft, new_hard))
        # setuid programs (su, sudo...) give the runbook no privilege.
        _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if ruleset is not None and _libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) < 0:
            raise OSError(ctypes.get_errno(), "Landlock restriction failed")

    return setup
