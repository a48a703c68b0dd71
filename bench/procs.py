"""The processes a bench run starts, and the promise to stop every one of
them: each runs in its own session, and `Stack.close()` (called from a
`finally`, also on Ctrl-C and SIGTERM) sends its group TERM, then KILL."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, proc: "Process | None" = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}" + (f":\n{proc.tail()}" if proc else ""))


class Process:
    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (open for the process's whole life)
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, size: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-size:].decode(errors="replace")

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # Whatever is left of the group (a pool child, a runbook) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log.close()


class Stack:
    """Everything started, stopped in reverse order."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[Process] = []

    def start(self, name: str, argv: list[str], env: dict) -> Process:
        process = Process(name, argv, env, self.log_dir)
        self.processes.append(process)
        return process

    def stop(self, process: Process) -> None:
        process.stop()
        self.processes.remove(process)

    def close(self) -> None:
        while self.processes:
            self.processes.pop().stop()


def term_as_interrupt() -> None:
    """SIGTERM and SIGINT unwind like Ctrl-C, so the `finally` that stops the
    stack runs (SIGINT too: a shell starts background jobs with it ignored)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


PYTHON = sys.executable
