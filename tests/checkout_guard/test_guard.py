"""The checkout guard catches a read beside the checkout, in the test
process, in a process the tests start, and fails the pytest run that did it.
The path read need not exist: the guard sees the attempt."""

import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap

from tests.checkout_guard import sitecustomize as hook
from tests.checkout_guard.plugin import CHECKOUT, WATCH
from tests.conftest import child_env

BESIDE_FILE = CHECKOUT.parent / "beside-the-checkout" / "fixtures" / "firing-one-alert.json"


def paths(seen):
    return [s["path"] for s in seen]


def test_a_read_of_a_folder_beside_the_checkout_is_caught():
    with WATCH.expecting() as seen:
        with contextlib.suppress(OSError):  # caught whether or not it exists here
            BESIDE_FILE.read_text()
        with contextlib.suppress(OSError):
            os.listdir(CHECKOUT / ".." / "beside-the-checkout")
    assert paths(seen) == [str(BESIDE_FILE), str(CHECKOUT.parent / "beside-the-checkout")]
    assert seen[0]["where"].startswith("tests/checkout_guard/test_guard.py:")


def test_reads_inside_the_checkout_and_of_the_interpreter_are_not():
    with WATCH.expecting() as seen:
        (CHECKOUT / "tests" / "fixtures" / "alertmanager" / "firing-one-alert.json").read_text()
        os.listdir(CHECKOUT)
        open(os.__file__).close()  # the standard library, wherever the interpreter lives
    assert seen == []


def test_a_process_the_tests_start_is_watched_too():
    """Workers and gunicorn get child_env(): the same environment as here."""
    reader = f"open({str(os.path.relpath(BESIDE_FILE, CHECKOUT))!r})"
    with WATCH.expecting() as seen:
        subprocess.run([sys.executable, "-c", reader], cwd=CHECKOUT, env=child_env(), capture_output=True, timeout=60)
    assert paths(seen) == [str(BESIDE_FILE)]
    assert seen[0]["pid"] != os.getpid() and "-c" in seen[0]["process"]


def test_a_pytest_run_that_reads_beside_the_checkout_fails_naming_the_path_and_the_test(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_reads.py").write_text(
        textwrap.dedent(f"""
        import contextlib, os, subprocess, sys

        with contextlib.suppress(OSError):  # at collection, outside any test
            os.listdir({str(CHECKOUT.parent)!r} + "/beside-the-checkout")

        def test_loads_a_shared_fixture():
            try:
                open({str(BESIDE_FILE)!r})
            except OSError:
                pass

        def test_starts_a_worker_that_lists_the_shared_folder():
            subprocess.run([sys.executable, "-c", "import os; os.listdir({str(BESIDE_FILE.parent)!r})"])

        def test_stays_inside():
            open({str(CHECKOUT / "README.md")!r}).close()
        """)
    )
    # A run of its own, not a child of this one: without this run's guard settings.
    env = {k: v for k, v in os.environ.items() if k not in (hook.CHECKOUT_VAR, hook.LOG_VAR, "PYTHONPATH")}
    command = [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)]
    command += ["-p", "tests.checkout_guard.plugin", "-p", "no:cacheprovider", "-p", "no:django", str(tmp_path)]
    result = subprocess.run(command, cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "2 errors" in result.stdout and "3 passed" in result.stdout, result.stdout
    out = result.stdout
    assert f"test_reads.py::test_loads_a_shared_fixture touched 1 path(s) outside the checkout {CHECKOUT}" in out
    assert f"open {BESIDE_FILE}  from " in result.stdout
    assert "test_starts_a_worker_that_lists_the_shared_folder touched 1 path(s)" in result.stdout
    assert f"os.listdir {BESIDE_FILE.parent}  from ? in process " in result.stdout
    assert "test_stays_inside touched" not in result.stdout
    summary = out[out.index("checkout guard") :]
    assert "Outside any test (collection or session set-up/teardown), this run touched 1 path(s)" in summary
    assert f"os.listdir {BESIDE_FILE.parent.parent}  from ? in the test process" in summary


def test_a_venv_or_a_cache_beside_the_checkout_is_not_a_read_outside_it():
    beside_the_interpreter = hook.Guard(os.path.join(os.path.dirname(sys.prefix), "steward"))
    assert not beside_the_interpreter.outside(os.path.join(sys.prefix, "lib", "site.py"))
    assert not beside_the_interpreter.outside(os.path.join(os.path.dirname(sys.prefix), ".cache", "pip", "x"))
    assert beside_the_interpreter.outside(os.path.join(os.path.dirname(sys.prefix), "shared", "fixtures", "x.json"))


def test_a_clone_in_the_temp_folder_guards_what_was_beside_it_when_the_run_started():
    temp = os.path.realpath(tempfile.gettempdir())
    guard = hook.Guard(os.path.join(temp, "steward"), siblings=["shared"])
    assert guard.outside(os.path.join(temp, "shared", "fixtures", "x.json"))
    assert guard.outside(os.path.join(temp, "steward", "..", "shared"))
    assert not guard.outside(os.path.join(temp, "pytest-of-root", "test_x0", "web.log"))  # the run's own
    assert not guard.outside(os.path.join(temp, "steward", "tests", "fixtures", "x.json"))
