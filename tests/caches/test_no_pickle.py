"""No pickle in any cache Steward reads back. A pickle whose unpickling
would create a file is planted, as an attacker who reaches Redis or the
database would plant it, under every key Steward's caches use; the real
code paths read those keys through the real caches (Redis and the
database), refuse the value with a warning, and the file never appears."""

import base64
import logging
import os
import pickle
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest
import redis as redis_lib
from django.conf import settings
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from accounts import throttle
from events import hookconfig, limits
from notifications import subscribed
from tests.factories import make_source
from tests.services import require

pytestmark = pytest.mark.django_db


class CreatesAFile:
    """Unpickled, it calls open(path, "w"): the file appearing is the proof."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def redis_url() -> str:
    """The cache's Redis when CACHE_URL names one (CI), else the broker's."""
    for url in (settings.CACHE_URL, settings.CELERY_BROKER_URL):
        if url.startswith(("redis://", "rediss://")):
            return url
    require(False, "Redis (set CACHE_URL=redis://... or CELERY_BROKER_URL=redis://...)")
    return ""


def backend_settings(kind: str) -> dict:
    if kind == "redis":
        if settings.CACHE_URL.startswith(("redis://", "rediss://")):
            return settings.CACHES["default"]  # the configured cache itself
        return {"BACKEND": "core.caches.RedisCache", "LOCATION": redis_url()}
    if "DatabaseCache" in settings.CACHES["default"]["BACKEND"]:
        return settings.CACHES["default"]
    return {"BACKEND": "core.caches.DatabaseCache", "LOCATION": "steward_cache"}


class Planter:
    """Writes raw values under a cache key, bypassing the cache (and its
    serializer) as an attacker with a connection to the store would."""

    def __init__(self, kind: str):
        self.kind = kind
        self.planted: list[str] = []
        if kind == "redis":
            self.client = redis_lib.Redis.from_url(redis_url())

    def plant(self, key: str, payload: bytes) -> None:
        full = cache.make_key(key)
        self.planted.append(full)
        if self.kind == "redis":
            self.client.set(full, payload, ex=300)
            return
        # What Django's own DatabaseCache stores: base64 of the pickle.
        expires = datetime.now(UTC) + timedelta(minutes=5)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM steward_cache WHERE cache_key = %s", [full])
            cursor.execute(
                "INSERT INTO steward_cache (cache_key, value, expires) VALUES (%s, %s, %s)",
                [full, base64.b64encode(payload).decode(), connection.ops.adapt_datetimefield_value(expires)],
            )

    def still_there(self, key: str) -> bool:
        full = cache.make_key(key)
        if self.kind == "redis":
            return self.client.exists(full) == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM steward_cache WHERE cache_key = %s", [full])
            return cursor.fetchone() is not None

    def clean(self) -> None:
        if self.kind == "redis" and self.planted:
            self.client.delete(*self.planted)  # only our keys: the broker may share this database


@pytest.fixture(params=["redis", "database"])
def store(request):
    kind = request.param
    if kind == "redis":
        redis_url()
    with override_settings(CACHES={"default": backend_settings(kind)}):
        if kind == "database":
            call_command("createcachetable", verbosity=0)  # absent when the suite runs on Redis
        planter = Planter(kind)
        yield planter
        planter.clean()


@pytest.fixture
def payload(tmp_path):
    marker = tmp_path / "unpickled"
    data = pickle.dumps(CreatesAFile(marker))
    # The control: this payload does what it says when something unpickles it.
    pickle.loads(data).close()
    assert marker.exists()
    marker.unlink()
    return marker, data


def test_every_key_steward_caches_refuses_a_planted_pickle(store, payload, caplog, monkeypatch):
    marker, data = payload
    source, _ = make_source("pickled")
    monkeypatch.setattr(limits, "_clock", lambda: 1_000_000.0)
    window = int(1_000_000.0 // limits.WINDOW)
    login_keys = [throttle._user_key("alice"), throttle._address_key("10.0.0.9")]
    keys = {
        "login throttle": login_keys,
        "rate limit": [f"steward:rate:{source.pk}:{window}"],
        "delivery ids": [limits._delivery_key(source, "delivery-1")],
        "webhook configuration": [hookconfig.GENERATION.key],
        "notification subscriptions": [subscribed.GENERATION.key],
        "SNS certificates": ["steward:sns-cert:" + "0" * 64],
    }
    for names in keys.values():
        for key in names:
            store.plant(key, data)
    source.rate_limit_per_minute = 100
    with caplog.at_level(logging.WARNING):
        # Each through the code that reads it in Steward.
        assert throttle.attempt("alice", "10.0.0.9") is True
        assert limits.retry_after(source) == 0
        assert limits.claim_delivery(source, "delivery-1") is True
        for generation in (hookconfig.GENERATION, subscribed.GENERATION):
            token = generation.current()
            assert token is None or (isinstance(token, str) and len(token) == 32)
        assert cache.get(keys["SNS certificates"][0]) is None
        assert cache.get_many(keys["SNS certificates"]) == {}
    assert not marker.exists(), "a planted pickle was unpickled"
    refused = [r.getMessage() for r in caplog.records if r.name == "core.caches"]
    for what, names in keys.items():
        if what in ("rate limit", "login throttle") and store.kind == "redis":
            continue  # Redis's INCR itself refuses a value that is not a number (checked below)
        for key in names:
            assert any(cache.make_key(key) in message for message in refused), f"{what}: {key} not refused"
    if store.kind == "redis":
        assert any("rate limit of source pickled not checked" in r.getMessage() for r in caplog.records)
    # A refused value is deleted, so the key works again at once.
    assert not store.still_there(keys["SNS certificates"][0])


def test_values_are_stored_as_json_text(store):
    cache.set("steward:test:json", {"a": [1, "b"]}, 60)
    cache.set("steward:test:count", 41, 60)
    assert cache.incr("steward:test:count") == 42
    assert cache.get_many(["steward:test:json", "steward:test:count"]) == {
        "steward:test:json": {"a": [1, "b"]},
        "steward:test:count": 42,
    }
    full = cache.make_key("steward:test:json")
    if store.kind == "redis":
        raw = store.client.get(full)
        store.planted += [full, cache.make_key("steward:test:count")]
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT value FROM steward_cache WHERE cache_key = %s", [full])
            raw = cursor.fetchone()[0].encode()
    assert raw == b'{"a":[1,"b"]}'
    with pytest.raises(TypeError):
        cache.set("steward:test:bytes", b"not json", 60)  # a caller bug surfaces, never a pickle
    assert cache.get("steward:test:bytes") is None


def test_a_password_in_the_cache_url_authenticates_to_redis():
    """The cache logs in with the user and password of its URL (percent-
    encoded: this one holds "@", "," and ";", which Django would otherwise
    split LOCATION at), and a wrong password is refused. The test makes an
    ACL user of its own for the while; where its login may not (a Redis
    like compose's), it checks the URL's own credentials instead."""
    url = redis_url()
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 6379}"
    user, password = "steward_test_cache", "p@ss,w;rd-" + os.urandom(6).hex()
    admin = redis_lib.Redis.from_url(url)
    try:
        admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", "~*", "&*", "+@all")
        made = True
    except redis_lib.exceptions.NoPermissionError:
        require(parts.password is not None, "a Redis login that may create ACL users, or a password in the URL")
        user, password, made = parts.username or "", unquote(parts.password), False

    def location(secret):
        return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(secret, safe='')}@{where}"))

    try:
        with override_settings(
            CACHES={"default": {"BACKEND": "core.caches.RedisCache", "LOCATION": location(password)}}
        ):
            caches["default"].set("steward:test:auth", "yes", 30)
            assert caches["default"].get("steward:test:auth") == "yes"
            caches["default"].delete("steward:test:auth")
        with (
            override_settings(
                CACHES={"default": {"BACKEND": "core.caches.RedisCache", "LOCATION": location("not-the-password")}}
            ),
            pytest.raises(redis_lib.AuthenticationError),
        ):
            caches["default"].get("steward:test:auth")
    finally:
        if made:
            admin.execute_command("ACL", "DELUSER", user)
