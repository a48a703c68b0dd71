"""List filters, sorts and cursors as a script uses them, and the 400s it
gets for bad input."""

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
