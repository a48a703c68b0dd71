"""The parts of the sandbox a run is built from: the UID pool shared by
every worker process on a machine, the cgroup v2 detection and its
fallback, the probe a worker starts with, the egress deny routes."""

import io
import os
import shutil
import subprocess
import sys

import pytest

from ops.management.commands import run_steward
from runbooks.runners import cgroups, namespaces, uids
from tests.processes import folder_outside_tmp


@pytest.fixture
def lock_dir(tmp_path):
    folder = tmp_path / "uids"
    folder.mkdir(mode=0o700)
    return str(folder)


def test_live_runs_never_share_a_uid_and_a_released_one_is_taken_again(lock_dir):
    first = uids.acquire((62990, 62991), lock_dir)
    second = uids.acquire((62990, 62991), lock_dir)
    assert {first.uid, second.uid} == {62990, 62991}
    with pytest.raises(uids.PoolError, match="in use"):
        uids.acquire((62990, 62991), lock_dir)
    first.release()
    assert uids.acquire((62990, 62991), lock_dir).uid == first.uid


def test_a_uid_held_by_another_worker_process_is_not_taken(lock_dir):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from runbooks.runners import uids\n"
            f"lease = uids.acquire((62995, 62995), {lock_dir!r}); print(lease.uid, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "62995"
        with pytest.raises(uids.PoolError):
            uids.acquire((62995, 62995), lock_dir)
    finally:
        holder.kill()  # however the holder dies, the kernel drops its lock
        holder.wait()
    assert uids.acquire((62995, 62995), lock_dir).uid == 62995


def test_the_pool_never_hands_out_root_or_the_worker_uid(lock_dir):
    mine = os.getuid()
    with pytest.raises(uids.PoolError):
        uids.acquire((mine, mine), lock_dir) if mine else uids.acquire((0, 0), lock_dir)


def test_the_pool_skips_uids_of_the_machine_accounts(lock_dir):
    nobody = 65534  # Debian's nobody: a real account, whose processes are not the run's
    with pytest.raises(uids.PoolError):
        uids.acquire((nobody, nobody), lock_dir)


def test_a_lock_folder_others_can_write_is_refused(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(uids.PoolError, match="not writable by others"):
        uids.acquire((62990, 62991), str(folder))


def test_without_a_delegated_cgroup_v2_the_run_falls_back_to_rlimits_and_says_why(tmp_path):
    path, why = cgroups.detect("")
    assert path is None and "STEWARD_RUNBOOK_CGROUP" in why
    path, why = cgroups.detect(str(tmp_path))
    assert path is None
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert "not a cgroup v2 folder" in why
    else:  # this machine and CI: cgroup v1 only
        assert "cgroup v1" in why


def test_the_probe_says_how_to_fix_a_missing_bwrap():
    problem = namespaces.probe(os.getuid(), os.getgid(), bwrap="/nonexistent/bwrap")
    assert "bwrap is not installed" in problem and "apt-get install bubblewrap" in problem


def test_the_probe_passes_where_bwrap_works():
    uid = 62999 if os.geteuid() == 0 else os.getuid()
    assert namespaces.probe(uid, uid) is None


def test_egress_refuses_the_control_plane_this_host_its_gateway_and_link_local():
    assert namespaces.host_gateways(), "this machine has a default route"
    routes = namespaces.deny_routes(["10.20.30.40", "10.99.0.0/16"])
    for network in ("10.20.30.40/32", "10.99.0.0/16", "169.254.0.0/16", "fd00:ec2::254/128", "127.0.0.0/8"):
        assert f"route replace prohibit {network}\n" in routes
    for address in [*namespaces.host_addresses(), *namespaces.host_gateways()]:
        assert f"prohibit {address}/" in routes
    with pytest.raises(namespaces.SandboxError, match="not an address"):
        namespaces.deny_routes(["db.internal"])


def test_a_hidden_path_behind_a_folder_the_run_cannot_enter_is_hidden_at_that_folder():
    base = folder_outside_tmp(0o755)
    try:
        private = base / "private"
        (private / "deeper").mkdir(parents=True)
        private.chmod(0o700)  # the run's UID could not walk into it, nor bwrap mount below it
        mounts = namespaces.hidden_mounts([str(private / "deeper"), str(base / "missing")], uid=62000)
        assert str(private) in mounts and str(private / "deeper") not in mounts
        assert str(base / "missing") not in mounts  # nothing there to hide
        assert "/run" in mounts  # the services' Unix sockets, always
    finally:
        shutil.rmtree(base)


def test_make_run_opts_out_out_loud_where_bwrap_cannot_run(settings, monkeypatch):
    monkeypatch.delenv("STEWARD_SANDBOX", raising=False)
    settings.STEWARD_BWRAP = "/nonexistent/bwrap"
    command = run_steward.Command(stdout=io.StringIO())
    assert command.choose_sandbox() == {"STEWARD_SANDBOX": "process"}
    said = command.stdout.getvalue()
    assert "Runbook sandbox: process, runbooks are NOT contained" in said and "bwrap is not installed" in said
    settings.STEWARD_BWRAP = ""
    command = run_steward.Command(stdout=io.StringIO())
    assert command.choose_sandbox() == {}
    assert "Runbook sandbox: namespaces" in command.stdout.getvalue()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker leases UIDs")
def test_nothing_of_a_runs_uid_outlives_its_lease_nor_survives_into_the_next(lock_dir):
    """pasta (an egress run's network stack) and anything else running as the
    run's UID is killed when the run's lease ends; what a killed worker left
    behind is killed when the UID is leased again."""
    lease = uids.acquire((62990, 62990), lock_dir)
    left = subprocess.Popen(["sleep", "300"], user=lease.uid, group=lease.uid, start_new_session=True)
    assert _alive(left.pid)
    lease.release()
    left.wait(timeout=5)
    assert left.returncode == -9

    crashed = subprocess.Popen(["sleep", "300"], user=62990, group=62990, start_new_session=True)
    uids.acquire((62990, 62990), lock_dir)
    crashed.wait(timeout=5)
    assert crashed.returncode == -9
