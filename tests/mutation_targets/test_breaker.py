"""The circuit breaker, as an on-call person sees it: which failures count,
that one binding's failures never trip another, what the audit trail says,
and who hears of a trip.

Written for the mutants `make mutate` found surviving in events/breaker.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import trail
from audit.models import AuditEntry
from events import breaker, signals
from events.models import Binding
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def runbook():
    return make_runbook()


@pytest.fixture
def source():
    return make_source("am-breaker")[0]


def ended(runbook, binding, status="failed", ago=timedelta(0)):
    """A run of `binding` that ended `ago` with `status`, as the worker leaves it."""
    return Execution.objects.create(
        runbook=runbook,
        version=runbook.current_version,
        binding=binding,
        status=status,
        finished_at=timezone.now() - ago,
    )


def test_a_failed_run_of_no_binding_trips_nothing(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=1)
    assert breaker.record_outcome(ended(runbook, None)) is False
    binding.refresh_from_db()
    assert binding.tripped_at is None


def test_a_succeeded_run_trips_nothing_whatever_failed_before(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=1)
    ended(runbook, binding, "failed")
    assert breaker.record_outcome(ended(runbook, binding, "succeeded")) is False
    binding.refresh_from_db()
    assert binding.tripped_at is None


def test_a_binding_without_a_breaker_never_trips(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=0)
    for _ in range(3):
        assert breaker.record_outcome(ended(runbook, binding)) is False
    binding.refresh_from_db()
    assert binding.tripped_at is None


def test_a_breaker_of_one_trips_on_the_first_failure(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=1, breaker_window_minutes=5)
    assert breaker.record_outcome(ended(runbook, binding)) is True
    binding.refresh_from_db()
    assert binding.tripped_reason == "1 runs failed within 5 minutes"


def test_failures_of_another_binding_do_not_count(runbook, source):
    quiet = make_binding(runbook, source, name="quiet", breaker_failures=2)
    noisy = make_binding(runbook, source, name="noisy", breaker_failures=2)
    ended(runbook, noisy)
    ended(runbook, noisy)
    assert breaker.record_outcome(ended(runbook, quiet)) is False
    quiet.refresh_from_db()
    noisy.refresh_from_db()
    assert quiet.tripped_at is None
    assert noisy.tripped_at is None  # nobody reported noisy's runs: nothing decided for it


def test_a_trip_trips_only_its_own_binding(runbook, source):
    other = make_binding(runbook, source, name="other", breaker_failures=5)
    binding = make_binding(runbook, source, name="failing", breaker_failures=1)
    assert breaker.record_outcome(ended(runbook, binding)) is True
    other.refresh_from_db()
    assert other.tripped_at is None and other.tripped_reason == ""


def test_succeeded_runs_of_the_binding_do_not_count_as_failures(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=3)
    ended(runbook, binding, "succeeded")
    ended(runbook, binding, "succeeded")
    assert breaker.record_outcome(ended(runbook, binding)) is False


def test_an_already_tripped_binding_is_not_tripped_again(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=1)
    assert breaker.record_outcome(ended(runbook, binding)) is True
    assert breaker.record_outcome(ended(runbook, binding)) is False
    assert AuditEntry.objects.filter(action="binding.tripped").count() == 1


def test_a_failure_at_the_very_moment_of_a_reset_still_counts(runbook, source):
    # reset_at is "from now on": a failure finished at that instant is after it
    binding = make_binding(runbook, source, breaker_failures=1, breaker_window_minutes=10)
    run = ended(runbook, binding)
    Binding.objects.filter(pk=binding.pk).update(reset_at=run.finished_at)
    assert breaker.record_outcome(run) is True


def test_the_trip_is_audited_with_its_reason_and_announced(runbook, source):
    binding = make_binding(runbook, source, breaker_failures=1, breaker_window_minutes=7)
    heard = []

    def listener(sender, binding, **kwargs):
        heard.append((sender, binding.pk))

    signals.binding_tripped.connect(listener)
    try:
        assert breaker.record_outcome(ended(runbook, binding)) is True
    finally:
        signals.binding_tripped.disconnect(listener)
    entry = AuditEntry.objects.get(action="binding.tripped")
    assert (entry.object_type, entry.object_id) == ("binding", str(binding.pk))
    assert entry.after == {"reason": "1 runs failed within 7 minutes"}
    assert (entry.actor_kind, entry.actor) == ("system", "steward")
    assert heard == [(Binding, binding.pk)]


def test_a_reset_clears_only_that_binding_and_audits_what_it_cleared(runbook, source):
    other = make_binding(runbook, source, name="other", breaker_failures=1)
    binding = make_binding(runbook, source, name="reset-me", breaker_failures=1)
    breaker.record_outcome(ended(runbook, other))
    breaker.record_outcome(ended(runbook, binding))
    binding.refresh_from_db()
    person = trail.Actor("user", "alice")
    assert breaker.reset(binding, person) is True
    assert binding.tripped_at is None and binding.tripped_reason == "" and binding.reset_at is not None
    other.refresh_from_db()
    assert other.tripped_at is not None  # still tripped: nobody reset it
    entry = AuditEntry.objects.get(action="binding.reset")
    assert (entry.object_type, entry.object_id) == ("binding", str(binding.pk))
    assert entry.before == {"tripped_reason": f"1 runs failed within {binding.breaker_window_minutes} minutes"}
    assert (entry.actor_kind, entry.actor) == ("user", "alice")


def test_a_reset_through_a_request_records_who_asked_from_where(rf, runbook, source):
    binding = make_binding(runbook, source, breaker_failures=1)
    breaker.record_outcome(ended(runbook, binding))
    binding.refresh_from_db()
    request = rf.post("/", REMOTE_ADDR="192.0.2.7")
    assert breaker.reset(binding, trail.Actor("user", "bob"), request=request) is True
    assert AuditEntry.objects.get(action="binding.reset").client_ip == "192.0.2.7"
