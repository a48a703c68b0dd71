"""Grafana's webhook contact point posting to a grafana source."""

import pytest

from events.models import Event
from runbooks.models import Execution
from tests.events.helpers import load, post
from tests.factories import HOST_SCHEMA, make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]


@pytest.fixture
def grafana():
    source, token = make_source("grafana", "grafana")
    runbook = make_runbook(name="Disk cleanup", parameters=HOST_SCHEMA)
    make_binding(
        runbook,
        source,
        match=[{"path": "labels.severity", "op": "eq", "value": "critical"}],
        parameters={"host": "{{ event.labels.instance }}"},
    )
    return source, token


def test_each_grafana_alert_becomes_an_event_named_after_its_alertname(client, grafana):
    _, token = grafana
    response = post(client, "grafana", load("grafana/firing-two-alerts.json"), token)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["accepted"] == 2 and len(body["executions"]) == 2
    events = list(Event.objects.order_by("labels__instance"))
    assert [(e.name, e.status, e.severity) for e in events] == [("HighDiskUsage", "firing", "critical")] * 2
    assert [e.fingerprint for e in events] == ["3f1a27e0c5b9d842", "9c04be7d21e6fa13"]
    assert events[0].summary == "Disk 95% full on web-01"
    hosts = sorted(Execution.objects.values_list("parameters__host", flat=True))
    assert hosts == ["web-01:9100", "web-02:9100"]


def test_grafana_extras_stay_in_the_event_payload(client, grafana):
    _, token = grafana
    post(client, "grafana", load("grafana/firing-two-alerts.json"), token)
    payload = Event.objects.get(labels__instance="web-01:9100").payload
    assert payload["values"] == {"A": 95.2, "C": 1}
    assert payload["valueString"].startswith("[ var='A' labels={instance=web-01:9100} value=95.2 ]")
    assert payload["dashboardURL"].startswith("https://grafana.example.com/d/rYdddlPWk")
    assert payload["panelURL"].endswith("viewPanel=12")
    assert payload["silenceURL"].startswith("https://grafana.example.com/alerting/silence/new")
    group = payload["group"]
    assert group["orgId"] == 1 and group["state"] == "alerting"
    assert group["title"].startswith("[FIRING:2] HighDiskUsage") and group["message"].startswith("**Firing**")


def test_a_resolved_grafana_alert_is_resolved_with_the_same_fingerprint(client, grafana):
    _, token = grafana
    post(client, "grafana", load("grafana/firing-two-alerts.json"), token)
    response = post(client, "grafana", load("grafana/resolved-one-alert.json"), token)
    assert response.status_code == 202 and response.json()["executions"] == []
    resolved = Event.objects.get(pk=response.json()["events"][0])
    assert resolved.status == "resolved" and resolved.fingerprint == "3f1a27e0c5b9d842"
    assert resolved.payload["group"]["state"] == "ok"


@pytest.mark.parametrize("body", [{"alerts": {}}, {"status": "firing"}, [], {"alerts": [{"labels": "x"}]}])
def test_a_body_grafana_would_not_send_is_400_and_stores_nothing(client, grafana, body):
    _, token = grafana
    response = post(client, "grafana", body, token)
    assert response.status_code == 400 and response.json()["detail"]
    assert Event.objects.count() == 0
