"""Python runbooks: a real interpreter path, never a `python3` shim on PATH
(a pyenv shim costs ~60 ms per start). `-u` so output streams line by line.

When the runbook runs as another user (the worker is root), the worker's own
interpreter may sit in a folder that user cannot read (a venv under /root),
so a world-readable system interpreter is used instead. Otherwise it is the
interpreter the worker's venv was made from, not the venv itself: the venv
lives in Steward's checkout, which the sandbox hides from runbooks, and its
packages are Steward's, not the runbook's.
"""

import os
import sys

FILENAME = "runbook.py"
SYSTEM_INTERPRETERS = ("/usr/bin/python3", "/usr/local/bin/python3")


def interpreter(as_other_user: bool) -> str:
    if as_other_user:
        for path in SYSTEM_INTERPRETERS:
            if os.access(path, os.X_OK) and os.stat(os.path.realpath(path)).st_mode & 0o005 == 0o005:
                return path
    return getattr(sys, "_base_executable", None) or sys.executable


def command(script_path: str, as_other_user: bool = False) -> list[str]:
    return [interpreter(as_other_user), "-u", script_path]
