"""Alertmanager and Grafana re-send every still-firing alert of a group when
the group changes: a re-notification of the same firing (fingerprint and
startsAt) never runs a binding again, even with the default window of 0;
a new firing of the same alert does."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from events import dedup
from events.models import DedupEntry, Event
from runbooks.models import Execution
from tests.events.helpers import load, post
from tests.factories import make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]


@pytest.fixture
def alertmanager():
    source, token = make_source("am", "alertmanager")
    binding = make_binding(make_runbook(name="Clean disk"), source, name="clean", on_status="any")
    return token, binding


def _send(client, token, payload, slug="am"):
    response = post(client, slug, payload, token)
    assert response.status_code == 202, response.content
    return response.json()


def test_a_re_notification_of_a_firing_alert_does_not_run_again(client, alertmanager):
    token, binding = alertmanager
    assert binding.dedup_window_seconds == 0
    one = load("alertmanager/firing-one-alert.json")
    first = _send(client, token, one)
    assert len(first["executions"]) == 1
    # The group changed (a second alert joined): Alertmanager sends both.
    group = load("alertmanager/firing-two-alerts.json")
    group["alerts"].append(one["alerts"][0])
    second = _send(client, token, group)
    assert len(second["events"]) == 3 and len(second["executions"]) == 2
    resent = Event.objects.get(pk=second["events"][2])
    assert resent.suppressed_reason == (
        "binding clean: a re-notification of the same alert (fingerprint and startsAt),"
        f" which execution {first['executions'][0]} ran for"
    )
    assert Execution.objects.count() == 3


def test_a_new_firing_of_the_same_alert_runs(client, alertmanager):
    token, _ = alertmanager
    one = load("alertmanager/firing-one-alert.json")
    assert len(_send(client, token, one)["executions"]) == 1
    again = copy.deepcopy(one)
    again["alerts"][0]["startsAt"] = "2026-11-29T09:00:00Z"  # it resolved and fired again
    assert len(_send(client, token, again)["executions"]) == 1


def test_the_resolve_of_a_firing_runs_once(client, alertmanager):
    token, _ = alertmanager
    firing = load("alertmanager/firing-one-alert.json")
    resolved = copy.deepcopy(firing)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    assert len(_send(client, token, firing)["executions"]) == 1
    assert len(_send(client, token, resolved)["executions"]) == 1
    assert _send(client, token, resolved)["executions"] == []


def test_each_binding_runs_once_per_occurrence(client, alertmanager):
    token, binding = alertmanager
    make_binding(binding.runbook, binding.source, name="second")
    payload = load("alertmanager/firing-one-alert.json")
    assert len(_send(client, token, payload)["executions"]) == 2
    assert _send(client, token, payload)["executions"] == []


def test_grafana_re_notifications_do_not_run_again(client):
    source, token = make_source("graf", "grafana")
    make_binding(make_runbook(name="Clean disk"), source)
    payload = load("grafana/firing-two-alerts.json")
    assert len(_send(client, token, payload, "graf")["executions"]) == 2
    assert _send(client, token, payload, "graf")["executions"] == []


def test_generic_sources_keep_running_every_delivery(client):
    """Only alert-group tools re-send; a generic sender means each POST."""
    source, token = make_source("gen", "generic")
    make_binding(make_runbook(name="Clean disk"), source)
    body = {"name": "Disk", "startsAt": "2026-11-29T02:29:33Z", "fingerprint": "f1"}
    assert len(_send(client, token, body, "gen")["executions"]) == 1
    assert len(_send(client, token, body, "gen")["executions"]) == 1


def test_occurrences_are_remembered_for_seven_days_then_purged(client, alertmanager):
    token, _ = alertmanager
    payload = load("alertmanager/firing-one-alert.json")
    _send(client, token, payload)
    entry = DedupEntry.objects.get()
    assert entry.key.startswith(dedup.OCCURRENCE_PREFIX)
    assert dedup.purge(timezone.now() + timedelta(days=6)) == 0
    assert _send(client, token, payload)["executions"] == []
    assert dedup.purge(timezone.now() + timedelta(days=7, seconds=1)) == 1
    assert not DedupEntry.objects.exists()


def test_the_alertmanager_snippet_and_the_binding_form_say_so(client):
    from tests.factories import make_user

    client.force_login(make_user("admin", username="ana"))
    make_source("prom", "alertmanager")
    assert "a re-notification never runs it again" in client.get("/sources/prom/").content.decode()
    form = client.get("/bindings/new/").content.decode()
    assert "re-notification of the same firing (fingerprint and startsAt) never runs again" in form
