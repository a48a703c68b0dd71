"""Dedup keys, cancel on resolve, the circuit breaker and the backtest, as an
on-call engineer configures them through the API."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from events.models import Binding, Event
from runbooks.models import Execution
from runbooks.runners.process import Outcome
from runbooks.worker import finish
from tests.factories import make_binding, make_runbook, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    return make_source("gen", "generic")


def post(client, source, body):
    _, token = source
    response = client.post(
        "/hooks/gen", data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 202, response.content
    return response.json()


def test_a_dedup_key_template_groups_alerts_by_what_it_names(client, source):
    runbook = make_runbook()
    make_binding(runbook, source[0], dedup_window_seconds=600, dedup_key="{{ event.labels.host }}")
    first = post(client, source, {"name": "CPU", "labels": {"host": "h1", "core": "1"}})
    same_host = post(client, source, {"name": "RAM", "labels": {"host": "h1"}})
    other_host = post(client, source, {"name": "CPU", "labels": {"host": "h2"}})
    assert len(first["executions"]) == 1 and same_host["executions"] == [] and len(other_host["executions"]) == 1
    suppressed = Event.objects.get(pk=same_host["events"][0]).suppressed_reason
    assert first["executions"][0] in suppressed  # names the run that covered it


def test_after_the_window_the_same_alert_runs_again(client, source):
    runbook = make_runbook()
    make_binding(runbook, source[0], dedup_window_seconds=60)
    first = post(client, source, {"name": "CPU"})
    Execution.objects.filter(pk=first["executions"][0]).update(created_at=timezone.now() - timedelta(minutes=5))
    from events.models import DedupEntry

    DedupEntry.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert len(post(client, source, {"name": "CPU"})["executions"]) == 1


def test_a_resolved_alert_cancels_the_run_that_has_not_started(client, source):
    runbook = make_runbook()
    make_binding(runbook, source[0], cancel_on_resolve=True)
    fired = post(client, source, {"name": "CPU", "fingerprint": "abc"})
    post(client, source, {"name": "CPU", "fingerprint": "abc", "status": "resolved"})
    execution = Execution.objects.get(pk=fired["executions"][0])
    assert execution.status == "cancelled" and "resolved" in execution.error
    assert AuditEntry.objects.filter(action="execution.cancelled", object_id=str(execution.pk)).exists()


def test_a_resolved_alert_leaves_other_fingerprints_and_other_bindings_alone(client, source):
    runbook = make_runbook()
    make_binding(runbook, source[0], cancel_on_resolve=True, name="cancels")
    make_binding(runbook, source[0], name="keeps")
    fired = post(client, source, {"name": "CPU", "fingerprint": "abc"})
    other = post(client, source, {"name": "CPU", "fingerprint": "def"})
    post(client, source, {"name": "CPU", "fingerprint": "abc", "status": "resolved"})
    statuses = dict(
        Execution.objects.filter(pk__in=fired["executions"] + other["executions"]).values_list(
            "binding__name", "status"
        )
    )
    kept = Execution.objects.filter(pk__in=fired["executions"], binding__name="keeps").get()
    assert kept.status == "queued"
    assert Execution.objects.filter(pk__in=other["executions"], status="queued").count() == 2
    assert "cancelled" in statuses.values()


def fail(execution_id):
    execution = Execution.objects.select_related("runbook").get(pk=execution_id)
    Execution.objects.filter(pk=execution_id).update(status="running", started_at=timezone.now())
    execution.status = "running"
    finish(execution, Outcome("failed", 1, error="Exited with code 1."))


def test_the_breaker_trips_after_n_failures_and_only_a_person_resets_it(client, source, api):
    runbook = make_runbook()
    binding = make_binding(runbook, source[0], breaker_failures=2, breaker_window_minutes=10)
    for i in range(2):
        fail(post(client, source, {"name": f"CPU {i}"})["executions"][0])
    binding.refresh_from_db()
    assert binding.tripped_at is not None and "2 runs failed" in binding.tripped_reason
    assert AuditEntry.objects.filter(action="binding.tripped", object_id=str(binding.pk)).exists()

    skipped = Execution.objects.get(pk=post(client, source, {"name": "CPU 3"})["executions"][0])
    assert skipped.status == "skipped" and "tripped" in skipped.error

    shown = api.get(f"/api/v1/bindings/{binding.pk}/").json()
    assert shown["tripped_at"] and shown["tripped_reason"]
    assert api.post(f"/api/v1/bindings/{binding.pk}/reset/").status_code == 200
    assert api.post(f"/api/v1/bindings/{binding.pk}/reset/").status_code == 409
    assert AuditEntry.objects.filter(action="binding.reset", actor_kind="token").exists()
    running_again = Execution.objects.get(pk=post(client, source, {"name": "CPU 4"})["executions"][0])
    assert running_again.status == "queued"
    # Failures before the reset no longer count: one more does not trip it.
    fail(running_again.pk)
    binding.refresh_from_db()
    assert binding.tripped_at is None


def test_backtest_counts_what_a_binding_would_have_run(client, source, api):
    runbook = make_runbook()
    for host in ["h1", "h1", "h2", "h3"]:
        post(client, source, {"name": "CPU", "labels": {"host": host}})
    post(client, source, {"name": "Disk", "labels": {"host": "h1"}})
    response = api.post(
        "/api/v1/bindings/",
        data=json.dumps(
            {
                "name": "cpu",
                "runbook": runbook.slug,
                "source": "gen",
                "match": [{"path": "name", "op": "eq", "value": "CPU"}],
                "dedup_window_seconds": 600,
                "dedup_key": "{{ event.labels.host }}",
            }
        ),
        content_type="application/json",
    )
    binding_id = response.json()["id"]
    result = api.post(
        f"/api/v1/bindings/{binding_id}/backtest/", data=json.dumps({"days": 1}), content_type="application/json"
    ).json()
    assert (result["events"], result["matched"], result["would_run"], result["deduplicated"]) == (5, 4, 3, 1)
    assert result["reasons"] == [{"reason": "name is 'Disk', not 'CPU'", "events": 1}]
    assert Execution.objects.filter(binding_id=binding_id).count() == 0  # nothing was run
    bad = api.post(
        f"/api/v1/bindings/{binding_id}/backtest/", data=json.dumps({"days": 0}), content_type="application/json"
    )
    assert bad.status_code == 400


def test_binding_policies_are_validated(api):
    make_runbook(slug="rb")
    base = {"name": "b", "runbook": "rb"}
    for bad in ({"dedup_key": "{{ oops"}, {"dedup_window_seconds": 10**7}, {"breaker_window_minutes": 0}):
        response = api.post("/api/v1/bindings/", data=json.dumps({**base, **bad}), content_type="application/json")
        assert response.status_code == 400, bad
    assert Binding.objects.count() == 0
