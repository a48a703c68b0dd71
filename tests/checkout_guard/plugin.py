"""The pytest side of the checkout guard (the hook is ./sitecustomize.py).

Loaded with `-p tests.checkout_guard.plugin` (pytest.ini), before Django
is set up, so the settings and every import are watched too. It installs the
hook in this process, and puts ./ on PYTHONPATH with the checkout and a log
file in the environment, so the processes the tests start (workers,
gunicorn, the fuzzer) install it too and append what they see to the log.

After each test, whatever this process or a child touched beside the
checkout fails that test at teardown, naming the path, the event, the code
that asked and the process. Anything seen outside a test (collection,
session teardown) fails the run in its summary.
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.checkout_guard import sitecustomize as hook

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent


class Watch:
    """This run's guard: its hook, the children's log, what is not yet reported."""

    def __init__(self):
        siblings = None
        if os.path.realpath(tempfile.gettempdir()) == str(CHECKOUT.parent):
            siblings = sorted(os.listdir(CHECKOUT.parent))  # see hook.Guard.__init__
        self.dir = tempfile.mkdtemp(prefix="steward-guard-")
        self.log = os.path.join(self.dir, "children.jsonl")
        self.offset = 0
        self.pending: list[dict] = []
        self.guard = hook.install(hook.Guard(str(CHECKOUT), siblings))
        os.environ[hook.CHECKOUT_VAR] = str(CHECKOUT)
        os.environ[hook.LOG_VAR] = self.log
        if siblings is not None:
            os.environ[hook.SIBLINGS_VAR] = json.dumps(siblings)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)

    def take(self) -> list[dict]:
        """Everything seen since the last take, by this process and its children."""
        seen, self.pending = self.pending, []
        seen += self.guard.seen
        self.guard.seen = []  # a new list: the hook appends to whichever it finds
        with contextlib.suppress(FileNotFoundError), open(self.log, "rb") as log:
            log.seek(self.offset)
            data = log.read()
            whole = data.rfind(b"\n") + 1  # a child may be halfway through a line
            self.offset += whole
            seen += [json.loads(line) for line in data[:whole].splitlines()]
        return seen

    @contextlib.contextmanager
    def expecting(self):
        """For the guard's own tests: what is touched inside the block is
        handed to the test instead of failing it."""
        before = self.take()
        caught: list[dict] = []
        try:
            yield caught
        finally:
            caught += self.take()
            self.pending = before


WATCH = Watch()


def describe(seen: list[dict]) -> str:
    lines, done = [], set()
    for s in seen:
        who = f"process {s['pid']} ({s['process']})" if "process" in s else "the test process"
        line = f"  {s['event']} {s['path']}  from {s['where']} in {who}"
        if line not in done:
            done.add(line)
            lines.append(line)
    return (
        f"touched {len(lines)} path(s) outside the checkout {CHECKOUT} "
        "(a fresh clone has nothing beside it; keep what the tests need in the repository):\n" + "\n".join(lines)
    )


def pytest_report_header(config):
    return f"checkout guard: any read beside {CHECKOUT} (in {CHECKOUT.parent}) fails the run"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "teardown":
        seen = WATCH.take()
        if seen:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid} {describe(seen)}"
    return report


_outside_tests: list[dict] = []


def pytest_collection_finish(session):
    _outside_tests.extend(WATCH.take())


def pytest_sessionfinish(session, exitstatus):
    _outside_tests.extend(WATCH.take())
    if _outside_tests and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _outside_tests:
        terminalreporter.section("checkout guard", red=True)
        where = "Outside any test (collection or session set-up/teardown), this run "
        terminalreporter.line(where + describe(_outside_tests))


def pytest_unconfigure(config):
    shutil.rmtree(WATCH.dir, ignore_errors=True)
