"""The runner on real subprocesses: what a runbook sees, and how it ends."""

import json
import os
import time

import pytest

from runbooks.runners.process import RunSpec, param_env_name, run
from tests.processes import alive


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
    assert cwd == home and os.path.basename(cwd).startswith("steward-run-")
    assert not os.path.exists(cwd)


def test_timeout_kills_the_whole_process_group_including_grandchildren(tmp_path):
    marker = tmp_path / "grandchild.pid"
    script = f"sleep 300 &\necho $! > {marker}\necho started\nsleep 300\n"
    started = time.monotonic()
    outcome = run(spec(script, kind="shell", timeout_seconds=1, kill_grace_seconds=1), ListSink())
    elapsed = time.monotonic() - started
    assert outcome.status == "timed_out"
    assert elapsed < 4
    time.sleep(0.1)
    assert not alive(int(marker.read_text()))


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


def test_background_children_do_not_outlive_the_run(tmp_path):
    marker = tmp_path / "daemon.pid"
    outcome = run(spec(f"(sleep 300 >/dev/null 2>&1 & echo $! > {marker})\necho done", kind="shell"), ListSink())
    assert outcome.status == "succeeded"
    time.sleep(0.1)
    assert not alive(int(marker.read_text()))


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


def test_as_root_the_runbook_runs_as_the_unprivileged_user():
    if os.geteuid() != 0:
        pytest.skip("only a root worker switches users; this one is not root")
    sink = ListSink()
    script = (
        "import os, json\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
        "print(os.access('/root', os.R_OK))\n"
        "json.dump({'ok': True}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    )
    outcome = run(spec(script, run_as="nobody"), sink)
    assert outcome.status == "succeeded", sink.texts()
    import pwd

    nobody = pwd.getpwnam("nobody")
    assert sink.texts("stdout") == [f"{nobody.pw_uid} {nobody.pw_gid} []", "False"]
    assert outcome.result == {"ok": True}


def test_an_unknown_runbook_user_fails_clearly():
    outcome = run(spec("print(1)", run_as="no-such-user-here"), ListSink())
    assert outcome.status == "failed" and "no-such-user-here" in outcome.error
