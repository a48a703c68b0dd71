import pytest
from django.core.cache import cache


@pytest.fixture
def empty_cache(db):
    """Rate-limit windows and delivery ids start empty: the cache table is
    not a model, so nothing else clears what an earlier test left there."""
    cache.clear()
    yield
    cache.clear()
