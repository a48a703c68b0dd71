"""Run one runbook as a supervised subprocess, as the contract's "What a
runbook sees" says: a fresh temp dir, a scrubbed environment, parameter and
event files, a result file, its own session and process group, a timeout that
kills the whole group, and output read line by line while it runs. Resource
limits and the hiding of Steward's own files are in `sandbox`; secret values
are masked (`masking`) before any line, result or error leaves this module.

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
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from runbooks.runners import KINDS, sandbox
from runbooks.runners.masking import Masker

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_LINE_BYTES = 64 * 1024
MAX_RESULT_BYTES = 1024 * 1024


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
    # Run as this user (the worker must be root to switch); None: as the worker.
    run_as: str | None = None
    # Declared secrets, name → value: environment variables, masked in output.
    secrets: dict[str, str] = field(default_factory=dict)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    # Folders the runbook may not open (Steward's checkout, var/), where the kernel has Landlock.
    hidden_paths: list[str] = field(default_factory=list)


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


def _run(spec: RunSpec, sink: Sink) -> Outcome:
    runner = KINDS[spec.kind]
    identity = {}
    if spec.run_as:
        try:
            account = pwd.getpwnam(spec.run_as)
        except KeyError:
            return Outcome("failed", error=f"The runbook user {spec.run_as!r} does not exist on this worker.")
        identity = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    workdir = tempfile.mkdtemp(prefix="steward-run-")
    try:
        env = build_environment(spec, workdir)
        _write_json(env["STEWARD_PARAMS"], spec.parameters)
        _write_json(env["STEWARD_EVENT"], spec.event)
        script_path = os.path.join(workdir, runner.FILENAME)
        with open(script_path, "w", encoding="utf-8") as f:
            f.write(spec.script)
        if identity:
            for path in (workdir, env["STEWARD_PARAMS"], env["STEWARD_EVENT"], script_path):
                os.chown(path, identity["user"], identity["group"])
        try:
            ruleset = sandbox.landlock_ruleset(spec.hidden_paths, also_allow=[workdir])
        except OSError as exc:
            return Outcome("failed", error=f"The runbook's sandbox could not be set up: {exc}")
        try:
            proc = subprocess.Popen(
                runner.command(script_path, as_other_user=bool(identity)),
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own session and process group
                close_fds=True,
                # After the switch of user: limits, no new privileges, Landlock.
                preexec_fn=sandbox.child_setup(_limits_for(spec), ruleset),
                **identity,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return Outcome("failed", error=f"The runbook could not be started: {getattr(exc, 'strerror', None) or exc}")
        finally:
            if ruleset is not None:
                os.close(ruleset)
        sink.started(proc.pid)
        supervisor = _Supervisor(proc, spec, sink)
        outcome = supervisor.supervise()
        outcome.result, warning = _read_result(env["STEWARD_RESULT"])
        if warning:
            supervisor.note(warning)
            supervisor.flush()
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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


def _write_json(path: str, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


def _read_result(path: str) -> tuple[object, str]:
    """The runbook's JSON result, or None with a warning; never a failure."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return None, ""
    if size > MAX_RESULT_BYTES:
        return None, f"warning: result file is {size} bytes, over the {MAX_RESULT_BYTES} byte limit; ignored"
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f), ""
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"warning: result file is not valid JSON ({exc}); ignored"


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

    def __init__(self, proc: subprocess.Popen, spec: RunSpec, sink: Sink):
        self.proc, self.spec, self.sink = proc, spec, sink
        self.pgid = proc.pid
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
        self._signal(signal.SIGTERM)
        self.kill_at = time.monotonic() + grace

    def _kill_escaped(self) -> None:
        """Kill the run's processes that left its group (setsid, daemons):
        they still carry the execution id in their environment."""
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
