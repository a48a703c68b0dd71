"""Run one runbook as a supervised subprocess, as the contract's "What a
runbook sees" says: a fresh temp dir, a scrubbed environment, parameter and
event files, a result file, its own namespaces (`namespaces`: bwrap) or, when
the worker opted out (STEWARD_SANDBOX=process), its own session and process
group, a timeout that kills the whole run, and output read line by line while
it runs. Resource limits are in `sandbox`, a UID per run in `uids`; secret
values are masked (`masking`) before any line, result or error leaves here.

This module knows nothing about the database: the caller passes a `Sink` that
stores lines and, when checked in with, says whether the run must stop.
"""

import contextlib
import dataclasses
import json
import math
import os
import pwd
import re
import selectors
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from runbooks.runners import KINDS, cgroups, namespaces, sandbox, uids
from runbooks.runners.masking import Masker

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
# The helper module every Python runbook can import (lib/steward.py).
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "steward.py")
MAX_LINE_BYTES = 64 * 1024
MAX_RESULT_BYTES = 1024 * 1024
RESULT_READ_SECONDS = 5.0
SANDBOXES = ("namespaces", "process")
NETWORKS = ("none", "egress", "host")
DEFAULT_UID_POOL = (62000, 62999)
DEFAULT_UID_LOCK_DIR = "/run/steward/uids"


@dataclass
class RunSpec:
    kind: str
    script: str
    parameters: dict
    event: dict
    timeout_seconds: float
    identifiers: dict[str, str] = field(default_factory=dict)  # STEWARD_EXECUTION_ID, ...
    max_output_bytes: int = 10 * 1024 * 1024
    kill_grace_seconds: float = 2.0
    # A root worker runs each runbook as a UID of its own from this pool
    # (see `uids`); with no pool, as `run_as`, one user all runs share. A
    # worker that is not root runs them as itself (in a user namespace).
    uid_pool: tuple[int, int] | None = DEFAULT_UID_POOL
    uid_lock_dir: str = DEFAULT_UID_LOCK_DIR
    run_as: str | None = None
    # Declared secrets, name → value: environment variables, masked in output.
    secrets: dict[str, str] = field(default_factory=dict)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    # Folders the runbook may not see (Steward's checkout, var/): empty tmpfs
    # in the namespace sandbox, Landlock (where the kernel has it) in `process`.
    hidden_paths: list[str] = field(default_factory=list)
    sandbox: str = "namespaces"  # or "process": the worker opted out (STEWARD_SANDBOX)
    network: str = "none"  # none, egress, host (namespaces only)
    tmp_bytes: int = 256 * 1024**2  # each of /tmp, /var/tmp, /dev/shm
    # Networks an egress run may not reach (the control plane, resolved by
    # the caller); loopback, link-local, metadata and this host's own
    # addresses are always refused (namespaces.ALWAYS_DENIED).
    egress_deny: list[str] = field(default_factory=list)
    # A delegated cgroup v2 folder for a cgroup per run ("" none; see `cgroups`).
    cgroup: str = ""
    bwrap: str = ""  # the bwrap binary ("" found on the system's PATH)
    # egress: send DNS through pasta to this machine's resolver (None: when
    # that resolver is on loopback, where the run cannot reach it)
    dns_forward: bool | None = None
    # A Python runbook's environment (runbooks/environments.py): a ready
    # folder on this host, mounted read-only; its python runs the script
    # and comes first on PATH. "": the interpreter alone, standard library only.
    python_env: str = ""


@dataclass
class Line:
    n: int
    t: datetime
    stream: str
    text: str


@dataclass
class Outcome:
    status: str  # succeeded, failed, timed_out, cancelled, lost (its worker shut down)
    exit_code: int | None = None
    result: object = None
    error: str = ""


class Sink(Protocol):
    def started(self, pid: int) -> None: ...
    def lines(self, lines: list[Line]) -> None: ...
    def check_in(self) -> str | None:
        """Called every fraction of a second: records that the run is alive
        (when due) and answers "cancel" or "shutdown" when it must stop."""


def param_env_name(name: str) -> str:
    """`PARAM_<NAME>`: upper-cased, any other character than [A-Z0-9_] as `_`."""
    return "PARAM_" + re.sub(r"[^A-Z0-9_]", "_", name.upper())


def param_env_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def build_environment(spec: RunSpec, workdir: str) -> dict[str, str]:
    """Everything the runbook process sees; nothing of the worker leaks in."""
    env = {
        "PATH": MINIMAL_PATH,
        "HOME": workdir,
        "LANG": "C.UTF-8",
        "STEWARD_PARAMS": os.path.join(workdir, "params.json"),
        "STEWARD_EVENT": os.path.join(workdir, "event.json"),
        "STEWARD_RESULT": os.path.join(workdir, "result.json"),
    }
    env.update(spec.identifiers)
    for name, value in spec.parameters.items():
        env[param_env_name(name)] = param_env_value(value)
    env.update(spec.secrets)  # names are checked when saved: never PATH, PARAM_*, STEWARD_*
    return env


# The CPU-time limit, when none is given, leaves the wall-clock timeout room
# to act first: a busy loop is `timed_out`, not killed by SIGXCPU.
CPU_MARGIN_SECONDS = 10


def _limits_for(spec: RunSpec) -> sandbox.Limits:
    limits = spec.limits
    if limits.cpu_seconds is None:
        limits = dataclasses.replace(limits, cpu_seconds=math.ceil(spec.timeout_seconds) + CPU_MARGIN_SECONDS)
    return limits


def run(spec: RunSpec, sink: Sink) -> Outcome:
    """Run the runbook to its end; the outcome, result and every line the
    sink gets have the secret values masked."""
    masker = Masker(spec.secrets.values())
    outcome = _run(spec, _MaskingSink(sink, masker))
    outcome.result = masker.json(outcome.result)
    outcome.error = masker.text(outcome.error)
    return outcome


class _MaskingSink:
    def __init__(self, sink: Sink, masker: Masker):
        self.sink, self.masker = sink, masker

    def started(self, pid: int) -> None:
        self.sink.started(pid)

    def lines(self, lines: list[Line]) -> None:
        if self.masker:
            lines = [dataclasses.replace(line, text=self.masker.text(line.text)) for line in lines]
        self.sink.lines(lines)

    def check_in(self) -> str | None:
        return self.sink.check_in()


@dataclass
class _Identity:
    uid: int
    gid: int
    other: bool  # another user than the worker's
    lease: uids.Lease | None = None


def _identity(spec: RunSpec) -> _Identity:
    if os.geteuid() != 0:
        return _Identity(os.getuid(), os.getgid(), other=False)
    if spec.uid_pool:
        lease = uids.acquire(spec.uid_pool, spec.uid_lock_dir)
        return _Identity(lease.uid, lease.uid, other=True, lease=lease)
    if not spec.run_as:
        raise uids.PoolError("a root worker runs runbooks only as another user: set STEWARD_RUNBOOK_UIDS")
    try:
        account = pwd.getpwnam(spec.run_as)
    except KeyError:
        raise uids.PoolError(f"The runbook user {spec.run_as!r} does not exist on this worker.") from None
    if account.pw_uid == 0:
        raise uids.PoolError(f"The runbook user {spec.run_as!r} is root; runbooks never run as root.")
    return _Identity(account.pw_uid, account.pw_gid, other=True)


def _run(spec: RunSpec, sink: Sink) -> Outcome:
    if spec.sandbox not in SANDBOXES or spec.network not in NETWORKS:
        return Outcome("failed", error=f"Unknown sandbox {spec.sandbox!r} or network mode {spec.network!r}.")
    try:
        who = _identity(spec)
    except (uids.PoolError, OSError) as exc:
        return Outcome("failed", error=str(exc))
    try:
        return _run_as(spec, sink, who)
    finally:
        if who.lease is not None:
            who.lease.release()


def _run_as(spec: RunSpec, sink: Sink, who: _Identity) -> Outcome:
    runner = KINDS[spec.kind]
    if spec.sandbox == "process" and who.lease is not None:
        # The UID is this run's alone now; anything still running as it is
        # what an earlier run on it left behind (no PID namespace here).
        kill_uid(who.uid)
    # A root-owned folder (0711) holding the run's own (0700, the run's UID):
    # the run cannot swap its folder for a symlink, and every file we read
    # or write in it goes through a descriptor opened before the run starts.
    # In the namespace sandbox the work dir is seen inside the run's own
    # /tmp (see namespaces.argv): its host side is under /tmp too.
    outer = tempfile.mkdtemp(prefix="steward-run-", dir="/tmp" if spec.sandbox == "namespaces" else None)
    workdir = os.path.join(outer, "work")
    dir_fd = -1
    try:
        os.chmod(outer, 0o711)
        os.mkdir(workdir, 0o700)
        dir_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        env = build_environment(spec, workdir)
        _write_new(dir_fd, "params.json", json.dumps(spec.parameters), who)
        _write_new(dir_fd, "event.json", json.dumps(spec.event), who)
        _write_new(dir_fd, runner.FILENAME, spec.script, who)
        if spec.sandbox == "namespaces":
            # Bound into the sandbox as a single file: it must exist first.
            _write_new(dir_fd, "result.json", "", who)
        if who.other:
            os.fchown(dir_fd, who.uid, who.gid)
        command = runner.command(os.path.join(workdir, runner.FILENAME), as_other_user=who.other)
        if spec.kind == "python":
            command = _python_setup(spec, outer, env, command)
        start = _run_contained if spec.sandbox == "namespaces" else _run_process
        outcome, supervisor = start(spec, sink, who, workdir, env, command)
        if supervisor is not None:
            result, warning, error = read_result(dir_fd, "result.json")
            outcome.result = result
            if warning:
                supervisor.note(warning)
                supervisor.flush()
            if error:
                # A run that ended by itself fails for it; one stopped
                # (timed out, cancelled) keeps its status, with both reasons.
                if outcome.status in ("succeeded", "failed"):
                    outcome.status = "failed"
                outcome.error = error if not outcome.error else f"{outcome.error} {error}"
        return outcome
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
        shutil.rmtree(outer, ignore_errors=True)


def _python_setup(spec: RunSpec, outer: str, env: dict, command: list[str]) -> list[str]:
    """The helper on PYTHONPATH and the environment's python in front.

    The helper is copied beside the work dir, in the root-owned folder (the
    checkout it comes from may be unreadable to the run's UID, and is
    hidden anyway), and bound read-only at the same path in the sandbox.
    The environment is seen at `<outer>/env` in the sandbox, at its own
    path with no sandbox (a relocatable venv: either works)."""
    lib = os.path.join(outer, "lib")
    os.mkdir(lib)
    os.chmod(lib, 0o755)  # whatever the umask: the run's UID reads it
    shutil.copyfile(HELPER, os.path.join(lib, "steward.py"))
    os.chmod(os.path.join(lib, "steward.py"), 0o644)
    env["PYTHONPATH"] = lib
    if not spec.python_env:
        return command
    seen_at = os.path.join(outer, "env") if spec.sandbox == "namespaces" else spec.python_env
    env["PATH"] = f"{seen_at}/bin:{env['PATH']}"
    return [os.path.join(seen_at, "bin", "python"), *command[1:]]


def _write_new(dir_fd: int, name: str, text: str, who: _Identity) -> None:
    """A file of the worker's in the run's fresh folder: created, never
    followed through a link or opened when already there."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data) :]
        if who.other:
            os.fchown(fd, who.uid, who.gid)
    finally:
        os.close(fd)


def _popen(command, spec, who, workdir, env, setup, pass_fds=()) -> subprocess.Popen:
    identity = {"user": who.uid, "group": who.gid, "extra_groups": []} if who.other else {}
    return subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # own session and process group
        close_fds=True,
        pass_fds=pass_fds,
        preexec_fn=setup,
        **identity,
    )


def _start_failed(exc: Exception) -> tuple[Outcome, None]:
    error = f"The runbook could not be started: {getattr(exc, 'strerror', None) or exc}"
    return Outcome("failed", error=error), None


def _run_contained(spec, sink, who, workdir, env, command) -> tuple[Outcome, "_Supervisor | None"]:
    dns_forward = spec.network == "egress" and (
        namespaces.loopback_resolver() if spec.dns_forward is None else spec.dns_forward
    )
    resolv_conf = ""
    if dns_forward:
        # Beside the work dir, in the root-owned folder: the run cannot change it.
        resolv_conf = os.path.join(os.path.dirname(workdir), "resolv.conf")
        with open(resolv_conf, "x") as f:
            f.write(f"nameserver {namespaces.DNS_FORWARD}\n")
        os.chmod(resolv_conf, 0o644)
    box = namespaces.Box(
        workdir=workdir,
        network=spec.network,
        hidden_paths=spec.hidden_paths,
        tmp_bytes=spec.tmp_bytes,
        egress_deny=spec.egress_deny,
        bwrap=spec.bwrap,
        resolv_conf=resolv_conf,
        worker_files=[env["STEWARD_PARAMS"], env["STEWARD_EVENT"], command[-1]],
        result_file=env["STEWARD_RESULT"],
    )
    if "PYTHONPATH" in env:
        box.read_only.append((env["PYTHONPATH"], env["PYTHONPATH"]))
    if spec.python_env:
        box.read_only.append((spec.python_env, os.path.join(os.path.dirname(workdir), "env")))
    info_r, info_w = os.pipe2(os.O_CLOEXEC)
    block_r = block_w = -1
    pasta_pid = None
    if spec.network == "egress":
        # bwrap waits on this pipe before it execs the runbook: the network
        # and its deny routes are in place before the runbook's first instruction.
        block_r, block_w = os.pipe2(os.O_CLOEXEC)
    cgroup = None
    try:
        if spec.cgroup:
            name = f"run-{spec.identifiers.get('STEWARD_EXECUTION_ID') or os.urandom(6).hex()}"
            cgroup = cgroups.RunCgroup(spec.cgroup, name, spec.limits.processes, spec.limits.address_space_bytes)
        argv = namespaces.argv(box, command, who.uid, info_w, block_r if block_r >= 0 else None)
        setup = sandbox.child_setup(_limits_for(spec), None, cgroup.join_in_child if cgroup else None)
        fds = (info_w,) if block_r < 0 else (info_w, block_r)
        try:
            proc = _popen(argv, spec, who, workdir, env, setup, pass_fds=fds)
        except (OSError, subprocess.SubprocessError) as exc:
            return _start_failed(exc)
        finally:
            os.close(info_w)
            info_w = -1
            if block_r >= 0:
                os.close(block_r)
                block_r = -1
        try:
            info = namespaces.read_info(info_r, time.monotonic() + namespaces.NETWORK_SETUP_SECONDS)
        except namespaces.SandboxError:
            info = {}  # bwrap failed: its own message arrives on stderr
        if block_w >= 0:
            try:
                if not info:
                    raise namespaces.SandboxError("bwrap ended before the sandbox was ready")
                pasta_pid = namespaces.start_egress(info["child-pid"], spec.egress_deny, who.uid, who.gid, dns_forward)
            except (namespaces.SandboxError, OSError) as exc:
                _kill_group(proc.pid)
                proc.communicate()
                return Outcome("failed", error=f"The runbook's network (egress) could not be set up: {exc}"), None
            os.write(block_w, b"1")
            os.close(block_w)
            block_w = -1
        sink.started(proc.pid)
        supervisor = _Supervisor(proc, spec, sink, pid_namespace=info.get("pid-namespace"))
        return supervisor.supervise(), supervisor
    finally:
        namespaces.stop_egress(pasta_pid)  # it holds the run's network namespace open
        for fd in (info_r, info_w, block_r, block_w):
            if fd >= 0:
                os.close(fd)
        if cgroup is not None:
            cgroup.remove()


def _run_process(spec, sink, who, workdir, env, command) -> tuple[Outcome, "_Supervisor | None"]:
    try:
        also = [workdir, os.path.join(os.path.dirname(workdir), "lib"), *([spec.python_env] if spec.python_env else [])]
        ruleset = sandbox.landlock_ruleset(spec.hidden_paths, also_allow=also)
    except OSError as exc:
        return Outcome("failed", error=f"The runbook's sandbox could not be set up: {exc}"), None
    try:
        # After the switch of user: limits, no new privileges, Landlock.
        proc = _popen(command, spec, who, workdir, env, sandbox.child_setup(_limits_for(spec), ruleset))
    except (OSError, subprocess.SubprocessError) as exc:
        return _start_failed(exc)
    finally:
        if ruleset is not None:
            os.close(ruleset)
    sink.started(proc.pid)
    supervisor = _Supervisor(proc, spec, sink)
    return supervisor.supervise(), supervisor


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def kill_uid(uid: int) -> int:
    """SIGKILL every process whose real UID is `uid`; how many were found."""
    found = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}").st_uid != uid:
                continue
            os.kill(int(entry.name), signal.SIGKILL)
            found += 1
        except (OSError, ValueError):
            continue
    return found


def signal_namespace(inode: int, sig: int) -> int:
    """Send `sig` to every process in the PID namespace `inode` (its init
    ignores it unless it has a handler)."""
    wanted = f"pid:[{inode}]"
    sent = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/pid") != wanted:
                continue
            os.kill(int(entry.name), sig)
            sent += 1
        except OSError:
            continue
    return sent


def kill_orphans(pgid: int | None, execution_id: str, started_since: int | None = None) -> int:
    """Kill what is left of a run whose supervisor died: the processes of its
    group whose environment names the execution (a reused pgid is not ours).
    With `pgid` None, those of any group: a runbook's child may leave its
    group (setsid) but keeps the environment it was given. With
    `started_since` (the runbook's own start, see `start_ticks`), processes
    started before it are skipped without reading their environment: none
    can be the run's. Returns how many processes were found."""
    marker = f"STEWARD_EXECUTION_ID={execution_id}".encode()
    found = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if pgid is not None and int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            if started_since is not None and int(fields[19]) < started_since:  # field 22: start time
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            os.kill(int(entry.name), signal.SIGKILL)
            found += 1
        except (OSError, ValueError, IndexError):
            continue
    return found


def start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (field 22 of its
    stat); None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def read_result(dir_fd: int, name: str, timeout: float = RESULT_READ_SECONDS) -> tuple[object, str, str]:
    """The runbook's JSON result: (value, warning, error). The worker may be
    root and the file is the runbook's: a symlink would hand the worker any
    file, a FIFO would block it forever. So: no link followed, no blocking
    open, a regular file only, no more than the limit, within `timeout`.
    Invalid JSON is only a warning; anything that is no regular file, or is
    too big, fails the run."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        return None, "", ""
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symlink
            return None, "", "The result file ($STEWARD_RESULT) is a symlink; only a regular file is read."
        return None, "", f"The result file ($STEWARD_RESULT) could not be opened: {exc.strerror}."
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode) else "no file"
            return None, "", f"The result file ($STEWARD_RESULT) is {what}; only a regular file is read."
        if st.st_size > MAX_RESULT_BYTES:
            return None, "", f"The result file is {st.st_size} bytes, over the {MAX_RESULT_BYTES} byte limit."
        data = bytearray()
        deadline = time.monotonic() + timeout
        while len(data) <= MAX_RESULT_BYTES:
            if time.monotonic() > deadline:
                return None, "", f"The result file could not be read within {timeout:g} seconds."
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not chunk:
                break
            data += chunk
        if len(data) > MAX_RESULT_BYTES:  # it grew while read
            return None, "", f"The result file is over the {MAX_RESULT_BYTES} byte limit."
    finally:
        os.close(fd)
    if not data.strip():
        return None, "", ""  # the empty result file a contained run starts with: no result
    try:
        return json.loads(data.decode("utf-8")), "", ""
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"warning: result file is not valid JSON ({exc}); ignored", ""


_SIGNAL_REASONS = {
    "SIGXCPU": ": it used up its CPU time limit",
    "SIGXFSZ": ": it wrote a file over the size limit",
}


class _Supervisor:
    """Reads both pipes, batches lines, enforces timeout and cancel."""

    FLUSH_SECONDS = 0.2
    FLUSH_LINES = 500
    CHECK_IN_SECONDS = 0.25
    # After the main process exits, how long leftover children may keep
    # writing before their group is killed.
    DRAIN_SECONDS = 0.5
    # Once everything of the run was killed, how long a pipe may stay open:
    # held by a process that left the group and cleared its environment,
    # which nothing can find. The run ends anyway, with a note.
    ABANDON_SECONDS = 2.0

    def __init__(self, proc: subprocess.Popen, spec: RunSpec, sink: Sink, pid_namespace: int | None = None):
        self.proc, self.spec, self.sink = proc, spec, sink
        self.pgid = proc.pid
        # In the namespace sandbox `proc` is bwrap: killing it ends the PID
        # namespace and every process in it; SIGTERM goes to the namespace.
        self.pid_namespace = pid_namespace
        # Read while the runbook is our unreaped child: its pid is still its own.
        self.started_ticks = start_ticks(proc.pid)
        self.pending: list[Line] = []
        self.buffers = {"stdout": bytearray(), "stderr": bytearray()}
        self.n = 0
        self.output_bytes = 0
        self.truncated = False
        self.stop_reason: str | None = None  # timed_out, cancel or shutdown
        self.kill_at: float | None = None

    def supervise(self) -> Outcome:
        selector = selectors.DefaultSelector()
        for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe, selectors.EVENT_READ, stream)
        start = time.monotonic()
        deadline = start + self.spec.timeout_seconds
        last_flush = last_check_in = start
        drain_until = abandon_at = None
        leftovers_killed = False
        try:
            # Until both pipes close and the runbook itself has exited.
            while selector.get_map() or self.proc.poll() is None:
                if not selector.get_map():
                    # Both pipes are closed: wait on the process itself, which
                    # returns the moment it exits (an empty select would sleep
                    # out its whole timeout).
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(timeout=0.05)
                for key, _ in selector.select(timeout=0.05) if selector.get_map() else ():
                    chunk = os.read(key.fileobj.fileno(), 65536)
                    if chunk:
                        self._take(key.data, chunk)
                    else:
                        selector.unregister(key.fileobj)
                        self._finish_stream(key.data)
                now = time.monotonic()
                if self.pending and (now - last_flush >= self.FLUSH_SECONDS or len(self.pending) >= self.FLUSH_LINES):
                    self.flush()
                    last_flush = now
                if now - last_check_in >= self.CHECK_IN_SECONDS:
                    last_check_in = now
                    stop = self.sink.check_in()
                    if stop and self.stop_reason is None:
                        self._stop(stop, grace=min(1.0, self.spec.kill_grace_seconds))
                if self.stop_reason is None and now >= deadline:
                    self._stop("timed_out", grace=self.spec.kill_grace_seconds)
                if self.kill_at is not None and now >= self.kill_at:
                    self._signal(signal.SIGKILL)
                    self.kill_at = None
                if drain_until is None and self.proc.poll() is not None:
                    drain_until = now + self.DRAIN_SECONDS
                if drain_until is not None and now >= drain_until and not leftovers_killed:
                    # Children that outlive the runbook still hold the pipes.
                    self._signal(signal.SIGKILL)
                    self._kill_escaped()
                    leftovers_killed = True
                    abandon_at = now + self.ABANDON_SECONDS
                if abandon_at is not None and now >= abandon_at and selector.get_map():
                    self.note("[a process that left the run's process group kept its output open; it was not found]")
                    break
        finally:
            selector.close()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self._signal(signal.SIGKILL)  # nothing of the group outlives the run
            self._kill_escaped()
            self.proc.wait()
        for stream in ("stdout", "stderr"):
            self._finish_stream(stream)
        self.flush()
        return self._outcome(time.monotonic() - start)

    def _outcome(self, elapsed: float) -> Outcome:
        code = self.proc.returncode
        if self.pid_namespace and code is not None and 128 < code < 128 + signal.NSIG:
            code = -(code - 128)  # bwrap's init reports a signal death as 128 + the signal
        if self.stop_reason == "timed_out":
            return Outcome("timed_out", code, error=f"Timed out after {self.spec.timeout_seconds:g} seconds.")
        if self.stop_reason == "cancel":
            return Outcome("cancelled", code, error="Cancelled on request.")
        if self.stop_reason == "shutdown":
            return Outcome("lost", code, error="Stopped because its worker shut down before the run ended.")
        if code == 0:
            return Outcome("succeeded", 0)
        if code < 0:
            name = signal.Signals(-code).name
            return Outcome("failed", code, error=f"Killed by signal {name}{_SIGNAL_REASONS.get(name, '')}.")
        return Outcome("failed", code, error=f"Exited with code {code}.")

    def _stop(self, reason: str, grace: float) -> None:
        self.stop_reason = reason
        if self.pid_namespace:
            signal_namespace(self.pid_namespace, signal.SIGTERM)
        else:
            self._signal(signal.SIGTERM)
        self.kill_at = time.monotonic() + grace

    def _kill_escaped(self) -> None:
        """Kill the run's processes that left its group (setsid, daemons):
        they still carry the execution id in their environment. Only a
        fallback for STEWARD_SANDBOX=process: a PID namespace dies whole."""
        if self.pid_namespace:
            return
        execution_id = self.spec.identifiers.get("STEWARD_EXECUTION_ID")
        if execution_id:
            kill_orphans(None, execution_id, self.started_ticks)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def _take(self, stream: str, chunk: bytes) -> None:
        buffer = self.buffers[stream]
        buffer.extend(chunk)
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) >= MAX_LINE_BYTES:  # an endless line: cut it
                    self._add(stream, bytes(buffer[:MAX_LINE_BYTES]))
                    del buffer[:MAX_LINE_BYTES]
                    continue
                return
            self._add(stream, bytes(buffer[:newline]))
            del buffer[: newline + 1]

    def _finish_stream(self, stream: str) -> None:
        buffer = self.buffers[stream]
        if buffer:
            self._add(stream, bytes(buffer))
            buffer.clear()

    def _add(self, stream: str, raw: bytes) -> None:
        if self.truncated:
            return
        self.output_bytes += len(raw) + 1
        if self.output_bytes > self.spec.max_output_bytes:
            self.truncated = True
            self.note(f"[output truncated: more than {self.spec.max_output_bytes} bytes; the rest was discarded]")
            return
        text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r")
        self._append(stream, text)

    def note(self, text: str) -> None:
        self._append("steward", text)

    def _append(self, stream: str, text: str) -> None:
        self.n += 1
        self.pending.append(Line(self.n, datetime.now(UTC), stream, text))

    def flush(self) -> None:
        if self.pending:
            self.sink.lines(self.pending)
            self.pending = []
