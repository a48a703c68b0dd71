"""POST /hooks/<slug>: what a monitoring tool gets back, and what is stored."""

import base64
import json

import pytest

from audit import trail
from audit.models import AuditEntry
from events.models import Event
from runbooks import runs
from runbooks.models import Execution
from tests.conftest import load_fixture
from tests.factories import HOST_SCHEMA, make_binding, make_runbook, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    runbook = make_runbook(name="Disk cleanup", parameters=HOST_SCHEMA)
    source, token = make_source("am", "alertmanager")
    binding = make_binding(
        runbook,
        source,
        match=[{"path": "labels.severity", "op": "eq", "value": "critical"}],
        parameters={"host": "{{ event.labels.instance }}"},
    )
    return source, token, binding


def post(client, slug, body, token=None, content_type="application/json", **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"/hooks/{slug}", data=data, content_type=content_type, **headers)


def test_two_alerts_give_two_events_and_one_execution_each_with_the_instance(client, setup):
    _source, token, binding = setup
    response = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), token)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2 and len(body["events"]) == 2 and len(body["executions"]) == 2
    executions = Execution.objects.filter(pk__in=body["executions"]).select_related("event")
    assert sorted(x.parameters["host"] for x in executions) == ["web-01:9100", "web-02:9100"]
    assert {x.status for x in executions} == {"queued"}
    assert all(x.binding_id == binding.pk and x.event.labels["instance"] == x.parameters["host"] for x in executions)
    assert trail.verify().ok


def test_a_run_and_its_rerun_are_listed_under_the_alerts_source(client, setup):
    """The executions list's ?source= finds runs of that source's alerts, reruns included."""
    source, token, _binding = setup
    first = post(client, "am", load_fixture("alertmanager/firing-one-alert.json"), token).json()["executions"][0]
    execution = Execution.objects.get(pk=first)
    assert execution.source_id == source.pk
    rerun = runs.rerun(execution, None, trail.SYSTEM)
    assert rerun.source_id == source.pk
    other, _ = make_source("other", "generic")
    assert set(Execution.objects.filter(source__slug="am").values_list("pk", flat=True)) == {execution.pk, rerun.pk}
    assert not Execution.objects.filter(source=other).exists()


def test_trailing_slash_and_basic_auth_work(client, setup):
    _, token, _ = setup
    basic = base64.b64encode(f"alertmanager:{token}".encode()).decode()
    response = post(
        client.__class__(),
        "am/",
        load_fixture("alertmanager/resolved-one-alert.json"),
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 202
    assert response.json()["executions"] == []  # resolved: the binding runs on firing


def test_each_matching_binding_runs_and_non_matching_do_not(client, setup):
    source, token, _binding = setup
    other = make_runbook(name="Page DBA")
    make_binding(other, None, match=[{"path": "labels.service", "op": "eq", "value": "checkout"}], name="any source")
    make_binding(other, source, match=[{"path": "labels.job", "op": "eq", "value": "mysql"}], name="no match")
    body = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), token).json()
    assert len(body["executions"]) == 4


@pytest.mark.parametrize("auth", [None, "Bearer nope", "Bearer sts_aaaaaaaa_" + "b" * 32, "Basic !!!"])
def test_bad_credentials_are_401_and_store_nothing(client, setup, auth):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), **headers)
    assert response.status_code == 401
    assert Event.objects.count() == 0 and Execution.objects.count() == 0


def test_another_sources_token_is_refused(client, setup):
    _, other_token = make_source("other", "generic")
    assert post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), other_token).status_code == 401


def test_unknown_source_is_404(client):
    assert post(client, "nope", {"name": "x"}, "whatever").status_code == 404


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        ("{not json", "application/json", 400),
        ({"alerts": "nope"}, "application/json", 400),
        ("name=x", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_bad_bodies_get_a_clear_4xx_and_store_nothing(client, setup, body, content_type, status):
    _, token, _ = setup
    entries = AuditEntry.objects.count()
    response = post(client, "am", body, token, content_type=content_type)
    assert response.status_code == status
    assert response.json()["detail"]
    assert Event.objects.count() == 0 and AuditEntry.objects.count() == entries


def test_over_the_size_limit_is_413(client, setup, settings):
    settings.STEWARD_WEBHOOK_MAX_BYTES = 1000
    _, token, _ = setup
    response = post(client, "am", {"alerts": [], "pad": "x" * 2000}, token)
    assert response.status_code == 413


def test_get_is_405(client, setup):
    assert client.get("/hooks/am").status_code == 405


def test_generic_source_with_the_contract_defaults(client):
    runbook = make_runbook(parameters=HOST_SCHEMA)
    source, token = make_source("gen", "generic")
    make_binding(
        runbook,
        source,
        match=[{"path": "name", "op": "eq", "value": "DiskFull"}],
        parameters={"host": "{{ event.labels.instance }}"},
    )
    response = post(client, "gen", {"alertname": "DiskFull", "labels": {"instance": "db-9"}}, token)
    assert response.status_code == 202
    execution = Execution.objects.get(pk=response.json()["executions"][0])
    assert execution.parameters == {"host": "db-9"}
    event = Event.objects.get(pk=response.json()["events"][0])
    assert event.status == "firing" and len(event.fingerprint) == 32


def test_a_template_that_cannot_render_gives_a_failed_execution_with_the_reason(client, setup):
    _source, token, binding = setup
    binding.parameters = {"host": "{{ event.labels.hostname }}"}
    binding.save()
    body = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), token).json()
    execution = Execution.objects.get(pk=body["executions"][0])
    assert execution.status == "failed"
    assert "hostname" in execution.error and execution.finished_at is not None


def test_parameters_that_fail_the_schema_give_a_failed_execution(client, setup):
    _source, token, binding = setup
    binding.parameters = {}
    binding.save()
    body = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), token).json()
    execution = Execution.objects.get(pk=body["executions"][0])
    assert execution.status == "failed" and "host" in execution.error


def test_dedup_window_suppresses_a_repeat_of_the_same_alert(client, setup):
    _source, token, binding = setup
    binding.dedup_window_seconds = 300
    binding.save()
    payload = load_fixture("alertmanager/firing-two-alerts.json")
    first = post(client, "am", payload, token).json()
    second = post(client, "am", payload, token).json()
    assert len(first["executions"]) == 2 and second["executions"] == []
    assert "duplicate of execution" in Event.objects.get(pk=second["events"][0]).suppressed_reason


def test_requires_approval_creates_runs_awaiting_approval(client, setup):
    _source, token, binding = setup
    binding.requires_approval = True
    binding.save()
    body = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), token).json()
    assert set(Execution.objects.filter(pk__in=body["executions"]).values_list("status", flat=True)) == {
        "awaiting_approval"
    }


def test_database_errors_are_503_with_retry_after(client, setup, monkeypatch):
    from django.db import OperationalError

    from events import ingest

    def down(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(ingest, "ingest", down)
    _, token, _ = setup
    response = post(client, "am", load_fixture("alertmanager/firing-two-alerts.json"), token)
    assert response.status_code == 503 and response["Retry-After"]
