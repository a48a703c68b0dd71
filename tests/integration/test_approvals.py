"""Approvals on the real worker: a run approved by a second responder
runs; one whose approval expired never does, even when its message arrives."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops import sweep
from runbooks.models import Execution, LogLine
from runbooks.tasks import run_execution
from tests.conftest import handled, swept
from tests.factories import make_runbook, make_user
from tests.integration.test_sandbox import final, lines

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_run_approved_by_another_responder_runs_on_the_worker(api_as, worker):
    make_runbook(slug="guarded-fix", script="print('fixed it')", requires_approval=True)
    alice = api_as(make_user("responder", username="alice"))
    bob = api_as(make_user("responder", username="bob"))
    execution_id = alice.post("/api/v1/runbooks/guarded-fix/run/", data="{}", content_type="application/json").json()[
        "execution"
    ]
    swept(worker)  # a whole sweep of the worker's passed: it must leave the request alone
    assert Execution.objects.get(pk=execution_id).status == "awaiting_approval"
    approve = f"/api/v1/executions/{execution_id}/approve/"
    assert alice.post(approve, data="{}", content_type="application/json").status_code == 403
    assert bob.post(approve, data="{}", content_type="application/json").status_code == 202
    done = final(execution_id)
    assert done.status == "succeeded" and lines(done) == ["fixed it"]
    assert done.decided_by.username == "bob" and done.requested_by.username == "alice"


def test_an_expired_approval_never_runs_even_when_its_message_arrives(worker):
    runbook = make_runbook(slug="too-late", script="print('ran')", requires_approval=True)
    execution = Execution.objects.create(
        runbook=runbook,
        version=runbook.current_version,
        status="awaiting_approval",
        created_at=timezone.now() - timedelta(hours=2),
    )
    sweep.sweep()
    execution.refresh_from_db()
    assert execution.status == "rejected" and execution.decision_reason == "approval expired"
    handled(worker, run_execution.apply_async((str(execution.pk),), queue="steward"))
    execution.refresh_from_db()
    assert execution.status == "rejected" and execution.started_at is None
    assert not LogLine.objects.filter(execution=execution).exists()
