"""The runner on real subprocesses: what a runbook sees, and how it ends."""

import json
import os
import pwd
import time
import uuid

import pytest

from runbooks.runners import namespaces
from runbooks.runners.process import RunSpec, param_env_name, run
from tests.conftest import wait_for
from tests.processes import processes_running
from tests.services import require


@pytest.fixture(scope="module", autouse=True)
def _namespaces_available():
    """Every run here goes through the real sandbox: without bubblewrap a
    local run skips, CI (STEWARD_REQUIRE_SERVICES=1) fails."""
    require(namespaces.bwrap_path() is not None, "bubblewrap (apt-get install bubblewrap)")


class ListSink:
    def __init__(self, cancel_after=None):
        self.collected = []
        self.batches = 0
        self.pid = None
        self.cancel_after = cancel_after
        self.started_at = time.monotonic()

    def started(self, pid):
        self.pid = pid

    def lines(self, lines):
        self.batches += 1
        self.collected.extend(lines)

    def check_in(self):
        if self.cancel_after is not None and time.monotonic() - self.started_at > self.cancel_after:
            return "cancel"
        return None

    def texts(self, stream=None):
        return [line.text for line in self.collected if stream is None or line.stream == stream]


def spec(script, kind="python", **fields):
    fields.setdefault("parameters", {})
    fields.setdefault("event", {})
    fields.setdefault("timeout_seconds", 10)
    return RunSpec(kind=kind, script=script, **fields)


def test_exit_zero_succeeds_and_lines_keep_order_and_stream():
    sink = ListSink()
    outcome = run(spec("import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')"), sink)
    assert outcome.status == "succeeded" and outcome.exit_code == 0
    assert sink.texts("stdout") == ["one", "three"]
    assert sink.texts("stderr") == ["two"]
    assert [line.n for line in sink.collected] == sorted(line.n for line in sink.collected)
    assert [line.n for line in sink.collected] == [1, 2, 3]


def test_nonzero_exit_fails_with_the_code():
    outcome = run(spec("exit 3", kind="shell"), ListSink())
    assert outcome.status == "failed" and outcome.exit_code == 3
    assert "code 3" in outcome.error


def test_environment_holds_only_what_the_contract_lists(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/steward")
    monkeypatch.setenv("SECRET_KEY", "django-secret")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://secret@broker")
    sink = ListSink()
    outcome = run(
        spec(
            "env",
            kind="shell",
            parameters={"host": "web-01", "retries": 3, "dry-run": True},
            identifiers={"STEWARD_EXECUTION_ID": "abc", "STEWARD_RUNBOOK": "rb", "STEWARD_RUNBOOK_VERSION": "2"},
        ),
        sink,
    )
    assert outcome.status == "succeeded"
    env = dict(line.split("=", 1) for line in sink.texts("stdout"))
    worker_only = ("DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL", "STEWARD_ENCRYPTION_KEY")
    worker_only += ("DJANGO_SETTINGS_MODULE",)
    for leaked in worker_only:
        assert leaked not in env
    assert env["PARAM_HOST"] == "web-01"
    assert env["PARAM_RETRIES"] == "3"
    assert env["PARAM_DRY_RUN"] == "true"
    assert env["STEWARD_EXECUTION_ID"] == "abc" and env["STEWARD_RUNBOOK_VERSION"] == "2"
    allowed = {
        "PATH",
        "HOME",
        "LANG",
        "PWD",
        "SHLVL",
        "_",
        "STEWARD_PARAMS",
        "STEWARD_EVENT",
        "STEWARD_RESULT",
        "STEWARD_EXECUTION_ID",
        "STEWARD_RUNBOOK",
        "STEWARD_RUNBOOK_VERSION",
        "PARAM_HOST",
        "PARAM_RETRIES",
        "PARAM_DRY_RUN",
    }
    assert set(env) <= allowed  # PWD, SHLVL and _ are bash's own


def test_parameter_and_event_files_and_result():
    script = """
import json, os
params = json.load(open(os.environ["STEWARD_PARAMS"]))
event = json.load(open(os.environ["STEWARD_EVENT"]))
json.dump({"host": params["host"], "alert": event["name"]}, open(os.environ["STEWARD_RESULT"], "w"))
"""
    outcome = run(spec(script, parameters={"host": "web-02"}, event={"name": "DiskFull"}), ListSink())
    assert outcome.status == "succeeded"
    assert outcome.result == {"host": "web-02", "alert": "DiskFull"}


def test_invalid_result_json_is_a_warning_not_a_failure():
    sink = ListSink()
    outcome = run(spec('open(__import__("os").environ["STEWARD_RESULT"], "w").write("{not json")'), sink)
    assert outcome.status == "succeeded" and outcome.result is None
    assert any("not valid JSON" in text for text in sink.texts("steward"))


def test_temp_dir_is_removed_and_is_the_working_directory():
    sink = ListSink()
    run(spec("import os; print(os.getcwd()); print(os.environ['HOME'])"), sink)
    cwd, home = sink.texts("stdout")
    assert cwd == home and os.path.basename(os.path.dirname(cwd)).startswith("steward-run-")
    assert not os.path.exists(cwd) and not os.path.exists(os.path.dirname(cwd))


def numeric_token() -> str:
    """A mark for `sleep 300.<token>` that sleep accepts (digits only)."""
    return str(uuid.uuid4().int % 10**12)


def seen(token: str) -> str:
    """A shell line printing how many of the run's processes carry `token`
    (the pattern's [.] keeps grep itself out of the count)."""
    return f"sleep 0.3; echo seen $(grep -l '[.]{token}' /proc/[0-9]*/cmdline 2>/dev/null | wc -l)\n"


def test_timeout_kills_the_whole_run_including_grandchildren_that_left_it():
    token = numeric_token()
    # A child in the background, and one double-forked into a session of its
    # own with an empty environment: the PID namespace ends both.
    script = f"sleep 300.{token} &\nsetsid -f env -i sleep 301.{token}\n{seen(token)}sleep 300\n"
    sink = ListSink()
    started = time.monotonic()
    outcome = run(spec(script, kind="shell", timeout_seconds=1.5, kill_grace_seconds=1), sink)
    elapsed = time.monotonic() - started
    assert outcome.status == "timed_out"
    assert sink.texts("stdout") == ["seen 2"]  # both children ran
    assert elapsed < 4
    wait_for(lambda: processes_running(token) == [], timeout=3, what="no process of the run left")


def test_a_runbook_ignoring_sigterm_is_killed_after_the_grace():
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('stubborn')\ntime.sleep(60)"
    started = time.monotonic()
    outcome = run(spec(script, timeout_seconds=0.5, kill_grace_seconds=0.5), ListSink())
    assert outcome.status == "timed_out"
    assert time.monotonic() - started < 3


def test_cancel_stops_the_run_within_a_second_or_two():
    sink = ListSink(cancel_after=0.3)
    started = time.monotonic()
    outcome = run(spec("echo working; sleep 60", kind="shell"), sink)
    assert outcome.status == "cancelled"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("sandbox", ["namespaces", "process"])
def test_background_children_do_not_outlive_the_run(sandbox):
    token = numeric_token()
    script = f"(sleep 300.{token} >/dev/null 2>&1 &)\n{seen(token)}"
    identifiers = {"STEWARD_EXECUTION_ID": token}
    sink = ListSink()
    outcome = run(spec(script, kind="shell", sandbox=sandbox, identifiers=identifiers), sink)
    assert outcome.status == "succeeded"
    assert sink.texts("stdout") == ["seen 1"]
    wait_for(lambda: processes_running(token) == [], timeout=3, what="no process of the run left")


def test_a_child_that_cleared_its_environment_and_left_the_session_dies_with_the_run():
    """The red team's leftover: `setsid -f env -i sleep` escapes the
    environment-marker scan, not the PID namespace."""
    token = numeric_token()
    sink = ListSink()
    outcome = run(spec(f"setsid -f env -i sleep 1000.{token}\n{seen(token)}", kind="shell"), sink)
    assert outcome.status == "succeeded"
    assert sink.texts("stdout") == ["seen 1"]
    wait_for(lambda: processes_running(token) == [], timeout=3, what="the escaped child to be gone")


def test_output_streams_while_the_run_is_going():
    sink = ListSink()
    script = "import time\nfor i in range(3):\n    print(f'line {i}')\n    time.sleep(0.4)"
    run(spec(script), sink)
    assert sink.texts() == ["line 0", "line 1", "line 2"]
    assert sink.batches >= 2  # delivered in several batches, not all at the end


def test_invalid_utf8_stays_readable():
    sink = ListSink()
    run(spec("printf 'ok \\377\\376 end\\n'", kind="shell"), sink)
    assert sink.texts("stdout") == ["ok \\xff\\xfe end"]


def test_output_over_the_cap_is_truncated_with_a_marker():
    sink = ListSink()
    outcome = run(spec("for i in range(10000): print('x' * 100)", max_output_bytes=50_000), sink)
    assert outcome.status == "succeeded"
    assert len(sink.texts("stdout")) < 500
    assert "truncated" in sink.texts("steward")[-1]


def test_stdin_is_closed():
    sink = ListSink()
    run(spec("import sys; print(repr(sys.stdin.read()))"), sink)
    assert sink.texts("stdout") == ["''"]


@pytest.mark.parametrize("name,env", [("host", "PARAM_HOST"), ("dry-run", "PARAM_DRY_RUN"), ("a.b c", "PARAM_A_B_C")])
def test_param_env_names(name, env):
    assert param_env_name(name) == env


def test_non_string_parameters_reach_the_runbook_as_json():
    sink = ListSink()
    run(spec('import os; print(os.environ["PARAM_TAGS"])', parameters={"tags": ["a", "b"]}), sink)
    assert json.loads(sink.texts("stdout")[0]) == ["a", "b"]


def test_as_root_each_run_gets_a_uid_of_its_own_from_the_pool():
    if os.geteuid() != 0:
        pytest.skip("only a root worker switches users; this one is not root")
    script = "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\nprint(os.access('/root', os.R_OK))\n"
    seen = set()
    for _ in range(2):
        sink = ListSink()
        outcome = run(spec(script, uid_pool=(62000, 62999)), sink)
        assert outcome.status == "succeeded", sink.texts()
        ids, root_readable = sink.texts("stdout")
        uid, gid, groups = ids.split(" ", 2)
        assert 62000 <= int(uid) <= 62999 and uid == gid and groups == "[]"
        assert root_readable == "False"
        seen.add(int(uid))
    assert 0 not in seen and os.getuid() not in seen


def test_without_a_pool_the_runbook_runs_as_the_shared_user():
    if os.geteuid() != 0:
        pytest.skip("only a root worker switches users; this one is not root")
    sink = ListSink()
    script = "import os, json\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
    script += "json.dump({'ok': True}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    outcome = run(spec(script, uid_pool=None, run_as="nobody"), sink)
    assert outcome.status == "succeeded", sink.texts()
    nobody = pwd.getpwnam("nobody")
    assert sink.texts("stdout") == [f"{nobody.pw_uid} {nobody.pw_gid} []"]
    assert outcome.result == {"ok": True}


def test_an_unknown_runbook_user_fails_clearly():
    if os.geteuid() != 0:
        pytest.skip("only a root worker switches users; this one is not root")
    outcome = run(spec("print(1)", uid_pool=None, run_as="no-such-user-here"), ListSink())
    assert outcome.status == "failed" and "no-such-user-here" in outcome.error


REPLACEMENTS = {
    "fifo": ('mkfifo "$STEWARD_RESULT"', "is a FIFO"),
    "symlink": ('ln -s /etc/shadow "$STEWARD_RESULT"', "is a symlink"),
    "directory": ('mkdir "$STEWARD_RESULT"', "is a directory"),
}


@pytest.mark.parametrize("name", list(REPLACEMENTS))
def test_a_result_that_is_no_regular_file_fails_the_run_at_once(name):
    """As plain processes (STEWARD_SANDBOX=process) the run's folder is on
    the host: what it leaves at $STEWARD_RESULT is never followed or waited on."""
    make, expected = REPLACEMENTS[name]
    started = time.monotonic()
    outcome = run(spec(f'rm -f "$STEWARD_RESULT"; {make}', kind="shell", sandbox="process"), ListSink())
    assert outcome.status == "failed" and expected in outcome.error, outcome
    assert outcome.result is None
    assert time.monotonic() - started < 3  # never blocks on a FIFO


@pytest.mark.parametrize("name", list(REPLACEMENTS))
def test_a_contained_run_cannot_replace_its_result_file(name):
    """In the sandbox the result file is a mount of its own: it can be
    written, not removed or replaced by a FIFO, a symlink or a folder."""
    make, _ = REPLACEMENTS[name]
    sink = ListSink()
    started = time.monotonic()
    outcome = run(spec(f'rm -rf "$STEWARD_RESULT"; {make}', kind="shell"), sink)
    assert outcome.status == "failed" and outcome.result is None, outcome
    assert any("Device or resource busy" in text for text in sink.texts("stderr")), sink.texts()
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("sandbox", ["namespaces", "process"])
def test_a_result_over_its_limit_fails_the_run(sandbox):
    script = "head -c 1100000 /dev/zero | tr '\\0' ' ' > \"$STEWARD_RESULT\""
    outcome = run(spec(script, kind="shell", sandbox=sandbox), ListSink())
    assert outcome.status == "failed" and "over the 1048576 byte limit" in outcome.error, outcome


def test_what_a_run_writes_in_its_work_dir_counts_against_its_tmpfs_not_the_disk():
    sink = ListSink()
    script = "for i in 1 2 3 4 5; do dd if=/dev/zero of=fill$i bs=1M count=20 status=none || exit 7; done\n"
    outcome = run(spec(script, kind="shell", tmp_bytes=64 * 1024**2), sink)
    assert outcome.status == "failed" and outcome.exit_code == 7, outcome
    assert any("No space left on device" in text for text in sink.texts("stderr")), sink.texts()


def test_the_worker_files_are_written_fresh_and_only_for_the_run():
    script = 'stat -c \'%a %n\' "$STEWARD_PARAMS" "$STEWARD_EVENT" . runbook.sh'
    sink = ListSink()
    run(spec(script, kind="shell"), sink)
    assert [line.split()[0] for line in sink.texts("stdout")] == ["600", "600", "700", "600"]
