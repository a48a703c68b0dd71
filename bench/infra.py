"""PostgreSQL and Redis for the bench: found (or installed) and prepared.

Databases, all named steward_bench*:
- steward_bench: the history (1M executions, 10M log lines, 1M events),
  loaded once and reused between runs (bench/history.py);
- steward_bench_template: migrated once per run (a no-op when nothing
  changed), the template of
- steward_bench_live: dropped and copied from the template at every run, so
  the ingest, dispatch and throughput figures start from empty tables.
"""

import base64
import os
import shutil
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.procs import PYTHON, ROOT, Stack, free_port, wait_for

HISTORY_DB = "steward_bench"
TEMPLATE_DB = "steward_bench_template"
LIVE_DB = "steward_bench_live"


def server_url() -> str:
    """The PostgreSQL server as a URL without a database name."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    return url


def database_url(name: str) -> str:
    parts = urlsplit(server_url())
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def _reachable() -> bool:
    try:
        with psycopg.connect(database_url("postgres"), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _apt_install(*packages: str) -> None:
    print(f"  installing {' '.join(packages)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def ensure_postgres() -> None:
    """A reachable server, installing and starting Debian's when there is none."""
    if _reachable():
        return
    if os.environ.get("BENCH_DATABASE_URL"):
        raise SystemExit(f"PostgreSQL at BENCH_DATABASE_URL is not reachable: {server_url()}")
    if not shutil.which("pg_lsclusters"):
        _apt_install("postgresql")
    subprocess.run(["service", "postgresql", "start"], check=False)
    # A fresh cluster lets only the postgres OS user in over the socket; the
    # bench connects over TCP as postgres, with a password it sets here.
    if not _reachable():
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-c", "ALTER USER postgres PASSWORD 'steward-bench'"],
            check=True,
        )
        os.environ["BENCH_DATABASE_URL"] = "postgres://postgres:steward-bench@127.0.0.1:5432/postgres"
    wait_for(_reachable, 30, "PostgreSQL")


def admin(sql: str, dbname: str = "postgres") -> list:
    with psycopg.connect(database_url(dbname), autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def database_exists(name: str) -> bool:
    return bool(admin(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # ends sessions left on it


def migrate(name: str, env: dict) -> None:
    if not database_exists(name):
        admin(f'CREATE DATABASE "{name}"')
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--skip-checks", "--verbosity", "0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url(name)},
        check=True,
    )
    print(f"  {name}: migrated ({time.monotonic() - started:.1f}s)")


def fresh_live_database(env: dict) -> str:
    """An empty, migrated steward_bench_live; returns its URL."""
    migrate(TEMPLATE_DB, env)
    drop_database(LIVE_DB)
    admin(f'CREATE DATABASE "{LIVE_DB}" TEMPLATE "{TEMPLATE_DB}"')
    return database_url(LIVE_DB)


def server_settings() -> dict:
    rows = admin(
        "SELECT name, setting FROM pg_settings WHERE name IN "
        "('server_version', 'synchronous_commit', 'fsync', 'shared_buffers', 'max_connections', 'work_mem')"
    )
    return dict(rows)


# --- Redis ----------------------------------------------------------------------


def start_redis(stack: Stack) -> str:
    """A redis-server of the bench's own on a free port (no persistence:
    the bench's queues are throwaway), or Redis database 9 on the local one
    when redis-server cannot be started."""
    if not shutil.which("redis-server"):
        try:
            _apt_install("redis-server")
        except (OSError, subprocess.CalledProcessError):
            return "redis://127.0.0.1:6379/9"
    port = free_port()
    process = stack.start(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dict(os.environ),
    )

    def up():
        try:
            import redis

            return redis.Redis(port=port).ping()
        except Exception:
            return False

    wait_for(up, 15, "redis-server", process)
    return f"redis://127.0.0.1:{port}"


def generated_keys() -> dict:
    """A SECRET_KEY and an encryption key for this run only."""
    return {
        "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(48)).decode(),
        "STEWARD_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
