"""A Python runbook's own libraries: its `requirements` resolved into a lock
when a version is saved, and an environment built from that lock on each
worker host before the first run that needs it.

Both steps are uv's (`uv pip compile --generate-hashes`, `uv venv` and
`uv pip sync --require-hashes`): a well-kept resolver and installer, and
the lock's hashes mean a run installs exactly the files reviewed at save,
whatever the index serves later.

Environments are content-addressed: the folder's name is the sha256 of
(lock, interpreter), so two versions with the same lock share one, and a
version's runs always get the same one. On a host, builders take an
exclusive flock on the environment's lock file, build into a temporary
folder and rename it into place, so concurrent builders build it once and
no run ever sees a half-built environment. A run holds a shared flock on it
for as long as it runs, which eviction (past STEWARD_ENV_CACHE_MB) respects.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from django.conf import settings
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from core.errors import Refused

MAX_LINES = 100
MAX_LINE = 500
MARKER = "steward-env.json"  # written last: an environment without it is not one
MiB = 1024**2


class ResolveError(Refused):
    """A requirement line that cannot be resolved: a 400 naming the line."""

    def __init__(self, message: str):
        super().__init__(message, "requirements")


class BuildError(Exception):
    """The environment could not be built; `log` is uv's output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


def check_lines(lines) -> list[str]:
    """Each line a PEP 508 requirement (no URLs or paths: those would skip
    the index and the hashes); returns them stripped. Refused names the line."""
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise Refused("a list of PEP 508 requirement lines", "requirements")
    if len(lines) > MAX_LINES:
        raise Refused(f"at most {MAX_LINES} requirement lines", "requirements")
    cleaned, names = [], set()
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if len(line) > MAX_LINE:
            raise Refused(f"{line[:40]}…: a requirement line has at most {MAX_LINE} characters", "requirements")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise Refused(f"{line!r} is not a PEP 508 requirement: {exc}", "requirements") from None
        if requirement.url:
            raise Refused(f"{line!r}: name a package from the index, not a URL", "requirements")
        name = canonicalize_name(requirement.name)
        if name in names:
            raise Refused(f"{line!r}: {requirement.name} is required twice", "requirements")
        names.add(name)
        cleaned.append(line)
    return cleaned


def interpreter() -> str:
    """The interpreter Python runbooks run on on this host (the worker's
    rule, runbooks/runners/python.py): locks are resolved for it."""
    from runbooks.runners import python  # the runners import nothing of Django's

    return python.interpreter(os.geteuid() == 0)


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _sources() -> list[str]:
    if settings.STEWARD_WHEELHOUSE:
        return ["--no-index", "--find-links", str(settings.STEWARD_WHEELHOUSE)]
    args = []
    if settings.STEWARD_PACKAGE_INDEX_URL:
        args += ["--index-url", settings.STEWARD_PACKAGE_INDEX_URL]
    if settings.STEWARD_EXTRA_INDEX_URL:
        args += ["--extra-index-url", settings.STEWARD_EXTRA_INDEX_URL]
    return args


def _uv_env() -> dict[str, str]:
    # Nothing of the worker's environment (a VIRTUAL_ENV, a PIP_INDEX_URL)
    # changes what gets resolved: the settings say where packages come from.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8"}
    for name in ("UV_CACHE_DIR", "SSL_CERT_FILE", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _uv_run(args: list[str], timeout: int, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [_uv(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_uv_env(),
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took longer than {timeout} s") from None
    except OSError as exc:
        raise BuildError(f"{what}: uv could not be started: {exc}") from None


def resolve(lines: list[str]) -> str:
    """The lock for `lines` (already checked): pinned versions with hashes,
    for this host's runbook interpreter. Empty lines, empty lock."""
    lines = check_lines(lines)
    if not lines:
        return ""
    with tempfile.TemporaryDirectory(prefix="steward-lock-") as folder:
        source = os.path.join(folder, "requirements.in")
        with open(source, "w") as f:
            f.write("\n".join(lines) + "\n")
        args = ["pip", "compile", source, "--generate-hashes", "--no-header", "--no-annotate", "--quiet"]
        args += ["--no-config", "--no-python-downloads", "--python", interpreter(), *_sources()]
        try:
            done = _uv_run(args, settings.STEWARD_ENV_RESOLVE_SECONDS, "Resolving the requirements")
        except BuildError as exc:
            raise ResolveError(str(exc)) from None
    if done.returncode != 0:
        raise ResolveError(_resolve_message(lines, done.stderr))
    return done.stdout


def _resolve_message(lines: list[str], stderr: str) -> str:
    """uv's message, led by the line it is about (the first line whose
    package it names), so the author knows which one to fix."""
    message = " ".join(part.strip() for part in stderr.strip().splitlines() if part.strip()) or "uv failed"
    message = message.removeprefix("error: ").removeprefix("× ")
    lowered = message.lower()
    for line in lines:
        name = Requirement(line).name
        if name.lower() in lowered or canonicalize_name(name) in lowered:
            return f"{line!r} cannot be resolved: {message}"
    return f"The requirements cannot be resolved: {message}"


def lock_sha(lock: str) -> str:
    return hashlib.sha256(lock.encode()).hexdigest()


def env_key(lock: str, python: str) -> str:
    return hashlib.sha256(f"{lock_sha(lock)}\n{os.path.realpath(python)}".encode()).hexdigest()[:40]


@dataclass
class Environment:
    """A ready environment, held (a shared flock) until `release()`."""

    path: str
    built: bool  # by this call (False: it was there already)
    log: str = ""
    _fd: int = -1

    @property
    def python(self) -> str:
        return os.path.join(self.path, "bin", "python")

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _ready(path: str) -> bool:
    return os.path.isfile(os.path.join(path, MARKER)) and os.path.exists(os.path.join(path, "bin", "python"))


def ensure(lock: str, python: str | None = None, root: str | None = None) -> Environment:
    """The environment for `lock` on this host, built when missing (or
    deleted since); raises BuildError with uv's output."""
    python = python or interpreter()
    root = str(root or settings.STEWARD_ENV_DIR)
    key = env_key(lock, python)
    path = os.path.join(root, key)
    os.makedirs(os.path.join(root, ".locks"), mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(root, ".locks", key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if _ready(path):
            _touch(path)
            return Environment(path, built=False, _fd=fd)
        # Another builder may be at it: the exclusive lock waits for it,
        # and the check after tells whether it finished.
        fcntl.flock(fd, fcntl.LOCK_EX)
        built, log = False, ""
        if not _ready(path):
            log = _build(lock, python, root, path)
            built = True
        fcntl.flock(fd, fcntl.LOCK_SH)
        _touch(path)
    except BaseException:
        os.close(fd)
        raise
    if built:
        evict(root, keep=key)
    return Environment(path, built=built, log=log, _fd=fd)


def _build(lock: str, python: str, root: str, path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)  # a half-deleted one: never half-used
    staging = tempfile.mkdtemp(prefix=".build-", dir=root)
    try:
        os.chmod(staging, 0o755)  # the run's own UID reads it
        log = []
        venv = ["venv", staging, "--relocatable", "--python", python, "--no-config", "--no-python-downloads"]
        venv += ["--allow-existing", "--quiet"]
        done = _uv_run(venv, settings.STEWARD_ENV_BUILD_SECONDS, "Making the environment")
        log.append(done.stdout + done.stderr)
        if done.returncode != 0:
            raise BuildError(f"uv venv failed: {_last(done.stderr)}", "".join(log))
        lock_file = os.path.join(staging, "requirements.lock")
        with open(lock_file, "w") as f:
            f.write(lock)
        sync = ["pip", "sync", lock_file, "--python", os.path.join(staging, "bin", "python"), "--require-hashes"]
        sync += ["--compile-bytecode", "--no-config", "--no-python-downloads", *_sources()]
        done = _uv_run(sync, settings.STEWARD_ENV_BUILD_SECONDS, "Installing the requirements")
        log.append(done.stdout + done.stderr)
        if done.returncode != 0:
            raise BuildError(f"uv pip sync failed: {_last(done.stderr)}", "".join(log))
        with open(os.path.join(staging, MARKER), "w") as f:
            json.dump({"lock_sha256": lock_sha(lock), "python": os.path.realpath(python), "pid": os.getpid()}, f)
        os.rename(staging, path)
        return "".join(log)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _last(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return " ".join(lines[-6:]) if lines else "no message"


def _touch(path: str) -> None:
    # The marker's mtime is the last use: eviction goes by it.
    with contextlib.suppress(OSError):
        os.utime(os.path.join(path, MARKER))


def _size(path: str) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def evict(root: str, keep: str = "", limit_bytes: int | None = None) -> list[str]:
    """Delete the least recently used environments until the rest fit in
    STEWARD_ENV_CACHE_MB; one a run holds (a shared flock) stays. Returns
    the keys deleted."""
    limit = settings.STEWARD_ENV_CACHE_MB * MiB if limit_bytes is None else limit_bytes
    found = []
    for key in os.listdir(root):
        path = os.path.join(root, key)
        if key.startswith(".") or not _ready(path):
            continue
        found.append((os.stat(os.path.join(path, MARKER)).st_mtime, key, _size(path)))
    total = sum(size for *_, size in found)
    deleted = []
    for _, key, size in sorted(found):
        if total <= limit:
            break
        if key == keep:
            continue
        fd = os.open(os.path.join(root, ".locks", key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use by a run, or being rebuilt
            # Renamed away first: a run starting now finds none and rebuilds.
            doomed = os.path.join(root, f".evicted-{key}-{time.monotonic_ns()}")
            os.rename(os.path.join(root, key), doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            total -= size
            deleted.append(key)
        finally:
            os.close(fd)
    return deleted
