"""Runs that wait for a person: four eyes over the API and the pages, a
reason for every rejection, and requests that expire unanswered."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEntry
from ops import sweep
from runbooks import approvals, schedules
from runbooks import worker as execution
from runbooks.models import Execution, Schedule
from tests.factories import make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def requester(api_as):
    return api_as(make_user("responder", username="alice"))


@pytest.fixture
def reviewer(api_as):
    return api_as(make_user("responder", username="bob"))


def awaiting_run(requester) -> str:
    make_runbook(slug="deploy", script="print('deployed')", requires_approval=True)
    response = post(requester, "/api/v1/runbooks/deploy/run/")
    assert response.status_code == 202
    return response.json()["execution"]


def test_a_runbook_that_requires_approval_makes_a_manual_run_wait(requester):
    execution_id = awaiting_run(requester)
    body = requester.get(f"/api/v1/executions/{execution_id}/").json()
    assert body["status"] == "awaiting_approval" and body["requested_by"] == "alice"
    assert Execution.objects.get(pk=execution_id).enqueued_at is None  # nothing sent to a worker


def test_the_requester_cannot_approve_or_reject_their_own_run(requester):
    execution_id = awaiting_run(requester)
    for verb, body in (("approve", {}), ("reject", {"reason": "changed my mind"})):
        response = post(requester, f"/api/v1/executions/{execution_id}/{verb}/", body)
        assert response.status_code == 403
        assert "another responder must approve or reject it" in response.json()["detail"]
    assert Execution.objects.get(pk=execution_id).status == "awaiting_approval"
    # The requester may still withdraw it.
    assert post(requester, f"/api/v1/executions/{execution_id}/cancel/").status_code == 202


def test_another_responder_approves_with_a_reason_and_the_run_is_queued(requester, reviewer):
    execution_id = awaiting_run(requester)
    response = post(reviewer, f"/api/v1/executions/{execution_id}/approve/", {"reason": "change CHG-42"})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["decision"] == "approved"
    assert body["decided_by"] == "bob" and body["decision_reason"] == "change CHG-42"
    assert Execution.objects.get(pk=execution_id).enqueued_at is not None
    entry = AuditEntry.objects.get(action="execution.approved", object_id=execution_id)
    assert entry.actor.startswith("bob:") and entry.after["reason"] == "change CHG-42"
    again = post(reviewer, f"/api/v1/executions/{execution_id}/approve/")
    assert again.status_code == 409 and "not awaiting approval (it is queued)" in again.json()["detail"]


def test_a_run_started_by_a_binding_has_no_requester_so_any_responder_approves(client, api_as):
    runbook = make_runbook(slug="fix", script="print(1)")
    _source, token = make_source("gen", "generic")
    make_binding(runbook, _source, requires_approval=True)
    hooked = client.post(
        "/hooks/gen",
        data=json.dumps({"name": "Down"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    execution_id = hooked.json()["executions"][0]
    assert Execution.objects.get(pk=execution_id).status == "awaiting_approval"
    anyone = api_as(make_user("responder", username="carol"))
    assert post(anyone, f"/api/v1/executions/{execution_id}/approve/").status_code == 202


def test_a_rejection_needs_a_reason_and_the_run_never_starts(requester, reviewer):
    execution_id = awaiting_run(requester)
    missing = post(reviewer, f"/api/v1/executions/{execution_id}/reject/", {})
    assert missing.status_code == 400 and missing.json()["detail"].startswith("reason:")
    blank = post(reviewer, f"/api/v1/executions/{execution_id}/reject/", {"reason": "   "})
    assert blank.status_code == 400
    rejected = post(reviewer, f"/api/v1/executions/{execution_id}/reject/", {"reason": "outside the change window"})
    assert rejected.status_code == 200
    body = rejected.json()
    assert body["status"] == "rejected" and body["decision_reason"] == "outside the change window"
    assert body["error"] == "Rejected by bob: outside the change window" and body["finished_at"]
    assert AuditEntry.objects.filter(action="execution.rejected", object_id=execution_id).exists()
    assert post(reviewer, f"/api/v1/executions/{execution_id}/approve/").status_code == 409
    execution.run(execution_id)  # a stray message starts nothing
    assert Execution.objects.get(pk=execution_id).started_at is None


@pytest.mark.parametrize("body", ["[]", '"x"', "not json", '{"reason": ["a"]}'])
def test_bad_decision_bodies_are_400_not_500(requester, reviewer, body):
    execution_id = awaiting_run(requester)
    for verb in ("approve", "reject"):
        response = reviewer.post(
            f"/api/v1/executions/{execution_id}/{verb}/", data=body, content_type="application/json"
        )
        assert response.status_code == 400, (verb, body, response.content)


def _age(execution_id, seconds):
    Execution.objects.filter(pk=execution_id).update(created_at=timezone.now() - timedelta(seconds=seconds))


@override_settings(STEWARD_APPROVAL_TIMEOUT_SECONDS=3600)
def test_an_unanswered_request_expires_in_the_sweep_and_never_runs(requester, reviewer):
    execution_id = awaiting_run(requester)
    young = post(requester, "/api/v1/runbooks/deploy/run/").json()["execution"]
    _age(execution_id, 3601)
    _age(young, 3500)
    assert sweep.sweep()["approvals_expired"] == 1
    expired = Execution.objects.get(pk=execution_id)
    assert expired.status == "rejected" and expired.decision == "expired"
    assert expired.decision_reason == "approval expired" and expired.decided_by is None
    assert Execution.objects.get(pk=young).status == "awaiting_approval"
    assert AuditEntry.objects.get(action="execution.approval_expired", object_id=execution_id).actor == "steward"
    # Neither a late approval nor the message of a run starts it.
    late = post(reviewer, f"/api/v1/executions/{execution_id}/approve/")
    assert late.status_code == 409
    assert not execution.claim(execution_id, "test")
    assert Execution.objects.get(pk=execution_id).started_at is None
    assert approvals.expire_due() == 0  # nothing left to do, nothing done twice


def test_approving_past_the_timeout_before_any_sweep_refuses_and_expires_it(requester, reviewer):
    execution_id = awaiting_run(requester)
    _age(execution_id, 3601)
    response = post(reviewer, f"/api/v1/executions/{execution_id}/approve/")
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    assert Execution.objects.get(pk=execution_id).decision == "expired"


def test_approve_and_expiry_exclude_each_other(requester, reviewer):
    """Each is a conditional update from awaiting_approval: after one, the other changes nothing."""
    first = awaiting_run(requester)
    assert post(reviewer, f"/api/v1/executions/{first}/approve/").status_code == 202
    assert not approvals.expire(first)  # the sweep comes too late: still queued
    assert Execution.objects.get(pk=first).status == "queued"
    second = post(requester, "/api/v1/runbooks/deploy/run/").json()["execution"]
    assert approvals.expire(second)
    assert post(reviewer, f"/api/v1/executions/{second}/approve/").status_code == 409
    assert Execution.objects.get(pk=second).status == "rejected"


def test_schedules_and_reruns_of_such_a_runbook_wait_too_but_a_retry_does_not(requester, reviewer):
    execution_id = awaiting_run(requester)
    schedule = Schedule.objects.create(
        name="nightly", runbook_id=Execution.objects.get(pk=execution_id).runbook_id, cron="* * * * *"
    )
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(minutes=1))
    assert schedules.fire_due() == 1
    fired = Execution.objects.exclude(pk=execution_id).get()
    assert fired.status == "awaiting_approval" and fired.requested_by is None
    post(reviewer, f"/api/v1/executions/{execution_id}/reject/", {"reason": "no"})
    # A rejected run is not run again by a button beside the refusal.
    assert post(reviewer, f"/api/v1/executions/{execution_id}/rerun/").status_code == 409
    rerun = post(reviewer, f"/api/v1/executions/{fired.pk}/rerun/").json()["execution"]
    assert Execution.objects.get(pk=rerun).status == "awaiting_approval"
    # A retry continues an approved run: it is not asked again.
    approved = Execution.objects.get(pk=rerun)
    approved.status, approved.attempt = "failed", 1
    approved.runbook.max_attempts = 2
    retry = execution.schedule_retry(approved)
    assert retry.status == "queued"


# --- The pages -------------------------------------------------------------------


def test_the_execution_page_offers_approval_to_another_responder_only(client, requester):
    execution_id = awaiting_run(requester)
    alice = Execution.objects.get(pk=execution_id).requested_by
    client.force_login(alice)
    own = client.get(f"/executions/{execution_id}/").content.decode()
    assert "You requested this run" in own and "Approve and run" not in own and ">Cancel</button>" in own
    refused = client.post(f"/executions/{execution_id}/approve", {"reason": "me"})
    assert refused.status_code == 403 and "another responder" in refused.content.decode()

    client.force_login(make_user("responder", username="dave"))
    page = client.get(f"/executions/{execution_id}/").content.decode()
    assert "Approve and run" in page and 'for="reject-reason"' in page and "rejected at" in page
    no_reason = client.post(f"/executions/{execution_id}/reject", {"reason": ""}, follow=True).content.decode()
    assert "Say why the run is rejected" in no_reason
    done = client.post(f"/executions/{execution_id}/approve", {"reason": "<b>ok</b>"}, follow=True)
    html = done.content.decode()
    assert "Approved: the run is queued." in html
    approved = html.split("<strong>Approved</strong>")[1].split("</li>")[0]
    assert '<div class="detail">by dave: &lt;b&gt;ok&lt;/b&gt;</div>' in approved


def test_the_dashboard_lists_what_awaits_approval(client, requester):
    execution_id = awaiting_run(requester)
    client.force_login(make_user("viewer", username="eve"))
    html = client.get("/").content.decode()
    section = html.split('<h2 id="awaiting-title">Awaiting approval</h2>')[1].split("</section>")[0]
    assert f'href="/executions/{execution_id}/"' in section
    Execution.objects.filter(pk=execution_id).update(status="rejected")
    html = client.get("/").content.decode()
    assert "Nothing waits for approval." in html
