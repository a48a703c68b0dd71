"""List filters, sorts and cursors as a script uses them, and the 400s it
gets for bad input."""

import base64
import json
from datetime import timedelta, timezone
from urllib.parse import quote

import pytest

from runbooks.models import Execution


def _all(api, url):
    """Every row of a list, following `next`."""
    rows = []
    while url:
        body = api.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


def test_executions_filter_by_several_statuses_in_either_form(api, crowd):
    failed = Execution.objects.filter(status="failed").count()
    assert failed and failed < Execution.objects.count()
    for query in ("status=failed,timed_out", "status=failed&status=timed_out"):
        rows = _all(api, f"/api/v1/executions/?{query}&page_size=30")
        assert len(rows) == failed and {r["status"] for r in rows} == {"failed"}


def test_executions_filter_by_runbook_source_binding_and_time(api, crowd):
    runbook = crowd["runbooks"][3]
    rows = _all(api, f"/api/v1/executions/?runbook={runbook.slug}")
    assert rows and {r["runbook"] for r in rows} == {runbook.slug}

    source = crowd["sources"][2]  # events go round the first 7 sources
    rows = _all(api, f"/api/v1/executions/?source={source.slug}")
    expected = Execution.objects.filter(event__source=source).count()
    assert len(rows) == expected > 0

    binding = crowd["bindings"][0]
    rows = _all(api, f"/api/v1/executions/?binding={binding.pk}")
    assert rows and {r["binding"] for r in rows} == {str(binding.pk)}

    newest = Execution.objects.order_by("-created_at")[4].created_at
    rows = _all(api, f"/api/v1/executions/?created_after={newest.isoformat().replace('+00:00', 'Z')}")
    assert len(rows) == 5


def test_free_text_finds_runs_by_parameter_and_runbook_name(api, crowd):
    rows = _all(api, "/api/v1/executions/?q=web-042")
    assert [r["parameters"] for r in rows] == [{"host": "web-042"}]
    rows = _all(api, "/api/v1/executions/?q=Runbook 004")
    assert rows and {r["runbook"] for r in rows} == {"rb-004"}


def test_the_cursor_keeps_the_filters_and_the_order(api, crowd):
    first = api.get("/api/v1/executions/?status=failed&ordering=created_at&page_size=7").json()
    assert "status=failed" in first["next"] and "ordering=created_at" in first["next"]
    rows = _all(api, "/api/v1/executions/?status=failed&ordering=created_at&page_size=7")
    times = [r["created_at"] for r in rows]
    assert times == sorted(times) and len(rows) == Execution.objects.filter(status="failed").count()


def test_runbooks_sort_by_name_both_ways(api, crowd):
    names = [r["name"] for r in _all(api, "/api/v1/runbooks/?ordering=-name&page_size=50")]
    assert names == sorted(names, reverse=True) and len(names) == len(crowd["runbooks"])


def test_events_bindings_sources_and_audit_filter(api, crowd):
    source = crowd["sources"][1]
    events = _all(api, f"/api/v1/events/?source={source.slug}&q=web")
    assert events and {e["source"] for e in events} == {source.slug}
    bindings = _all(api, f"/api/v1/bindings/?runbook={crowd['runbooks'][5].slug}")
    assert [b["name"] for b in bindings] == ["binding 005"]
    assert [s["slug"] for s in _all(api, "/api/v1/sources/?q=src-007")] == ["src-007"]
    entries = _all(api, "/api/v1/audit/?q=thing-11&action=test.noted")
    assert sorted(e["object_id"] for e in entries) == [f"thing-{i}" for i in [11, *range(110, 120)]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=exploded", "status"),
        ("status=failed,exploded", "status"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-01", "created_before"),
        ("ordering=parameters", "ordering"),
        ("ordering=-status", "ordering"),
        ("event=not-a-uuid", "event"),
        ("binding=12", "binding"),
        ("q=ab", "q"),
    ],
)
def test_bad_filter_input_is_a_400_naming_the_field(api, db, query, field):
    response = api.get(f"/api/v1/executions/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith(f"{field}:") and field in body["errors"]


def test_bad_filters_on_the_other_lists_are_400s_too(api, db):
    for url in (
        "/api/v1/events/?status=burning",
        "/api/v1/events/?ordering=name",
        "/api/v1/runbooks/?kind=perl",
        "/api/v1/bindings/?enabled=maybe",
        "/api/v1/sources/?kind=nagios",
        "/api/v1/audit/?since=nope",
        "/api/v1/audit/?ordering=actor",
    ):
        response = api.get(url)
        assert response.status_code == 400, url
        assert response.json()["errors"], url


def test_bindings_filter_by_state(api, crowd):
    from django.utils import timezone

    tripped = crowd["bindings"][2]
    tripped.tripped_at, tripped.enabled = timezone.now(), False
    tripped.save()
    assert [b["name"] for b in _all(api, "/api/v1/bindings/?tripped=true")] == ["binding 002"]
    assert [b["name"] for b in _all(api, "/api/v1/bindings/?enabled=false")] == ["binding 002"]
    assert len(_all(api, "/api/v1/bindings/?tripped=false")) == len(crowd["bindings"]) - 1


# Valid RFC 3339 times that leave years 1..9999 once moved to UTC (Python
# cannot hold them; they were 500s): before, or after, every stored row.
BEFORE_EVERY_ROW = ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00+23:59"]
AFTER_EVERY_ROW = ["9999-12-31T23:59:59-05:00", "9999-12-31T23:00:00-16:05"]


@pytest.mark.parametrize("url", ["/api/v1/bindings/", "/api/v1/events/", "/api/v1/runbooks/", "/api/v1/audit/"])
def test_a_time_outside_what_python_holds_filters_as_before_or_after_every_row(api, crowd, url):
    everything = len(api.get(url, {"page_size": 500}).json()["results"])
    assert everything > 0
    for moment in BEFORE_EVERY_ROW:
        assert api.get(url, {"created_before": moment, "page_size": 500}).json()["results"] == [], moment
        assert len(api.get(url, {"created_after": moment, "page_size": 500}).json()["results"]) == everything
    for moment in AFTER_EVERY_ROW:
        assert len(api.get(url, {"created_before": moment, "page_size": 500}).json()["results"]) == everything
        assert api.get(url, {"created_after": moment, "page_size": 500}).json()["results"] == [], moment


@pytest.mark.parametrize("url", ["/api/v1/bindings/", "/api/v1/events/", "/api/v1/runbooks/", "/api/v1/executions/"])
def test_a_time_with_any_offset_python_parses_filters_as_the_same_instant(api, crowd, url):
    """-16:05 is past PostgreSQL's offsets: it used to be a 500 there."""
    everything = len(_all(api, f"{url}?page_size=500"))
    early = {"created_before": "0462-08-20T08:38:42-16:05", "page_size": 500}
    assert api.get(url, early).json()["results"] == []
    late = {"created_after": "0462-08-20T08:38:42-16:05", "page_size": 500}
    assert len(api.get(url, late).json()["results"]) == everything > 0
    # The same instant written in UTC and at +14:00 finds the same rows.
    newest = Execution.objects.order_by("-created_at")[4].created_at
    at_utc = newest.isoformat()
    at_plus_14 = newest.astimezone(timezone(timedelta(hours=14)))
    assert len(_all(api, f"/api/v1/executions/?created_after={at_utc.replace('+00:00', 'Z')}")) == 5
    plus = at_plus_14.isoformat().replace("+", "%2B")
    assert len(_all(api, f"/api/v1/executions/?created_after={plus}")) == 5


@pytest.mark.parametrize("page_size", ["abc", "null", "1.5", "0", "-3", "501", "", "1e3", "٣"], ids=repr)
def test_page_size_must_be_a_whole_number_from_1_to_500(api, db, page_size):
    response = api.get("/api/v1/executions/", {"page_size": page_size})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "page_size: a whole number from 1 to 500" and "page_size" in body["errors"]


def test_page_size_in_range_sets_the_page(api, crowd):
    assert len(api.get("/api/v1/executions/", {"page_size": "500"}).json()["results"]) == Execution.objects.count()
    body = api.get("/api/v1/executions/", {"page_size": "1"}).json()
    assert len(body["results"]) == 1 and "page_size=1" in body["next"]


@pytest.mark.parametrize("cursor", ["garbage", "%%%", "cD0yMDI2LTEzLTAx", "bz0tNSZyPTE%3D"])
def test_an_invalid_cursor_is_a_400_naming_it(api, crowd, cursor):
    response = api.get(f"/api/v1/executions/?cursor={cursor}")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == "cursor: not a cursor this list gave out; start again without it"


def test_a_cursor_whose_time_has_an_offset_postgresql_refuses_still_pages(api, crowd):
    """A cursor is base64 a client can edit; its time reaches the query."""
    position = json.dumps([">", "2999-01-01T00:00:00-16:05", "00000000-0000-0000-0000-000000000000"])
    cursor = quote(base64.urlsafe_b64encode(position.encode()).decode())
    response = api.get(f"/api/v1/executions/?cursor={cursor}&page_size=500")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == Execution.objects.count()
