"""Sources, bindings and schedules in the browser's pages."""

import json

import pytest
from django.utils import timezone

from events.models import Binding, Source
from runbooks.models import Schedule
from tests.factories import make_binding, make_runbook, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def hook(client, slug, token):
    return client.post(
        f"/hooks/{slug}",
        data=json.dumps({"name": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_new_source_lands_on_its_page_showing_its_token_once_in_a_ready_snippet(logged_in, client):
    response = logged_in.post(
        "/sources/new/", {"name": "Prod AM", "kind": "alertmanager", "rate_limit_per_minute": 100}, follow=True
    )
    assert response.redirect_chain == [("/sources/prod-am/", 302)]
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    source = Source.objects.get(slug="prod-am")
    token = html.split('id="token">')[1].split("<")[0]
    assert token.startswith("sts_") and source.check_token(token)
    assert "http://127.0.0.1:8000/hooks/prod-am" in html and f"credentials: {token}" in html
    later = logged_in.get("/sources/prod-am/").content.decode()
    assert token not in later and "shown only when created or rotated" in later
    assert hook(client.__class__(), "prod-am", token).status_code == 400  # authenticated; body is not Alertmanager's


def test_rotating_a_token_without_grace_shows_the_new_one_and_the_old_one_stops_working(logged_in):
    _source, old = make_source("gen", "generic")
    html = logged_in.post("/sources/gen/rotate", {"grace_minutes": "0"}).content.decode()
    new = html.split('id="token">')[1].split("<")[0]
    assert new != old and f"Bearer {new}" in html
    from django.test import Client

    assert hook(Client(), "gen", old).status_code == 401
    assert hook(Client(), "gen", new).status_code == 202


def test_rotating_a_token_keeps_the_old_one_for_the_grace_period_shown_on_the_page(logged_in):
    _source, old = make_source("gen", "generic")
    assert 'for="grace_minutes"' in logged_in.get("/sources/gen/").content.decode()
    html = logged_in.post("/sources/gen/rotate", {"grace_minutes": "30"}).content.decode()
    new = html.split('id="token">')[1].split("<")[0]
    assert "The old token works until" in html and "keeps working until" in html
    from django.test import Client

    assert hook(Client(), "gen", old).status_code == 202
    assert hook(Client(), "gen", new).status_code == 202
    # Nonsense grace periods change nothing.
    for bad in ("-1", "x", "999999"):
        response = logged_in.post("/sources/gen/rotate", {"grace_minutes": bad})
        assert response.status_code == 302
    assert hook(Client(), "gen", new).status_code == 202


def test_a_source_form_with_errors_explains_them(logged_in):
    response = logged_in.post("/sources/new/", {"name": "PD", "kind": "pagerduty", "rate_limit_per_minute": 0})
    assert response.status_code == 200 and b"signing secret" in response.content
    assert not Source.objects.exists()


def test_the_source_page_refuses_what_the_api_refuses_each_problem_at_once(logged_in):
    # The rules are events/validation.py's, not the API serializer's: a short
    # secret and a preset on a pagerduty source are both named on the form.
    response = logged_in.post(
        "/sources/new/",
        {"name": "PD", "kind": "pagerduty", "preset": "datadog", "signing_secret": "short", "rate_limit_per_minute": 0},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "a signing secret of 16 to 255 characters" in html and "only generic sources take a preset" in html
    assert not Source.objects.exists()


def test_a_taken_source_name_is_explained_on_the_form(logged_in):
    make_source("prod")
    response = logged_in.post("/sources/new/", {"name": "PROD", "kind": "grafana", "rate_limit_per_minute": 1})
    assert response.status_code == 200 and "a source with this name exists" in response.content.decode()
    assert Source.objects.count() == 1


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("grafana", "Contact points"),
        ("pagerduty", "Generic Webhooks (v3)"),
        ("sns", "--notification-endpoint &#x27;http://steward:"),
        ("generic", "curl -sS -X POST"),
    ],
)
def test_each_kind_has_its_own_snippet(logged_in, kind, expected):
    make_source("s", kind, **({"signing_secret": "s" * 32} if kind == "pagerduty" else {}))
    assert expected in logged_in.get("/sources/s/").content.decode()


def test_the_binding_tester_explains_matches_and_non_matches(logged_in):
    runbook = make_runbook()
    make_binding(
        runbook,
        None,
        name="critical disks",
        match=[{"path": "labels.severity", "op": "eq", "value": "critical"}],
        parameters={"host": "{{ event.labels.instance }}"},
    )
    event = json.dumps({"name": "Disk", "labels": {"severity": "warning", "instance": "web-1"}})
    html = logged_in.post("/bindings/test/", {"event": event}).content.decode()
    assert "no match" in html and "labels.severity is &#x27;warning&#x27;, not &#x27;critical&#x27;" in html
    event = json.dumps({"name": "Disk", "labels": {"severity": "critical", "instance": "web-1"}})
    html = logged_in.post("/bindings/test/", {"event": event}).content.decode()
    assert "would run" in html and "web-1" in html
    assert "Paste an event" in logged_in.post("/bindings/test/", {"event": ""}).content.decode()
    event = json.dumps({"name": "Disk", "status": "pending"})
    html = logged_in.post("/bindings/test/", {"event": event}).content.decode()
    assert "event: status must be firing or resolved" in html


def test_a_tripped_binding_shows_it_and_a_person_resets_it(logged_in):
    binding = make_binding(make_runbook(), None, breaker_failures=3)
    Binding.objects.filter(pk=binding.pk).update(tripped_at=timezone.now(), tripped_reason="3 runs failed")
    html = logged_in.get("/bindings/").content.decode()
    assert "tripped" in html and "3 runs failed" in html
    logged_in.post(f"/bindings/{binding.pk}/reset")
    binding.refresh_from_db()
    assert binding.tripped_at is None


def test_schedules_page_lists_them(logged_in):
    runbook = make_runbook(name="Nightly cleanup", slug="cleanup")
    Schedule.objects.create(name="every night", runbook=runbook, cron="0 3 * * *", time_zone="Europe/Berlin")
    Schedule.objects.create(name="paused one", runbook=runbook, cron="*/5 * * * *", enabled=False)
    response = logged_in.get("/schedules/")
    html = response.content.decode()
    assert response.status_code == 200 and "No schedules yet." not in html
    assert "every night" in html and "<code>0 3 * * *</code> <small>Europe/Berlin</small>" in html
    assert "paused one <small>(disabled)</small>" in html
    assert html.count('<a href="/runbooks/cleanup/">Nightly cleanup</a>') == 2


def test_an_empty_schedules_page_says_so(logged_in):
    assert "No schedules yet." in logged_in.get("/schedules/").content.decode()


def test_the_backtest_page_shows_what_a_binding_would_have_run(logged_in):
    source, token = make_source("gen", "generic")
    binding = make_binding(make_runbook(), source, match=[{"path": "name", "op": "eq", "value": "x"}])
    from django.test import Client

    for _ in range(3):
        hook(Client(), "gen", token)
    html = logged_in.get(f"/bindings/{binding.pk}/backtest/?days=2").content.decode()
    assert "started\n  <strong>3</strong> runs" in html or "<strong>3</strong> runs" in html
    # A days value that is not a number falls back to the default week, shown as such.
    fallback = logged_in.get(f"/bindings/{binding.pk}/backtest/?days=nope")
    assert fallback.status_code == 200 and "Over the last 7 days" in fallback.content.decode()
