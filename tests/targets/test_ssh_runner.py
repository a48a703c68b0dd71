"""The `ssh` runner against a real OpenSSH server (tests/sshd.py): what
runs where, what each target's log says, and how each fault ends."""

import uuid

from runbooks.runners import ssh
from tests.conftest import wait_for
from tests.processes import processes_of
from tests.sshd import new_private_key, wait_gone


class Collected:
    """The sink a test reads: every line, and a stop flag the test can raise."""

    def __init__(self):
        self.all = []
        self.stop = None

    def started(self, pid):
        pass

    def lines(self, lines):
        self.all.extend(lines)

    def check_in(self):
        return self.stop

    def texts(self):
        return [line.text for line in self.all]


def host(server, name, **overrides):
    values = {
        "name": name,
        "address": server.address,
        "port": server.port,
        "user": server.user,
        "host_key": server.host_key,
        "client_key": server.client_key,
    }
    return ssh.Host(**{**values, **overrides})


def spec(hosts, script, **overrides):
    values = {
        "script": script,
        "parameters": {"service": "nginx", "count": 2},
        "event": {"labels": {"instance": "web-01:9100"}},
        "timeout_seconds": 20,
        "hosts": hosts,
        "identifiers": {"STEWARD_EXECUTION_ID": str(uuid.uuid4()), "STEWARD_RUNBOOK": "restart"},
    }
    return ssh.SshSpec(**{**values, **overrides})


def test_the_script_runs_on_each_target_with_the_parameters_and_its_name_in_the_log(sshd):
    script = 'echo "restart $PARAM_SERVICE x$PARAM_COUNT on $STEWARD_TARGET"\necho oops >&2\ncat "$STEWARD_PARAMS"'
    sink = Collected()
    outcome, hosts = ssh.run(spec([host(sshd, "web-01"), host(sshd, "web-02")], script), sink)
    assert outcome.status == "succeeded" and outcome.exit_code == 0
    assert [(h.name, h.status, h.exit_code) for h in hosts] == [("web-01", "succeeded", 0), ("web-02", "succeeded", 0)]
    for name in ("web-01", "web-02"):
        mine = [(line.stream, line.text) for line in sink.all if line.text.startswith(f"[{name}] ")]
        assert mine == [
            ("stdout", f"[{name}] restart nginx x2 on {name}"),
            ("stderr", f"[{name}] oops"),
            ("stdout", f'[{name}] {{"service": "nginx", "count": 2}}'),
        ]
    assert [line.n for line in sink.all] == list(range(1, 7))
    assert outcome.result["targets"][0]["duration_seconds"] is not None


def test_an_exit_status_fails_only_its_target_and_the_run(sshd):
    script = '[ "$STEWARD_TARGET" = web-02 ] && exit 3\necho fine'
    outcome, hosts = ssh.run(spec([host(sshd, "web-01"), host(sshd, "web-02")], script), Collected())
    assert [(h.status, h.exit_code) for h in hosts] == [("succeeded", 0), ("failed", 3)]
    assert outcome.status == "failed" and outcome.exit_code == 3 and "web-02: failed" in outcome.error


def test_a_changed_host_key_is_refused_and_nothing_runs_there(sshd, tmp_path):
    other = ssh.asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    marker = tmp_path / "ran"
    sink = Collected()
    outcome, hosts = ssh.run(spec([host(sshd, "web-01", host_key=other)], f"touch {marker}"), sink)
    assert outcome.status == "failed"
    assert hosts[0].status == "failed" and "presented a host key other than the one pinned" in hosts[0].error
    assert not marker.exists()
    assert any("pinned" in text for text in sink.texts())


def test_a_wrong_key_fails_that_target_only(sshd):
    hosts_in = [host(sshd, "web-01"), host(sshd, "web-02", client_key=new_private_key())]
    outcome, hosts = ssh.run(spec(hosts_in, "echo hi"), Collected())
    assert [h.status for h in hosts] == ["succeeded", "failed"]
    assert hosts[1].error.startswith("Authentication failed for ") and "SHA256:" in hosts[1].error
    assert outcome.status == "failed"


def test_an_unreachable_host_is_a_failed_target_with_its_reason(sshd):
    from tests.conftest import free_port

    hosts_in = [host(sshd, "web-01"), host(sshd, "gone", port=free_port())]
    outcome, hosts = ssh.run(spec(hosts_in, "echo hi"), Collected())
    assert outcome.status == "failed" and [h.status for h in hosts] == ["succeeded", "failed"]
    assert hosts[1].error.startswith(f"Cannot reach {sshd.address}:")


def test_stop_on_first_failure_starts_no_further_target(sshd):
    hosts_in = [host(sshd, "bad", client_key=new_private_key()), host(sshd, "web-01")]
    outcome, hosts = ssh.run(spec(hosts_in, "echo hi", max_parallel=1, policy="stop_on_first_failure"), Collected())
    assert outcome.status == "failed"
    assert [h.status for h in hosts] == ["failed", "skipped"]
    assert "stop_on_first_failure" in hosts[1].error


def test_cancel_kills_the_remote_process_group(sshd):
    import threading

    run_spec = spec([host(sshd, "web-01"), host(sshd, "web-02")], 'echo started\nsleep 300 & wait\necho "not here"')
    execution_id = run_spec.identifiers["STEWARD_EXECUTION_ID"]
    sink = Collected()
    done = {}
    thread = threading.Thread(target=lambda: done.update(result=ssh.run(run_spec, sink)))
    thread.start()
    wait_for(lambda: sum("started" in t for t in sink.texts()) == 2, timeout=15, what="both targets to start")
    remote = wait_for(lambda: processes_of(execution_id), what="the remote processes")
    sink.stop = "cancel"
    thread.join(timeout=20)
    assert not thread.is_alive()
    outcome, hosts = done["result"]
    assert outcome.status == "cancelled" and {h.status for h in hosts} == {"cancelled"}
    wait_gone(remote)
    assert processes_of(execution_id) == []
    assert not any("not here" in t for t in sink.texts())


def test_a_secret_printed_remotely_is_masked(sshd):
    script = 'echo "token=$PAGER_TOKEN"'
    sink = Collected()
    outcome, _ = ssh.run(spec([host(sshd, "web-01")], script, secrets={"PAGER_TOKEN": "s3cr3t-value"}), sink)
    assert outcome.status == "succeeded" and sink.texts() == ["[web-01] token=***"]


def test_the_timeout_is_per_target_and_kills_the_remote_group(sshd):
    run_spec = spec([host(sshd, "web-01")], "sleep 300", timeout_seconds=1)
    outcome, hosts = ssh.run(run_spec, Collected())
    assert outcome.status == "timed_out" and hosts[0].status == "timed_out"
    assert processes_of(run_spec.identifiers["STEWARD_EXECUTION_ID"]) == []
