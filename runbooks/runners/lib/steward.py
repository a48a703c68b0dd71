"""Steward's helper for Python runbooks: `import steward` works in every
Python runbook, nothing to install. It reads what the run was given and
writes what the run returns, through exactly the files and variables every
runbook gets (the contract's "what a runbook sees"), so a runbook that does
not use it can do the same by hand.

    import steward

    host = steward.param("host")          # a parameter (STEWARD_PARAMS)
    alert = steward.event()               # the triggering event ({} for a manual run)
    steward.step("Restarting nginx")      # a progress line: shown as a step
    steward.set_result({"restarted": host})  # the run's result (STEWARD_RESULT)

Standard library only: it runs on the runbook's interpreter, with or
without requirements.
"""

import json
import os
import sys

__all__ = ["STEP_PREFIX", "event", "execution_id", "param", "params", "set_result", "step"]

# A stdout line starting with this is a progress step (the rest is its text).
STEP_PREFIX = "::step:: "
_MISSING = object()


def _read(variable: str) -> dict:
    path = os.environ.get(variable)
    if not path:
        raise RuntimeError(f"{variable} is not set: is this running as a Steward runbook?")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def params() -> dict:
    """Every parameter, typed as the runbook declares them."""
    return _read("STEWARD_PARAMS")


def param(name: str, default=_MISSING):
    """One parameter; KeyError when it is missing and no default is given."""
    values = params()
    if name in values:
        return values[name]
    if default is _MISSING:
        raise KeyError(f"no parameter {name!r} (the run has: {', '.join(sorted(values)) or 'none'})")
    return default


def event() -> dict:
    """The event that started the run, `{}` when a person or a schedule did."""
    return _read("STEWARD_EVENT")


def execution_id() -> str:
    return os.environ.get("STEWARD_EXECUTION_ID", "")


def set_result(value) -> None:
    """The run's `result`: any JSON value, written whole (a later call replaces it)."""
    path = os.environ.get("STEWARD_RESULT")
    if not path:
        raise RuntimeError("STEWARD_RESULT is not set: is this running as a Steward runbook?")
    data = json.dumps(value)
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def step(text: str) -> None:
    """A progress line: one line of stdout the execution page shows as a step."""
    line = " ".join(str(text).split())  # one line, whatever it was given
    sys.stdout.write(f"{STEP_PREFIX}{line}\n")
    sys.stdout.flush()
