"""A source's rate_limit_per_minute: fixed one-minute windows, counted in
the shared cache, only for requests that authenticated."""

import os

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache

from audit.models import AuditEntry
from events import limits
from events.models import Event
from tests.events.helpers import as_bytes, post
from tests.events.helpers import steward_signature as sign
from tests.factories import make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

ALERT = {"name": "DiskFull", "labels": {"instance": "db-9"}}


@pytest.fixture
def clock(monkeypatch):
    """A settable clock, 20 seconds into a minute."""
    now = {"t": 1_795_838_400 + 20.0}
    monkeypatch.setattr(limits, "_clock", lambda: now["t"])
    return now


def test_over_the_limit_is_429_with_retry_after_and_stores_nothing(client, clock):
    _, token = make_source("gen", "generic", rate_limit_per_minute=2)
    assert [post(client, "gen", ALERT, token).status_code for _ in range(2)] == [202, 202]
    audit_before = AuditEntry.objects.count()
    refused = post(client, "gen", ALERT, token)
    assert refused.status_code == 429 and "2 requests a minute" in refused.json()["detail"]
    assert refused["Retry-After"] == "40"  # seconds to the next minute
    assert Event.objects.count() == 2 and AuditEntry.objects.count() == audit_before


def test_the_next_minute_opens_a_new_window(client, clock):
    _, token = make_source("gen", "generic", rate_limit_per_minute=1)
    assert post(client, "gen", ALERT, token).status_code == 202
    assert post(client, "gen", ALERT, token).status_code == 429
    clock["t"] += 40
    assert post(client, "gen", ALERT, token).status_code == 202


def test_requests_without_the_token_do_not_spend_the_budget(client, clock):
    _, token = make_source("gen", "generic", rate_limit_per_minute=1)
    for _ in range(5):
        assert post(client, "gen", ALERT, "sts_aaaaaaaa_" + "b" * 32).status_code == 401
    assert post(client, "gen", ALERT, token).status_code == 202


def test_requests_with_a_bad_signature_do_not_spend_the_budget(client, clock):
    secret = "s" * 32
    _, token = make_source("gen", "generic", rate_limit_per_minute=1, signing_secret=secret)
    body = as_bytes(ALERT)
    for _ in range(3):
        response = post(client, "gen", body, token, HTTP_X_STEWARD_SIGNATURE=sign(body, "wrong-secret"))
        assert response.status_code == 401
    assert post(client, "gen", body, token, HTTP_X_STEWARD_SIGNATURE=sign(body, secret)).status_code == 202


def test_each_source_has_its_own_budget(client, clock):
    _, first = make_source("first", "generic", rate_limit_per_minute=1)
    _, second = make_source("second", "generic", rate_limit_per_minute=1)
    assert post(client, "first", ALERT, first).status_code == 202
    assert post(client, "second", ALERT, second).status_code == 202
    assert post(client, "first", ALERT, first).status_code == 429


def test_zero_means_no_limit(client, clock):
    _, token = make_source("gen", "generic", rate_limit_per_minute=0)
    assert {post(client, "gen", ALERT, token).status_code for _ in range(5)} == {202}


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_exactly_the_limit_goes_through_and_the_next_is_refused(client, clock, limit):
    """N allowed, N+1 refused, in whichever cache this run uses (CI runs this
    file on Redis and again on the database cache)."""
    _, token = make_source("gen", "generic", rate_limit_per_minute=limit)
    statuses = [post(client, "gen", {"name": f"A{i}"}, token).status_code for i in range(limit + 2)]
    assert statuses == [202] * limit + [429, 429]
    assert Event.objects.count() == limit
    clock["t"] += 40  # the next window: the same N again
    statuses = [post(client, "gen", {"name": f"B{i}"}, token).status_code for i in range(limit + 1)]
    assert statuses == [202] * limit + [429]


def test_the_counter_lives_where_cache_url_says(client, clock):
    """The limits above were counted in the cache CACHE_URL names: with a
    redis:// URL the window's counter is a Redis key holding the number of
    requests; without one, the database cache's entry."""
    source, token = make_source("gen", "generic", rate_limit_per_minute=3)
    for i in range(2):
        assert post(client, "gen", {"name": f"A{i}"}, token).status_code == 202
    name = f"steward:rate:{source.pk}:{int(clock['t'] // limits.WINDOW)}"
    backend = caches["default"]
    if os.environ.get("CACHE_URL", "").startswith("redis://"):
        assert isinstance(backend, RedisCache)
        key = backend.make_and_validate_key(name)
        redis = backend._cache.get_client(key)
        assert int(redis.get(key)) == 2
        assert 0 < redis.ttl(key) <= 2 * limits.WINDOW
    else:
        assert isinstance(backend, DatabaseCache)
        assert backend.get(name) == 2
