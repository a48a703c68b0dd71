"""A gate passes only when every run answered and succeeded. A run that
ended without an answer (lost, cancelled, rejected, skipped) makes the
verdict `error`, never `pass`; a failure beside it does not hide it."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gates import services
from gates.models import Check, Gate
from runbooks.models import Execution
from tests.factories import make_runbook, make_user

pytestmark = pytest.mark.django_db


def check_with(*ends):
    """A check of a gate over one runbook per (slug, status, error)."""
    gate = Gate.objects.create(name="prod")
    check = Check.objects.create(gate=gate, fields={"service": "web"})
    now = timezone.now()
    for slug, status, error in ends:
        runbook = make_runbook(slug=slug)
        gate.runbooks.add(runbook)
        check.executions.add(
            Execution.objects.create(
                runbook=runbook,
                version=runbook.current_version,
                status=status,
                error=error,
                exit_code=0 if status == "succeeded" else None,
                started_at=now,
                finished_at=now,
            )
        )
    return services.refresh(check)


@pytest.mark.parametrize("status", ["lost", "cancelled", "rejected", "skipped"])
def test_a_run_that_ended_without_an_answer_is_an_error(status):
    check = check_with(("smoke", "succeeded", ""), ("scan", status, "why it ended"))
    assert check.verdict == "error"
    assert check.reasons == [f"scan: the run ended {status}: why it ended"]
    assert Check.objects.get(pk=check.pk).verdict == "error"  # stored, not only returned


def test_an_error_is_not_hidden_by_a_failure_beside_it():
    check = check_with(("scan", "failed", "CVE found"), ("smoke", "cancelled", ""))
    assert check.verdict == "error"
    assert check.reasons[0] == "smoke: the run ended cancelled: no answer"
    assert any(reason.startswith("scan:") for reason in check.reasons[1:])


def test_only_runs_that_all_succeeded_pass():
    assert check_with(("a", "succeeded", ""), ("b", "succeeded", "")).verdict == "pass"
    Gate.objects.all().delete()
    assert check_with(("c", "succeeded", ""), ("d", "failed", "")).verdict == "fail"


def test_the_api_answers_the_error_verdict():
    check = check_with(("smoke", "succeeded", ""), ("scan", "lost", "its worker went silent"))
    api = APIClient()
    api.force_authenticate(make_user("viewer"))
    body = api.get(f"/api/v1/gates/prod/checks/{check.pk}/").json()
    assert body["verdict"] == "error" and body["reasons"] == ["scan: the run ended lost: its worker went silent"]
