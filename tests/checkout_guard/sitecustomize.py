"""The checkout guard: notes every file a test process opens, lists or
changes beside the checkout (in its parent folder) instead of inside it.

A fresh clone has nothing beside it, so a test or code path that reads a
folder next to the checkout passes on a machine that has one and fails on a
user's. CI has such folders next to its clone, which hid the bug; this makes
it loud instead.

Two ways in, one hook:
- the pytest process installs it from tests/checkout_guard/plugin.py, and
- every Python process the tests start (Celery workers, gunicorn, the
  fuzzer) imports this file as `sitecustomize`: the plugin puts this folder
  on PYTHONPATH and names the checkout and a log file in the environment.
  A runbook gets a scrubbed environment, so the guard stops at the runner.

Stdlib only, and cheap: an audit hook runs on every audited event of the
process (every open, import and compile), so it returns at once for what it
does not watch and does string work only for paths beside the checkout.
"""

import json
import os
import sys
import tempfile

CHECKOUT_VAR = "STEWARD_CHECKOUT_GUARD"  # the checkout's absolute path
LOG_VAR = "STEWARD_CHECKOUT_GUARD_LOG"  # where child processes append what they saw
SIBLINGS_VAR = "STEWARD_CHECKOUT_GUARD_SIBLINGS"  # see Guard.__init__

# What reads or changes a file system entry. Path.exists() and os.stat are
# not audited by Python, so a mere look is not caught; reading what it found is.
WATCHED = frozenset({"open", "os.listdir", "os.scandir", "os.chdir", "os.mkdir", "os.remove", "os.rename"})


class Guard:
    """Which paths are beside the checkout, and what was seen of them."""

    def __init__(self, checkout: str, siblings: list[str] | None = None):
        self.checkout = os.path.normpath(checkout)
        self.parent = os.path.dirname(self.checkout)
        self.inside = self.checkout + os.sep
        self.beside = self.parent.rstrip(os.sep) + os.sep
        # The interpreter and its packages may live beside the checkout (a
        # venv next to the clone); hidden entries are per-user caches and
        # configuration (~/.cache when the clone sits in $HOME), never a
        # project's data; the temp folder holds the run's own files.
        allowed = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        allowed |= {os.path.realpath(p) for p in allowed}
        temp = os.path.realpath(tempfile.gettempdir())
        if temp != self.parent:
            allowed.add(temp)
        self.allowed = tuple(sorted(p.rstrip(os.sep) + os.sep for p in allowed if p))
        # A clone made in the temp folder itself: the temp folder is then
        # the parent, and the run's own temporary files sit beside the
        # checkout. Only what was there when the run started is guarded then
        # (the pytest process lists it once; its children get the names).
        self.siblings = frozenset(siblings) if siblings is not None else None
        self.seen: list[dict] = []

    def outside(self, path: str) -> bool:
        """True for a path beside the checkout that the run has no business with."""
        if "/." not in path and (path.startswith(self.inside) or not path.startswith(self.beside)):
            return False  # the common cases, without normpath
        path = os.path.normpath(path)
        if path == self.checkout or path.startswith(self.inside) or not path.startswith(self.beside):
            return False
        if path.startswith(self.allowed):
            return False
        name = path[len(self.beside) :].split(os.sep, 1)[0]
        if name.startswith("."):
            return False
        return self.siblings is None or name in self.siblings

    def where(self) -> str:
        """The innermost frame in the checkout (not this file): who asked."""
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(self.inside) and name != __file__ and "/.venv/" not in name:
                return f"{name[len(self.inside) :]}:{frame.f_lineno}"
            frame = frame.f_back
        return "?"


_guard: Guard | None = None
_log: str | None = None
_busy = False


def _hook(event: str, args: tuple) -> None:
    if event not in WATCHED:
        return
    global _busy
    if _busy:
        return
    path = args[0]
    if event == "open" and isinstance(args[2], int) and args[2] & getattr(os, "O_PATH", 0):
        return  # an O_PATH descriptor reads nothing (the sandbox's Landlock rules take one per sibling)
    if not isinstance(path, str):
        if isinstance(path, int) or path is None:
            return  # a descriptor: its path was checked when it was opened
        try:
            path = os.fsdecode(os.fspath(path))
        except TypeError:
            return
    if not path.startswith(os.sep):
        path = os.path.join(os.getcwd(), path)
    if not _guard.outside(path):
        return
    _busy = True
    try:
        seen = {"event": event, "path": os.path.normpath(path), "where": _guard.where(), "pid": os.getpid()}
        if _log is None:
            _guard.seen.append(seen)
        else:
            seen["process"] = " ".join(sys.argv)[:200]
            fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(seen) + "\n").encode())
            finally:
                os.close(fd)
    finally:
        _busy = False


def install(guard: Guard, log: str | None = None) -> Guard:
    """Start watching this process (once: an audit hook cannot be removed)."""
    global _guard, _log
    if _guard is None:
        _guard, _log = guard, log
        sys.addaudithook(_hook)
    return _guard


def installed() -> Guard | None:
    return _guard


if __name__ == "sitecustomize" and os.environ.get(CHECKOUT_VAR) and os.environ.get(LOG_VAR):
    _siblings = os.environ.get(SIBLINGS_VAR)
    install(Guard(os.environ[CHECKOUT_VAR], json.loads(_siblings) if _siblings else None), os.environ[LOG_VAR])
