"""A real OpenSSH server on loopback for the `ssh` runbook tests.

Debian's /usr/sbin/sshd, started on a free unprivileged port with its own
host key, authorized_keys and config, all in the test's temporary folder.
Run as root (as here and in CI), sshd wants its privilege-separation folder
/run/sshd; the server runs in a mount namespace of its own with a tmpfs on
/run, so nothing outside the test's folder is created or changed."""

import getpass
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from tests.conftest import free_port, wait_for

SSHD = "/usr/sbin/sshd"


@dataclass
class Server:
    address: str
    port: int
    user: str
    host_key: str  # public, OpenSSH format: what a target pins
    client_key: str  # private, OpenSSH format: what a credential secret holds
    log_path: Path
    proc: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def new_private_key() -> str:
    return asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()


def public_of(private_key: str) -> str:
    return asyncssh.import_private_key(private_key).export_public_key().decode().strip()


def start_sshd(folder: Path) -> Server:
    if not os.path.exists(SSHD):
        pytest.fail(f"{SSHD} is missing: apt-get install openssh-server (.ci/run installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key_path = folder / "host_key"
    host_key_path.write_bytes(host_key.export_private_key())
    host_key_path.chmod(0o600)
    client_key = new_private_key()
    (folder / "authorized_keys").write_text(public_of(client_key) + "\n")
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key_path}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile none\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nPrintMotd no\nPrintLastLog no\nMaxStartups 100\nMaxSessions 50\n"
    )
    log_path = folder / "sshd.log"
    command = [SSHD, "-D", "-e", "-f", str(config)]
    if os.geteuid() == 0:
        # unshare execs sh, which execs sshd: one pid to stop.
        inner = "mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec " + " ".join(command)
        unshare = shutil.which("unshare") or "/usr/bin/unshare"
        command = [unshare, "--mount", "--propagation", "private", "sh", "-c", inner]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(
        "127.0.0.1",
        port,
        getpass.getuser(),
        host_key.export_public_key().decode().strip(),
        client_key,
        log_path,
        proc,
    )

    def listening():
        if proc.poll() is not None:
            raise AssertionError(f"sshd exited {proc.returncode}: {server.log()}")
        return "Server listening on" in server.log()

    wait_for(listening, timeout=10, what="sshd to listen")
    return server


def stop_sshd(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)


def wait_gone(pids, timeout=10.0):
    from tests.processes import alive

    wait_for(lambda: not [p for p in pids if alive(p)], timeout=timeout, what=f"processes {pids} to end")
