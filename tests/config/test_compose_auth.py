"""docker-compose.yml brings Redis up with a password for each of the
broker and the cache, and PostgreSQL without trust. The Redis service's
own start script runs here against a real redis-server on loopback (no
Docker on CI): the default user is off, each ACL user logs in with its
password, and the cache user reaches no broker key."""

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import redis as redis_lib
import yaml
from django.conf import settings

from tests.conftest import free_port, wait_for
from tests.services import require

COMPOSE = Path(settings.BASE_DIR) / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_url_carries_a_password_that_compose_requires(compose):
    env = compose["x-steward-env"]
    # The app role; the owner's URL and the superuser's password reach the migrate step alone.
    assert env["DATABASE_URL"].startswith("postgres://steward_app:${POSTGRES_APP_PASSWORD:?")
    migrate = compose["services"]["migrate"]["environment"]
    assert migrate["DATABASE_OWNER_URL"].startswith("postgres://steward_owner:${POSTGRES_OWNER_PASSWORD:?")
    for name, service in compose["services"].items():
        if name != "migrate":
            assert "DATABASE_OWNER_URL" not in (service.get("environment") or {}), name
    assert env["CELERY_BROKER_URL"].startswith("redis://steward_broker:${REDIS_BROKER_PASSWORD:?")
    assert env["CACHE_URL"].startswith("redis://steward_cache:${REDIS_CACHE_PASSWORD:?")
    # Different database numbers: the cache never shares the broker's keys.
    assert env["CELERY_BROKER_URL"].rsplit("/", 1)[1] != env["CACHE_URL"].rsplit("/", 1)[1]
    postgres = compose["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert postgres["POSTGRES_INITDB_ARGS"] == "--auth-host=scram-sha-256"


@pytest.fixture
def compose_redis(compose, tmp_path):
    """redis-server started by the compose service's own script."""
    require(shutil.which("redis-server") is not None, "redis-server (apt-get install redis-server)")
    service = compose["services"]["redis"]
    assert service["command"][:2] == ["sh", "-ec"]
    port = free_port()
    script = (
        service["command"][2]
        .replace("$$", "$")  # compose's escape for a literal $
        .replace("/tmp/users.acl", str(tmp_path / "users.acl"))
        .replace("exec redis-server", f"exec redis-server --port {port} --bind 127.0.0.1 --dir {tmp_path}")
    )
    passwords = {"REDIS_BROKER_PASSWORD": "broker-pw-1", "REDIS_CACHE_PASSWORD": "cache-pw-2"}
    proc = subprocess.Popen(
        ["sh", "-ec", script],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **passwords},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        wait_for(listening, timeout=10, what="the compose Redis to start")
        yield port, passwords
    finally:
        proc.kill()
        proc.wait()


def test_compose_redis_has_no_default_user_and_separates_broker_and_cache(compose_redis):
    port, passwords = compose_redis
    anonymous = redis_lib.Redis(port=port)
    with pytest.raises(redis_lib.AuthenticationError):
        anonymous.get("anything")
    with pytest.raises(redis_lib.AuthenticationError):
        redis_lib.Redis.from_url(f"redis://steward_cache:wrong@127.0.0.1:{port}/1").ping()
    broker = redis_lib.Redis.from_url(f"redis://steward_broker:{passwords['REDIS_BROKER_PASSWORD']}@127.0.0.1:{port}/0")
    cache = redis_lib.Redis.from_url(f"redis://steward_cache:{passwords['REDIS_CACHE_PASSWORD']}@127.0.0.1:{port}/1")
    assert broker.lpush("steward", "a message") == 1
    assert cache.set(":1:steward:login:user:x", 1) is True
    with pytest.raises(redis_lib.exceptions.NoPermissionError):
        cache.lpush("steward", "a task planted with the cache's password")
    with pytest.raises(redis_lib.exceptions.NoPermissionError):
        broker.flushall()
