"""A gate check is decided when its last run ends, through the runs'
execution_finished signal: nobody has to ask again for the verdict to be
stored, audited and notified."""

import json

import pytest
from django.utils import timezone

from audit import trail
from audit.models import AuditEntry
from gates.models import Check, Gate
from notifications.models import Channel, Delivery, Subscription
from runbooks import worker
from runbooks.models import Execution
from runbooks.runners.process import Outcome
from tests.factories import make_runbook, make_user

pytestmark = pytest.mark.django_db


def running(runbook):
    now = timezone.now()
    return Execution.objects.create(
        runbook=runbook, version=runbook.current_version, status="running", started_at=now, heartbeat_at=now
    )


def test_a_check_is_decided_and_notified_when_its_last_run_fails():
    first, second = make_runbook(slug="cve-scan"), make_runbook(slug="smoke")
    gate = Gate.objects.create(name="prod-deploy")
    release = Channel.objects.create(slug="release", name="Release", kind="email", recipients=["r@example.com"])
    Subscription.objects.create(channel=release, events=["gate_failed"], gate=gate)
    check = Check.objects.create(gate=gate, fields={"service": "checkout"})
    scan, smoke = running(first), running(second)
    check.executions.add(scan, smoke)

    worker.finish(scan, Outcome("failed", exit_code=1, error="CVE found"))
    check.refresh_from_db()
    assert check.verdict is None  # one run still going: not decided yet

    worker.finish(smoke, Outcome("succeeded", exit_code=0))
    check.refresh_from_db()
    assert check.verdict == "fail" and check.decided_at is not None
    assert AuditEntry.objects.filter(action="gate.decided", object_id=str(check.pk)).count() == 1
    assert list(Delivery.objects.values_list("event", flat=True)) == ["gate_failed"]


def test_a_run_outside_any_check_decides_nothing():
    gate = Gate.objects.create(name="staging")
    check = Check.objects.create(gate=gate, fields={})
    check.executions.add(running(make_runbook(slug="other")))
    worker.finish(running(make_runbook(slug="lonely")), Outcome("failed", exit_code=1))
    check.refresh_from_db()
    assert check.verdict is None


def test_a_gate_is_not_saved_when_its_audit_entry_fails(api_as, monkeypatch):
    """A real fault would be the audit head's lock failing; here trail.record
    raises, standing in for it (a stub, said so): the gate's row must go with it."""
    make_runbook(slug="smoke")
    admin = api_as(make_user("admin", username="boss"))
    ok = admin.post(
        "/api/v1/gates/", data=json.dumps({"name": "first", "runbooks": ["smoke"]}), content_type="application/json"
    )
    assert ok.status_code == 201  # the request itself is valid

    def broken(*args, **kwargs):
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(trail, "record", broken)
    with pytest.raises(RuntimeError):
        admin.post(
            "/api/v1/gates/", data=json.dumps({"name": "prod", "runbooks": ["smoke"]}), content_type="application/json"
        )
    assert not Gate.objects.filter(name="prod").exists()
