"""Keyset pagination when many rows share the ordering's timestamp (a
burst of alerts, a bulk import): paging through the API's lists and the
pages' lists shows every row exactly once. Every other list fixture gives
each row a time of its own, which hides a paginator that skips or repeats
rows at a tie."""

import itertools
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit import trail
from events.models import Binding, Event, Source
from gates.models import Check, Gate
from notifications.models import Channel, Delivery, Subscription
from runbooks.models import Execution, Runbook, Schedule, Secret
from tests.factories import make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db

N = 13  # not a multiple of any page size below: the last page is partial
SIZES = (1, 7)


@pytest.fixture
def tied():
    """N rows of every list, all at one and the same moment."""
    moment = timezone.now().replace(microsecond=0)
    runbooks = [make_runbook(name=f"Tied {i:02d}", slug=f"tied-{i:02d}") for i in range(N)]
    sources = [make_source(slug=f"src-{i:02d}")[0] for i in range(N)]
    Binding.objects.bulk_create(
        Binding(name=f"binding {i:02d}", runbook=runbooks[i], source=sources[i], match=[], parameters={})
        for i in range(N)
    )
    events = Event.objects.bulk_create(
        Event(source=sources[0], status="firing", name=f"Burst {i}", fingerprint=f"fp-{i}") for i in range(N)
    )
    Execution.objects.bulk_create(
        Execution(runbook=runbooks[0], version=runbooks[0].current_version, status="succeeded", event=events[i])
        for i in range(N)
    )
    Secret.objects.bulk_create(Secret(name=f"TIED_{i:02d}", ciphertext="x") for i in range(N))
    Schedule.objects.bulk_create(Schedule(name=f"s{i}", runbook=runbooks[0], cron="0 3 * * *") for i in range(N))
    gates = Gate.objects.bulk_create(Gate(name=f"gate-{i:02d}") for i in range(N))
    Check.objects.bulk_create(Check(gate=gates[0], fields={"n": i}) for i in range(N))
    channels = Channel.objects.bulk_create(
        Channel(slug=f"ch-{i:02d}", name=f"Ch {i}", kind="email", recipients=["r@example.com"]) for i in range(N)
    )
    Subscription.objects.bulk_create(
        Subscription(channel=channels[i], runbook=runbooks[i], events=["run_failed"]) for i in range(N)
    )
    Delivery.objects.bulk_create(Delivery(channel=channels[0], channel_name="Ch 0", event="test") for _ in range(N))
    for model in (Runbook, Source, Binding, Execution, Secret, Schedule, Gate, Check, Channel, Subscription, Delivery):
        model.objects.update(created_at=moment)
    Event.objects.update(received_at=moment)
    for i in range(N):
        trail.record(trail.SYSTEM, trail.Change("test.noted", "thing", f"thing-{i}"))
    return moment


# path, the field naming a row, the rows it lists
API_LISTS = [
    ("/api/v1/runbooks/", "slug", lambda: Runbook.objects.filter(slug__startswith="tied-")),
    ("/api/v1/executions/", "id", lambda: Execution.objects.all()),
    ("/api/v1/sources/", "slug", lambda: Source.objects.all()),
    ("/api/v1/bindings/", "id", lambda: Binding.objects.all()),
    ("/api/v1/events/", "id", lambda: Event.objects.all()),
    ("/api/v1/secrets/", "id", lambda: Secret.objects.all()),
    ("/api/v1/schedules/", "id", lambda: Schedule.objects.all()),
    ("/api/v1/gates/", "name", lambda: Gate.objects.all()),
    ("/api/v1/gates/gate-00/checks/", "id", lambda: Check.objects.all()),
    ("/api/v1/channels/", "slug", lambda: Channel.objects.all()),
    ("/api/v1/subscriptions/", "id", lambda: Subscription.objects.all()),
    ("/api/v1/deliveries/", "id", lambda: Delivery.objects.all()),
    ("/api/v1/audit/", "seq", None),
]


def walk_api(api, path, key, size):
    seen, url, pages = [], f"{path}?page_size={size}", 0
    while url:
        response = api.get(url)
        assert response.status_code == 200, (url, response.content)
        body = response.json()
        assert len(body["results"]) <= size
        seen += [str(row[key]) for row in body["results"]]
        url, pages = body["next"], pages + 1
        assert pages <= 200, f"{path}: the pages never end"
    return seen


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("path", "key", "rows"), API_LISTS, ids=[p for p, _, _ in API_LISTS])
def test_the_api_lists_every_tied_row_exactly_once(tied, path, key, rows, size):
    api = APIClient()
    api.force_authenticate(make_user("admin"))
    seen = walk_api(api, path, key, size)
    if rows is None:
        from audit.models import AuditEntry

        expected = {str(seq) for seq in AuditEntry.objects.values_list("seq", flat=True)}
    else:
        expected = {str(getattr(row, "pk" if key == "id" else key)) for row in rows()}
    assert len(expected) >= N
    assert len(seen) == len(set(seen)), f"{path}: rows repeated"
    assert set(seen) == expected, f"{path}: rows skipped: {sorted(expected - set(seen))[:5]}"


@pytest.mark.parametrize("path", ["/api/v1/executions/", "/api/v1/events/", "/api/v1/gates/gate-00/checks/"])
def test_the_api_pages_back_over_a_tie_too(tied, path):
    """Forward to the end, then `previous` back to the start: each page
    again, the same rows in the same order."""
    api = APIClient()
    api.force_authenticate(make_user("admin"))
    pages, url = [], f"{path}?page_size=5"
    while url:
        body = api.get(url).json()
        pages.append((body, [row["id"] for row in body["results"]]))
        url = body["next"]
    assert len(pages) == -(-N // 5) >= 3
    for (_, expected), (later, _) in itertools.pairwise(pages):
        back = api.get(later["previous"])
        assert back.status_code == 200
        assert [row["id"] for row in back.json()["results"]] == expected
    assert pages[0][0]["previous"] is None


# page, the pattern of a row's link, the rows it lists
PAGE_LISTS = [
    ("/executions/", r'href="/executions/([0-9a-f-]{36})/"', lambda: Execution.objects.values_list("pk", flat=True)),
    ("/events/", r'href="/events/([0-9a-f-]{36})/"', lambda: Event.objects.values_list("pk", flat=True)),
    ("/runbooks/", r'href="/runbooks/(tied-\d\d)/"', lambda: Runbook.objects.values_list("slug", flat=True)),
    ("/sources/", r'href="/sources/(src-\d\d)/"', lambda: Source.objects.values_list("slug", flat=True)),
    ("/bindings/", r'href="/bindings/([0-9a-f-]{36})/backtest/"', lambda: Binding.objects.values_list("pk", flat=True)),
]


def _links(html: str, rel: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'<a href="([^"]+)" rel="{rel}"', html)]


@pytest.mark.parametrize("size", (4,))
@pytest.mark.parametrize(("page", "pattern", "rows"), PAGE_LISTS, ids=[p for p, _, _ in PAGE_LISTS])
def test_the_pages_list_every_tied_row_exactly_once(tied, client, page, pattern, rows, size):
    client.force_login(make_user("viewer"))
    seen, url, pages = [], f"{page}?page_size={size}", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        # A row's link may appear more than once in its row: count rows, not links.
        shown = list(dict.fromkeys(re.findall(pattern, html)))
        assert len(shown) <= size
        seen += shown
        nexts = _links(html, "next")
        url = f"{page}{nexts[0]}" if nexts and not urlsplit(nexts[0]).path else (nexts[0] if nexts else None)
        pages += 1
        assert pages <= 200, f"{page}: the pages never end"
    expected = {str(v) for v in rows() if page != "/runbooks/" or str(v).startswith("tied-")}
    assert len(seen) == len(set(seen)), f"{page}: rows repeated"
    assert set(seen) == expected, f"{page}: rows skipped: {sorted(expected - set(seen))[:5]}"
