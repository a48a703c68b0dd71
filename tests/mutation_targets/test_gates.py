"""A deployment gate's verdict, as a release pipeline reads it: pass, fail
or error, the reasons, the timeout rule, and an admin's override.

Written for `make mutate` on gates/services.py. Runs are rows in the state
a worker leaves them (the worker's own path is tests/integration/test_gates.py).
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit import trail
from audit.models import AuditEntry
from gates import services
from gates.models import Check, Gate
from runbooks.models import Execution
from runbooks.parameters import ParameterError
from tests.factories import HOST_SCHEMA, make_runbook

pytestmark = pytest.mark.django_db


@pytest.fixture
def gate():
    return Gate.objects.create(name="prod-deploy", timeout_seconds=300)


def check_with(gate, *runs, age=timedelta(0)):
    check = Check.objects.create(gate=gate, fields={"service": "checkout"})
    Check.objects.filter(pk=check.pk).update(created_at=timezone.now() - age)
    check.refresh_from_db()
    check.executions.set(runs)
    return check


def run(slug, status, **fields):
    runbook = make_runbook(slug=slug, name=slug)
    finished = status not in ("queued", "running")
    return Execution.objects.create(
        runbook=runbook,
        version=runbook.current_version,
        status=status,
        finished_at=timezone.now() if finished else None,
        **fields,
    )


def verdict(check):
    return services.judge(check, list(check.executions.select_related("runbook").order_by("runbook__slug")))


def test_a_gate_without_runbooks_passes_saying_so(gate):
    assert verdict(check_with(gate)) == ("pass", ["the gate has no runbook"])


def test_all_succeeded_passes_with_no_reasons(gate):
    assert verdict(check_with(gate, run("a", "succeeded"), run("b", "succeeded"))) == ("pass", [])


def test_a_run_still_going_within_the_timeout_decides_nothing(gate):
    assert verdict(check_with(gate, run("a", "failed"), run("b", "running"))) == (None, [])


def test_a_failed_run_fails_with_the_reasons_of_its_result(gate):
    failed = run("scan", "failed", result={"reasons": ["CVE-1", 2]}, exit_code=1)
    assert verdict(check_with(gate, failed, run("smoke", "succeeded"))) == ("fail", ["scan: CVE-1", "scan: 2"])


@pytest.mark.parametrize(
    "fields,reason",
    [
        ({"result": {"reason": "too slow"}, "exit_code": 1}, "too slow"),
        ({"result": {"reasons": []}, "error": "Exited with code 3.", "exit_code": 3}, "Exited with code 3."),
        ({"result": ["not", "a", "dict"], "exit_code": 4}, "exited with code 4"),
        ({"result": {"reason": ""}, "exit_code": 5}, "exited with code 5"),
    ],
)
def test_a_failed_runs_reason_comes_from_its_result_else_its_error_else_its_code(gate, fields, reason):
    assert verdict(check_with(gate, run("scan", "failed", **fields))) == ("fail", [f"scan: {reason}"])


def test_a_run_that_gave_no_answer_makes_the_verdict_error_before_failures(gate):
    lost = run("a-lost", "lost", error="worker died")
    cancelled = run("b-cancelled", "cancelled")
    failed = run("c-failed", "failed", error="bad", exit_code=1)
    assert verdict(check_with(gate, lost, cancelled, failed)) == (
        "error",
        ["a-lost: the run ended lost: worker died", "b-cancelled: the run ended cancelled: no answer", "c-failed: bad"],
    )


def test_a_timed_out_run_fails_the_gate_unless_it_says_pass(gate):
    timed_out = run("slow", "timed_out")
    assert verdict(check_with(gate, timed_out)) == ("fail", ["slow: timed out"])
    gate.on_timeout = Gate.OnTimeout.PASS
    gate.save()
    assert verdict(check_with(gate, timed_out)) == ("pass", [])


def test_past_the_gates_timeout_an_unfinished_run_decides_as_on_timeout_says(gate):
    going = run("slow", "running")
    assert verdict(check_with(gate, going, age=timedelta(seconds=299))) == (None, [])
    assert verdict(check_with(gate, going, age=timedelta(seconds=301))) == (
        "fail",
        ["slow: no answer within the gate's 300 s"],
    )
    gate.on_timeout = Gate.OnTimeout.PASS
    gate.save()
    assert verdict(check_with(gate, going, age=timedelta(seconds=301))) == ("pass", [])


def test_a_decided_check_is_stored_audited_once_and_never_changes(gate):
    check = check_with(gate, run("scan", "failed", error="bad", exit_code=1))
    decided = services.refresh(check)
    assert (decided.verdict, decided.reasons) == ("fail", ["scan: bad"]) and decided.decided_at is not None
    entry = AuditEntry.objects.get(action="gate.decided")
    assert (entry.object_type, entry.object_id) == ("gate_check", str(check.pk))
    assert entry.after == {"verdict": "fail", "reasons": ["scan: bad"]}
    Execution.objects.filter(pk__in=check.executions.all()).update(status="succeeded")
    assert services.refresh(decided).verdict == "fail"
    assert services.refresh(Check.objects.get(pk=check.pk)).verdict == "fail"
    assert AuditEntry.objects.filter(action="gate.decided").count() == 1


def test_an_undecided_check_stays_undecided_and_unaudited(gate):
    check = services.refresh(check_with(gate, run("scan", "running")))
    assert check.verdict is None
    assert not AuditEntry.objects.filter(action="gate.decided").exists()


def test_waiting_on_a_decided_check_returns_at_once(gate):
    check = check_with(gate, run("scan", "succeeded"))
    assert services.wait(check, 0).verdict == "pass"


def test_an_admins_override_is_audited_with_before_and_after(gate):
    admin = get_user_model().objects.create_user("root-admin")
    check = services.refresh(check_with(gate, run("scan", "failed", error="bad", exit_code=1)))
    overridden = services.override(check, "pass", "known false positive", admin, trail.user_actor(admin))
    assert (overridden.verdict, overridden.override_reason, overridden.overridden_by) == (
        "pass",
        "known false positive",
        admin,
    )
    entry = AuditEntry.objects.get(action="gate.overridden")
    assert entry.before == {"verdict": "fail", "reasons": ["scan: bad"]}
    assert entry.after == {"verdict": "pass", "reason": "known false positive"}
    assert (entry.actor_kind, entry.actor, entry.object_id) == ("user", "root-admin", str(check.pk))


def test_fields_that_do_not_fit_a_runbook_name_it_and_start_nothing(gate):
    gate.runbooks.add(make_runbook(slug="needs-host", name="needs host", parameters=HOST_SCHEMA))
    with pytest.raises(ParameterError, match=r"^runbook needs-host: "):
        services.ask(gate, {"service": "checkout"}, None, trail.SYSTEM)
    assert not Check.objects.exists() and not Execution.objects.exists()


def test_asking_starts_one_run_per_runbook_with_the_fields_audited(gate):
    gate.runbooks.add(make_runbook(slug="scan", name="scan"), make_runbook(slug="smoke", name="smoke"))
    check = services.ask(gate, {"service": "checkout"}, None, trail.SYSTEM)
    runs = list(check.executions.order_by("runbook__slug"))
    assert [(r.runbook.slug, r.status, r.parameters) for r in runs] == [
        ("scan", "queued", {"service": "checkout"}),
        ("smoke", "queued", {"service": "checkout"}),
    ]
    entry = AuditEntry.objects.get(action="gate.checked")
    assert entry.after == {"gate": "prod-deploy", "fields": {"service": "checkout"}}
    assert entry.object_id == str(check.pk)
