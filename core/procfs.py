"""Keep a Steward process's environment (DATABASE_URL, the broker's and the
cache's passwords, SECRET_KEY, STEWARD_ENCRYPTION_KEY) away from other
processes of the same user.

A runbook runs as the worker's own user wherever the worker is not root
(`make run`, a developer's worker) and, without a PID namespace, sees the
worker, the web server and their parent in /proc: /proc/<pid>/environ of a
process of its own user is readable to it, and holds every credential that
the scrubbed environment of the runbook left out. A process that is not
"dumpable" (prctl PR_SET_DUMPABLE 0) has its /proc files owned by root and
refused to everyone but root. The flag survives fork (the worker's pool,
gunicorn's workers) and is reset by execve, so a runbook the worker starts
is dumpable again, and the worker still reads its /proc entries. It also
means no core dumps, which would hold the same credentials.
"""

import ctypes
import sys

PR_SET_DUMPABLE = 4


def keep_environment_private() -> bool:
    """Make this process non-dumpable; False where the kernel has no prctl."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
