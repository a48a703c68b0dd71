"""The circuit breaker of a binding: when its runs fail `breaker_failures`
times within `breaker_window_minutes`, it trips. A tripped binding records
its matches as skipped runs (visible, with the reason) instead of running
them, until a person resets it. Both are audited."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit import trail
from events import signals
from events.models import Binding
from runbooks.models import FAILING, Execution


def on_execution_finished(sender, execution, **kwargs) -> None:
    """Connected in EventsConfig.ready(): a run of a binding ended."""
    record_outcome(execution)


def record_outcome(execution) -> bool:
    """After a run of a binding ended: trip the binding if it failed too often.
    True when this call tripped it."""
    if not execution.binding_id or execution.status not in FAILING:
        return False
    binding = Binding.objects.filter(pk=execution.binding_id, breaker_failures__gt=0, tripped_at__isnull=True).first()
    if binding is None:
        return False
    now = timezone.now()
    since = now - timedelta(minutes=binding.breaker_window_minutes)
    if binding.reset_at and binding.reset_at > since:
        since = binding.reset_at
    failures = Execution.objects.filter(binding=binding, status__in=FAILING, finished_at__gte=since).count()
    if failures < binding.breaker_failures:
        return False
    reason = f"{failures} runs failed within {binding.breaker_window_minutes} minutes"
    with transaction.atomic():
        tripped = Binding.objects.filter(pk=binding.pk, tripped_at__isnull=True).update(
            tripped_at=now, tripped_reason=reason
        )
        if tripped:
            trail.record(trail.SYSTEM, trail.Change("binding.tripped", "binding", binding.pk, after={"reason": reason}))
            signals.binding_tripped.send(sender=Binding, binding=binding)
    return bool(tripped)


def reset(binding: Binding, actor: trail.Actor, request=None) -> bool:
    """A person says the cause is fixed: the binding runs again."""
    with transaction.atomic():
        reset = Binding.objects.filter(pk=binding.pk, tripped_at__isnull=False).update(
            tripped_at=None, tripped_reason="", reset_at=timezone.now()
        )
        if reset:
            trail.record(
                actor,
                trail.Change("binding.reset", "binding", binding.pk, before={"tripped_reason": binding.tripped_reason}),
                request=request,
            )
    binding.refresh_from_db()
    return bool(reset)
