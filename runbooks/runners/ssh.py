"""Run one shell script on several machines over SSH (the `ssh` kind).

Like `process`, this module knows nothing about the database: plain values
in (`SshSpec`, one `Host` per target), an `Outcome` and one `HostOutcome` per
target out, and the caller's `Sink` for the lines and the stop flags.

asyncssh runs on an event loop in a thread of its own; the calling thread
only drains the lines it produces and checks in with the sink, so the sink
(Django's ORM) is only ever used from the caller's thread.

What the remote side gets: the contract's environment is written into a
preamble the remote shell reads from stdin (servers refuse `SendEnv` by
default); the parameters, the event and the script go into a private
temporary folder, removed at the end; the script runs with stdin from
/dev/null. sshd makes the remote shell a session and process-group leader,
so its pid is the group a cancel or a timeout kills, over a second channel
of the same connection (closing a channel without a PTY signals nothing).
"""

import asyncio
import contextlib
import json
import queue
import secrets as random
import shlex
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncssh

from runbooks.runners.masking import Masker
from runbooks.runners.process import Line, Outcome, Sink, param_env_name, param_env_value

CHECK_IN_SECONDS = 0.25
CONNECT_TIMEOUT_SECONDS = 10.0
KILL_GRACE_SECONDS = 2.0
DEFAULT_MAX_PARALLEL = 10
POLICIES = ("continue", "stop_on_first_failure")
_PGID_MARK = "__steward_pgid__"


@dataclass
class Host:
    name: str
    address: str
    port: int
    user: str
    host_key: str  # the pinned public key, OpenSSH format ("ssh-ed25519 AAAA…")
    client_key: str  # the private key (PEM or OpenSSH), from a secret
    passphrase: str | None = None
    # Set when the target could not even be prepared (an unknown name, a
    # missing credential): it fails with this reason and is never contacted.
    refused: str = ""


@dataclass
class SshSpec:
    script: str
    parameters: dict
    event: dict
    timeout_seconds: float  # per target
    hosts: list[Host]
    identifiers: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    max_parallel: int = DEFAULT_MAX_PARALLEL
    policy: str = "continue"
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    max_output_bytes: int = 10 * 1024 * 1024


@dataclass
class HostOutcome:
    name: str
    status: str = "skipped"  # succeeded, failed, timed_out, cancelled, skipped
    exit_code: int | None = None
    error: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    client_key_fingerprint: str = ""
    host_key_fingerprint: str = ""

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return round((self.finished_at - self.started_at).total_seconds(), 3)
        return None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "exit_code": self.exit_code,
            "error": self.error,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_seconds": self.duration_seconds,
        }


def fingerprint(public_key: str) -> str:
    return asyncssh.import_public_key(public_key).get_fingerprint()


async def fetch_host_key(address: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> str:
    """The host key a server presents, to be shown for confirmation before
    it is pinned (never trusted on its own: whoever sits in between answers
    this call too)."""
    key = await asyncio.wait_for(asyncssh.get_server_host_key(address, port), timeout)
    if key is None:
        raise OSError(f"{address}:{port} presented no host key")
    return key.export_public_key().decode().strip()


def _heredoc(path_var: str, text: str) -> str:
    end = f"__STEWARD_EOF_{random.token_hex(8)}__"
    return f"cat > \"${path_var}\" <<'{end}'\n{text}\n{end}\n"


def preamble(spec: SshSpec, host: Host) -> str:
    """The program the remote shell reads from stdin: the environment of
    "What a runbook sees", the files it names, then the script itself."""
    env = {
        "LANG": "C.UTF-8",
        **spec.identifiers,
        "STEWARD_TARGET": host.name,
        **{param_env_name(k): param_env_value(v) for k, v in spec.parameters.items()},
        **spec.secrets,
    }
    lines = [
        "set -u",
        "umask 077",
        "STEWARD_DIR=$(mktemp -d) || exit 125",
        "trap 'rm -rf \"$STEWARD_DIR\"' EXIT",
        'export STEWARD_PARAMS="$STEWARD_DIR/params.json" STEWARD_EVENT="$STEWARD_DIR/event.json"',
        'export STEWARD_RESULT="$STEWARD_DIR/result.json"',
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    text = "\n".join(lines) + "\n"
    text += _heredoc("STEWARD_PARAMS", json.dumps(spec.parameters))
    text += _heredoc("STEWARD_EVENT", json.dumps(spec.event))
    text += 'STEWARD_SCRIPT="$STEWARD_DIR/runbook.sh"\n' + _heredoc("STEWARD_SCRIPT", spec.script)
    # Not `exec`: the trap must still remove the folder afterwards.
    text += 'cd "$STEWARD_DIR" && bash "$STEWARD_SCRIPT" </dev/null\nexit $?\n'
    return text


# The login shell runs this; the first line it prints is the group to kill.
REMOTE_COMMAND = f"echo {_PGID_MARK} $$; exec bash -s"


class _Run:
    """One SSH run across its hosts, on the event loop's thread."""

    def __init__(self, spec: SshSpec, lines: queue.Queue, masker: Masker):
        self.spec = spec
        self.lines = lines
        self.masker = masker
        self.outcomes = [HostOutcome(h.name) for h in spec.hosts]
        self.stopping = ""  # "cancel", "shutdown" or "" (set from the caller's thread)
        self.failed_once = False
        self.output_bytes = 0

    def emit(self, host: Host, stream: str, text: str) -> None:
        self.output_bytes += len(text)
        if self.output_bytes > self.spec.max_output_bytes:
            return
        self.lines.put((datetime.now(UTC), stream, f"[{host.name}] {self.masker.text(text)}"))

    async def all(self) -> None:
        gate = asyncio.Semaphore(max(1, self.spec.max_parallel))
        self.tasks = [
            asyncio.ensure_future(self.one(gate, host, outcome))
            for host, outcome in zip(self.spec.hosts, self.outcomes, strict=True)
        ]
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def one(self, gate, host: Host, outcome: HostOutcome) -> None:
        async with gate:
            if self.stopping:
                outcome.status, outcome.error = "cancelled", "Cancelled before it started."
                return
            if self.failed_once and self.spec.policy == "stop_on_first_failure":
                outcome.error = "Not started: another target failed (stop_on_first_failure)."
                return
            outcome.started_at = datetime.now(UTC)
            try:
                if host.refused:
                    raise _TargetFailed(host.refused)
                await self.connect_and_run(host, outcome)
            except _TargetFailed as exc:
                outcome.status, outcome.error = "failed", str(exc)
            except Exception as exc:  # one target's fault never stops the others
                outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
            outcome.finished_at = datetime.now(UTC)
            outcome.error = self.masker.text(outcome.error)
            if outcome.error:
                self.emit(host, "steward", outcome.error)
            if outcome.status != "succeeded":
                self.failed_once = True

    async def connect_and_run(self, host: Host, outcome: HostOutcome) -> None:
        try:
            pinned = asyncssh.import_public_key(host.host_key)
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise _TargetFailed(f"The target's pinned host key cannot be read ({exc}).") from None
        try:
            client_key = asyncssh.import_private_key(host.client_key, host.passphrase)
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError) as exc:
            raise _TargetFailed(f"The target's credential is not a usable SSH private key ({exc}).") from None
        outcome.client_key_fingerprint = client_key.get_fingerprint()
        outcome.host_key_fingerprint = pinned.get_fingerprint()
        try:
            conn = await asyncssh.connect(
                host.address,
                host.port,
                username=host.user,
                # Only the pinned key, never ~/.ssh/known_hosts; no agent, no
                # ~/.ssh/config, no default keys: nothing of the worker's home.
                known_hosts=([pinned], [], []),
                client_keys=[client_key],
                agent_path=None,
                config=(),
                preferred_auth="publickey",
                password=None,
                connect_timeout=self.spec.connect_timeout,
                keepalive_interval=15,
            )
        except asyncssh.HostKeyNotVerifiable:
            raise _TargetFailed(
                f"Refused: {host.address}:{host.port} presented a host key other than the one pinned for "
                f"{host.name} ({outcome.host_key_fingerprint}). If the machine was rebuilt, pin its new key."
            ) from None
        except asyncssh.PermissionDenied:
            raise _TargetFailed(
                f"Authentication failed for {host.user}@{host.address}:{host.port} with the key "
                f"{outcome.client_key_fingerprint}."
            ) from None
        except (OSError, TimeoutError, asyncssh.Error) as exc:
            reason = str(exc) or type(exc).__name__
            raise _TargetFailed(f"Cannot reach {host.address}:{host.port}: {reason}.") from None
        async with conn:
            await self.execute(conn, host, outcome)

    async def execute(self, conn, host: Host, outcome: HostOutcome) -> None:
        process = await conn.create_process(REMOTE_COMMAND, encoding="utf-8", errors="replace")
        pgid: list[int] = []
        process.stdin.write(preamble(self.spec, host))
        process.stdin.write_eof()

        async def pump(reader, stream):
            async for raw in reader:
                if not raw:  # asyncssh's reader ends with an empty read, not a line
                    continue
                text = raw.rstrip("\n")
                if not pgid and stream == "stdout" and text.startswith(_PGID_MARK):
                    pgid.append(int(text.split()[1]))
                    continue
                self.emit(host, stream, text)

        pumps = asyncio.gather(pump(process.stdout, "stdout"), pump(process.stderr, "stderr"))
        deadline = time.monotonic() + self.spec.timeout_seconds
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(pumps), CHECK_IN_SECONDS)
                break
            except TimeoutError:
                pass
            why = self.stopping or ("timeout" if time.monotonic() > deadline else "")
            if why:
                await self.kill(conn, pgid)
                process.close()
                pumps.cancel()
                outcome.status = "timed_out" if why == "timeout" else "cancelled"
                outcome.error = {
                    "timeout": f"Timed out after {self.spec.timeout_seconds:g}s; the remote process group was killed.",
                    "cancel": "Cancelled; the remote process group was killed.",
                }.get(why, "The worker shut down; the remote process group was killed.")
                return
        result = await process.wait()
        outcome.exit_code = result.exit_status
        if result.exit_status == 0:
            outcome.status = "succeeded"
        else:
            outcome.status = "failed"
            if result.exit_status is None:
                outcome.error = f"The remote process ended on signal {result.exit_signal}."

    async def kill(self, conn, pgid: list[int]) -> None:
        """TERM, a grace, then KILL to the whole remote group, over a new channel."""
        if not pgid:
            return
        group = pgid[0]
        command = (
            f"kill -TERM -- -{group} 2>/dev/null; for i in $(seq 20); do "
            f"kill -0 -- -{group} 2>/dev/null || exit 0; sleep {KILL_GRACE_SECONDS / 20:g}; done; "
            f"kill -KILL -- -{group} 2>/dev/null; exit 0"
        )
        with contextlib.suppress(OSError, TimeoutError, asyncssh.Error):  # the connection may be gone already
            await asyncio.wait_for(conn.run(command, check=False), KILL_GRACE_SECONDS + 5)


class _TargetFailed(Exception):
    pass


def derived_status(outcomes: list[HostOutcome]) -> str:
    """succeeded only when every target succeeded."""
    statuses = {o.status for o in outcomes}
    if not outcomes:
        return "failed"
    if statuses == {"succeeded"}:
        return "succeeded"
    if "cancelled" in statuses:
        return "cancelled"
    if statuses <= {"succeeded", "timed_out"}:
        return "timed_out"
    return "failed"


def run(spec: SshSpec, sink: Sink) -> tuple[Outcome, list[HostOutcome]]:
    if not spec.hosts:
        return Outcome("failed", error="No target was selected: nothing ran."), []
    keys = [value for h in spec.hosts for value in (h.client_key, h.passphrase or "")]
    masker = Masker([*spec.secrets.values(), *keys])
    lines: queue.Queue = queue.Queue()
    ssh_run = _Run(spec, lines, masker)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(ssh_run.all(),), name="ssh-run", daemon=True)
    thread.start()
    n = 0

    def drain():
        nonlocal n
        batch = []
        while True:
            try:
                t, stream, text = lines.get_nowait()
            except queue.Empty:
                break
            n += 1
            batch.append(Line(n, t, stream, text))
        if batch:
            sink.lines(batch)

    try:
        while thread.is_alive():
            thread.join(CHECK_IN_SECONDS)
            drain()
            if not ssh_run.stopping:
                stop = sink.check_in()
                if stop:
                    loop.call_soon_threadsafe(setattr, ssh_run, "stopping", stop)
        drain()
    finally:
        thread.join()
        loop.close()
    outcomes = ssh_run.outcomes
    status = derived_status(outcomes)
    if ssh_run.stopping == "shutdown" and status == "cancelled":
        status = "lost"
    failing = [o for o in outcomes if o.status != "succeeded"]
    exit_code = 0 if not failing else next((o.exit_code for o in failing if o.exit_code), None)
    error = "; ".join(f"{o.name}: {o.status}" + (f" ({o.error})" if o.error else "") for o in failing)
    result = {"targets": [o.as_dict() for o in outcomes]}
    return Outcome(status, exit_code=exit_code, result=result, error=error), outcomes
