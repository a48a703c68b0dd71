"""The namespace sandbox: each run inside its own bubblewrap (`bwrap`).

bwrap is started as the run's own UID (a root worker takes one from its
pool, see `uids`; a non-root worker runs as itself) with a user namespace, so
it needs no setuid bit and no capability of the worker's. Inside: new PID,
mount, IPC, UTS, cgroup and network namespaces, no capabilities, no further
user namespaces, a read-only view of the system with Steward's own folders
and /run (where PostgreSQL's and Redis's Unix sockets live: a network
namespace does not cover them) under empty tmpfs, private size-limited /tmp,
/var/tmp and /dev/shm, a fresh /proc and a minimal /dev. The run's work dir
is the only writable place that outlives it.

When bwrap dies (the supervisor kills it, or its parent dies:
--die-with-parent) the PID namespace's init dies and the kernel kills every
process of the run: a double-forked, `setsid`, `env -i` child included.

Network modes:
- none: a network namespace with loopback only.
- egress: pasta (Debian `passt`) attaches to the run's network namespace as
  the run's UID; before the runbook starts, `prohibit` routes in that
  namespace refuse the control plane (the caller's deny list, this host's own
  addresses and its gateways, link-local and metadata). The runbook has no capability over
  that namespace (it is owned by bwrap's outer user namespace, the runbook
  lives in a nested one), so it cannot remove them. pasta forwards no port
  either way (-t/-u/-T/-U none) and maps no gateway to the host's loopback.
- host: the worker's own network (admins only).
"""

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

MiB = 1024**2
# Always refused in egress mode, beside the caller's list: link-local (cloud
# metadata lives at 169.254.169.254) and AWS's IPv6 metadata address.
ALWAYS_DENIED = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "127.0.0.0/8", "::1/128")
# Hidden from every run beside Steward's own folders: Unix sockets of the
# services on this machine (PostgreSQL, Redis, Docker) sit under /run.
SYSTEM_HIDDEN = ("/run",)
_NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: the user namespace owning it
# Where an egress run sends DNS when this machine's resolver is on loopback
# (Docker's 127.0.0.11, systemd-resolved's 127.0.0.53), which the run cannot
# reach: pasta maps UDP port 53 of this address to that resolver. From the
# benchmarking range (RFC 2544), which no real service uses.
DNS_FORWARD = "198.18.0.53"
NETWORK_SETUP_SECONDS = 10


class SandboxError(Exception):
    """The sandbox could not be made for this run (the run fails clearly)."""


@dataclass
class Box:
    """What one run's bwrap is made of."""

    workdir: str
    network: str = "none"  # none, egress, host
    hidden_paths: list[str] = field(default_factory=list)
    tmp_bytes: int = 256 * MiB
    egress_deny: list[str] = field(default_factory=list)
    bwrap: str = ""  # the bwrap binary; empty: found in /usr/bin, /bin, /usr/local/bin
    # egress with a loopback resolver: this file (nameserver DNS_FORWARD) is the run's /etc/resolv.conf
    resolv_conf: str = ""
    # Files of the work dir that come from the worker: read-only inside
    # (parameters, event, script), and the one the run may write (its
    # result). None: the whole work dir is bound writable (the probe).
    worker_files: list[str] | None = None
    result_file: str = ""
    # (host path, path inside) of the worker's folders a run reads: the
    # runbook helper, a Python runbook's environment. bwrap runs as the
    # run's UID, so each must be reachable by it (STEWARD_ENV_DIR).
    read_only: list[tuple[str, str]] = field(default_factory=list)


def bwrap_path(configured: str = "") -> str | None:
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


def pasta_path() -> str | None:
    return shutil.which("pasta", path="/usr/bin:/bin:/usr/local/bin:/usr/sbin")


def _covered(path: str, by: list[str]) -> bool:
    return any(path == other or path.startswith(other.rstrip("/") + "/") for other in by if other != path)


def _mount_point(path: str, uid: int) -> str:
    """Where to put the tmpfs hiding `path`: bwrap runs as the run's UID, so
    it can mount only where that UID can walk to; a path behind a folder the
    UID cannot enter (/root, 0700) is hidden by a tmpfs on that folder."""
    parts = path.strip("/").split("/")
    current = ""
    for part in parts[:-1]:
        current += "/" + part
        try:
            st = os.stat(current)
        except OSError:
            return current
        if st.st_uid != uid and not st.st_mode & 0o001:
            return current
    return path


def hidden_mounts(paths: list[str], uid: int) -> list[str]:
    real = {os.path.realpath(p) for p in [*SYSTEM_HIDDEN, *paths] if p and os.path.exists(p)}
    points = sorted({_mount_point(p, uid) for p in real if p != "/"})
    return [p for p in points if not _covered(p, points)]


def argv(box: Box, command: list[str], uid: int, info_fd: int | None, block_fd: int | None) -> list[str]:
    """The bwrap command line for one run. The order matters: later mounts
    go on top of earlier ones, and `--size` sizes the `--tmpfs` after it."""
    size = str(box.tmp_bytes)
    args = [
        bwrap_path(box.bwrap) or box.bwrap or "bwrap",
        "--unshare-user",
        "--disable-userns",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "steward-run",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    if box.network != "host":
        args.insert(2, "--unshare-net")
    resolv = os.path.realpath("/etc/resolv.conf")
    for path in hidden_mounts(box.hidden_paths, uid):
        args += ["--tmpfs", path]
        if path == "/run" and resolv.startswith("/run/") and os.path.exists(resolv):
            # /etc/resolv.conf pointing into /run (systemd-resolved) keeps
            # working; bound before the tmpfs turns read-only.
            args += ["--ro-bind", resolv, resolv]
        args += ["--remount-ro", path]
    if box.resolv_conf:
        args += ["--ro-bind", box.resolv_conf, "/etc/resolv.conf"]
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        args += ["--size", size, "--perms", "1777", "--tmpfs", path]
    if box.worker_files is None:
        args += ["--bind", box.workdir, box.workdir]
    else:
        # The work dir is a folder in the run's own /tmp tmpfs, so what the
        # run writes there counts against that tmpfs's size, never the
        # machine's disk. Only the worker's files come from the host: each a
        # single-file mount, which the run can neither delete nor replace
        # (a FIFO or a symlink where the result should be); the result file
        # takes at most RLIMIT_FSIZE.
        args += ["--perms", "0700", "--dir", box.workdir]
        for path in box.worker_files:
            args += ["--ro-bind", path, path]
        if box.result_file:
            args += ["--bind", box.result_file, box.result_file]
    for source, path in box.read_only:
        args += ["--ro-bind", source, path]
    args += ["--chdir", box.workdir]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    if block_fd is not None:
        args += ["--block-fd", str(block_fd)]
    return [*args, "--", *command]


def read_info(fd: int, deadline: float) -> dict:
    """bwrap's info document (the sandbox's first pid), read from its pipe."""
    data = b""
    while time.monotonic() < deadline:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        try:
            return json.loads(data)
        except ValueError:
            continue
    raise SandboxError("bwrap ended before the sandbox was ready" + (f": {data[:200]!r}" if data else ""))


# --- egress --------------------------------------------------------------------


def loopback_resolver(path: str = "/etc/resolv.conf") -> bool:
    """Whether this machine's first DNS resolver is on loopback."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return ipaddress.ip_address(parts[1].split("%")[0]).is_loopback
    except (OSError, ValueError):
        pass
    return False


def host_addresses() -> list[str]:
    """This machine's own addresses: a service bound to 0.0.0.0 answers on
    each, so each is refused to egress runs like loopback."""
    found = set()
    try:
        with open("/proc/net/fib_trie") as f:
            previous = ""
            for line in f:
                text = line.strip()
                if text.startswith("/32 host LOCAL") and previous.startswith("|-- "):
                    found.add(previous[4:])
                previous = text
    except OSError:
        pass
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                raw = line.split()[0]
                found.add(str(ipaddress.IPv6Address(int(raw, 16))))
    except (OSError, ValueError, IndexError):
        pass
    return sorted(found)


def host_gateways() -> list[str]:
    """This machine's default gateways: in a container, the gateway is the
    Docker host itself, whose services an egress run must not reach.
    (Routing through it is untouched: only connections to it are refused.)"""
    found = set()
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000" and fields[2] != "00000000":
                    found.add(str(ipaddress.IPv4Address(int(fields[2], 16).to_bytes(4, "little"))))
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/net/ipv6_route") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[0] == "0" * 32 and fields[1] == "00" and fields[4] != "0" * 32:
                    found.add(str(ipaddress.IPv6Address(int(fields[4], 16))))
    except (OSError, ValueError):
        pass
    return sorted(found)


def deny_routes(deny: list[str]) -> str:
    """`ip -batch` lines: a `prohibit` route per refused network. A connect
    there fails at once with EACCES inside the run."""
    networks = []
    for item in [*ALWAYS_DENIED, *host_addresses(), *host_gateways(), *deny]:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SandboxError(f"not an address or network to refuse: {item!r}") from None
    return "".join(f"route replace prohibit {net}\n" for net in sorted(set(networks), key=str))


def start_egress(pid: int, deny: list[str], uid: int, gid: int, dns_forward: bool = False) -> int:
    """Give the sandbox whose first process is `pid` outbound network
    through pasta, with the deny routes in place; returns pasta's pid, for
    the caller to kill when the run ends; raises SandboxError.
    `dns_forward`: the run's resolver is DNS_FORWARD, mapped to this
    machine's (see Box.resolv_conf)."""
    pasta = pasta_path()
    if pasta is None:
        raise SandboxError("network mode egress needs pasta (Debian package passt), which is not installed")
    netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        owner = fcntl.ioctl(netns, _NS_GET_USERNS)
        try:
            pasta_pid = _run_pasta(pasta, netns, owner, uid, gid, dns_forward)
            try:
                _add_routes(netns, owner, deny_routes(deny))
            except SandboxError:
                stop_egress(pasta_pid)
                raise
            return pasta_pid
        finally:
            os.close(owner)
    finally:
        os.close(netns)


def _as(uid: int, gid: int) -> dict:
    if os.geteuid() != 0:
        return {}
    return {"user": uid, "group": gid, "extra_groups": []}


def stop_egress(pasta_pid: int | None) -> None:
    if pasta_pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pasta_pid, signal.SIGKILL)


def _run_pasta(pasta: str, netns: int, owner: int, uid: int, gid: int, dns_forward: bool) -> int:
    # pasta refuses to run as root (it would turn itself into nobody): it
    # runs as the run's UID, which owns the sandbox's outer user namespace.
    # It forks into the background once the namespace is configured and
    # holds that namespace open, so it does not end with the run: it writes
    # its pid, and the runner kills it when the run ends (with a root
    # worker, the end of the run's UID lease would too: uids.Lease.release).
    folder = tempfile.mkdtemp(prefix="steward-pasta-")
    try:
        if os.geteuid() == 0:
            os.chown(folder, uid, gid)
        return _start_pasta(pasta, netns, owner, uid, gid, dns_forward, os.path.join(folder, "pid"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _start_pasta(pasta, netns, owner, uid, gid, dns_forward, pid_file) -> int:
    command = [
        pasta,
        "--config-net",
        "--no-map-gw",
        "--quiet",
        "-t",
        "none",
        "-u",
        "none",
        "-T",
        "none",
        "-U",
        "none",
        "--userns",
        f"/proc/self/fd/{owner}",
        "--netns",
        f"/proc/self/fd/{netns}",
        "--pid",
        pid_file,
        *(["--dns-forward", DNS_FORWARD] if dns_forward else []),
    ]
    try:
        done = subprocess.run(
            command,
            pass_fds=(netns, owner),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=NETWORK_SETUP_SECONDS,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            **_as(uid, gid),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"pasta could not start: {exc}") from None
    if done.returncode != 0:
        raise SandboxError(f"pasta failed: {_last_line(done.stderr)}")
    try:
        with open(pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError) as exc:
        raise SandboxError(f"pasta started but wrote no pid: {exc}") from None


def _add_routes(netns: int, owner: int, batch: str) -> None:
    nsenter = shutil.which("nsenter", path="/usr/bin:/bin") or "nsenter"
    ip = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"
    command = [nsenter, f"--net=/proc/self/fd/{netns}"]
    if os.geteuid() != 0:
        # As the owner of the outer user namespace: its capabilities there.
        command += [f"--user=/proc/self/fd/{owner}", "--preserve-credentials"]
    try:
        done = subprocess.run(
            [*command, ip, "-batch", "-"],
            input=batch.encode(),
            pass_fds=(netns, owner),
            capture_output=True,
            timeout=NETWORK_SETUP_SECONDS,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"the run's deny routes could not be set: {exc}") from None
    if done.returncode != 0:
        raise SandboxError(f"the run's deny routes could not be set: {_last_line(done.stderr)}")


def _last_line(raw: bytes) -> str:
    lines = [line for line in raw.decode(errors="replace").splitlines() if "syslog" not in line]
    return lines[-1] if lines else "no message"


# --- the worker's start --------------------------------------------------------


def probe(uid: int, gid: int, bwrap: str = "") -> str | None:
    """Can this machine make the sandbox? None when it can, else why not
    (and how to fix it)."""
    if bwrap_path(bwrap) is None:
        return f"bwrap is not installed{f' at {bwrap}' if bwrap else ''} (Debian/Ubuntu: apt-get install bubblewrap)"
    workdir = tempfile.mkdtemp(prefix="steward-probe-")
    try:
        if os.geteuid() == 0:
            os.chown(workdir, uid, gid)
        command = argv(Box(workdir=workdir, bwrap=bwrap), ["/bin/true"], uid, None, None)
        done = subprocess.run(
            command, capture_output=True, timeout=10, stdin=subprocess.DEVNULL, env={}, cwd="/", **_as(uid, gid)
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be started: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0:
        return (
            f"bwrap cannot make the sandbox here: {_last_line(done.stderr)}. It needs unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 an AppArmor profile for "
            "bwrap), and in a container a seccomp and AppArmor profile that allow unshare and mount "
            "(see docker-compose.yml's worker)"
        )
    return None
