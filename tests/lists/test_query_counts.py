"""Every list, in the API and on the pages, costs the same number of
queries for 10 rows as for 100: no query per row (N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

API_LISTS = [
    "/api/v1/executions/",
    "/api/v1/events/",
    "/api/v1/runbooks/",
    "/api/v1/bindings/",
    "/api/v1/sources/",
    "/api/v1/audit/",
    "/api/v1/executions/?status=failed,succeeded&q=web&created_after=2000-01-01",
    "/api/v1/events/?q=web&ordering=received_at",
]
PAGES = [
    "/executions/",
    "/events/",
    "/runbooks/",
    "/bindings/",
    "/sources/",
    "/audit/",
    "/executions/?status=failed&status=succeeded&q=web&ordering=created_at",
    "/runbooks/?q=Runbook&ordering=-name",
]


def _count(client, url: str, size: int) -> tuple[int, int]:
    """(queries, rows shown) for one page of `size` rows."""
    sep = "&" if "?" in url else "?"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{url}{sep}page_size={size}")
    assert response.status_code == 200, (url, response.content[:500])
    api = url.startswith("/api/")
    rows = len(response.json()["results"]) if api else response.content.decode().count("<tr>") - 1  # less the header
    return len(queries), rows


@pytest.mark.parametrize("url", API_LISTS)
def test_an_api_list_costs_the_same_queries_for_10_and_100_rows(api, crowd, url):
    api.get(url)  # the first request of a token or session writes its last use: not the list's cost
    few, shown_few = _count(api, url, 10)
    many, shown_many = _count(api, url, 100)
    assert (shown_few, shown_many) == (10, 100)
    assert few == many, f"{url}: {few} queries for 10 rows, {many} for 100"


@pytest.mark.parametrize("url", PAGES)
def test_a_list_page_costs_the_same_queries_for_10_and_100_rows(client, user, crowd, url):
    client.force_login(user)
    client.get(url)
    few, shown_few = _count(client, url, 10)
    many, shown_many = _count(client, url, 100)
    assert (shown_few, shown_many) == (10, 100)
    assert few == many, f"{url}: {few} queries for 10 rows, {many} for 100"
