"""The breaker counts only the failures inside its window: older ones, and
ones before a person's reset, do not trip it; enough inside it do. Each
case puts failures just outside and just inside the window, so a breaker
that ignores the window (or its edge) trips or stays shut where it must not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events import breaker
from events.models import Binding
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook

pytestmark = pytest.mark.django_db


def ended(binding, status, minutes_ago):
    return Execution.objects.create(
        runbook=binding.runbook,
        version=binding.runbook.current_version,
        binding=binding,
        status=status,
        finished_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def binding():
    return make_binding(make_runbook(), breaker_failures=3, breaker_window_minutes=10)


def tripped(binding) -> bool:
    return Binding.objects.get(pk=binding.pk).tripped_at is not None


def test_failures_older_than_the_window_do_not_count(binding):
    ended(binding, "failed", 10.5)
    ended(binding, "failed", 30)
    assert breaker.record_outcome(ended(binding, "failed", 0)) is False
    assert not tripped(binding)


def test_failures_inside_the_window_trip_it(binding):
    ended(binding, "failed", 9.5)
    ended(binding, "timed_out", 5)
    assert breaker.record_outcome(ended(binding, "lost", 0)) is True
    assert tripped(binding)
    assert Binding.objects.get(pk=binding.pk).tripped_reason == "3 runs failed within 10 minutes"


def test_a_run_that_did_not_fail_neither_counts_nor_trips(binding):
    for status in ("succeeded", "cancelled", "rejected", "skipped"):
        ended(binding, status, 1)
    ended(binding, "failed", 1)
    assert breaker.record_outcome(ended(binding, "succeeded", 0)) is False
    assert breaker.record_outcome(ended(binding, "failed", 0)) is False  # 2 failures, 3 needed
    assert not tripped(binding)


def test_failures_before_a_reset_do_not_count(binding):
    ended(binding, "failed", 3)
    ended(binding, "failed", 2)
    Binding.objects.filter(pk=binding.pk).update(reset_at=timezone.now() - timedelta(minutes=1))
    assert breaker.record_outcome(ended(binding, "failed", 0)) is False
    assert not tripped(binding)
