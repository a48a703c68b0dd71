"""Queue notifications where something happens. Every call site is one line
inside the transaction that made the change:

    notify.run_started(execution)       # runbooks/worker.py
    notify.run_finished(execution)      # succeeded, failed, timed_out, lost
    notify.runs_created(executions)     # awaiting approval (or failed at birth)
    notify.binding_tripped(binding)     # events/breaker.py
    notify.gate_decided(check)          # gates/services.py: fail or error

When this process knows that no subscription can want the event
(`subscribed`: a per-process copy checked against a token in the shared
cache), nothing more happens: no query, no savepoint. Otherwise one query
finds the subscriptions that want the event; when there are any, one more
reads the fresh rows, the Delivery rows are bulk-created and a task
per delivery is published once the transaction commits. No network here, and
never an exception: a fault of ours is logged and rolled back to a savepoint,
and the run, the breaker or the gate goes on as if nobody had subscribed.
"""

import logging

from django.db import transaction
from django.db.models import Q

from notifications import delivery, messages, subscribed
from notifications.models import Delivery, EventKind, Subscription
from runbooks.models import FAILING

log = logging.getLogger(__name__)
MAX_SUBSCRIPTIONS = 200  # per emit: a bound, far above any sensible setup
FINISHED = {"succeeded": EventKind.RUN_SUCCEEDED, **dict.fromkeys(FAILING, EventKind.RUN_FAILED)}
RUN_EVENTS = {EventKind.RUN_STARTED, EventKind.RUN_SUCCEEDED, EventKind.RUN_FAILED, EventKind.AWAITING_APPROVAL}


def run_started(execution) -> int:
    return emit(EventKind.RUN_STARTED, [execution])


def run_finished(execution) -> int:
    kind = FINISHED.get(execution.status)
    return emit(kind, [execution]) if kind else 0


def runs_created(executions) -> int:
    """New runs that wait for a person, or that failed before they could
    start (parameters a binding could not render)."""
    waiting = [x for x in executions if x.status == "awaiting_approval"]
    failed = [x for x in executions if x.status == "failed"]
    return (emit(EventKind.AWAITING_APPROVAL, waiting) if waiting else 0) + (
        emit(EventKind.RUN_FAILED, failed) if failed else 0
    )


def binding_tripped(binding) -> int:
    return emit(EventKind.BINDING_TRIPPED, [binding])


def gate_decided(check) -> int:
    verdict = check.verdict
    if verdict is None:  # the caller's copy may predate the decision
        verdict = type(check).objects.filter(pk=check.pk).values_list("verdict", flat=True).first()
    return emit(EventKind.GATE_FAILED, [check]) if verdict in ("fail", "error") else 0


def emit(kind: str, objects: list) -> int:
    """Queue `kind` notifications about `objects` (executions, bindings or
    gate checks); the number of deliveries created."""
    objects = [o for o in objects if o is not None]
    if not objects or not _may_want(kind, objects):
        return 0
    try:
        with transaction.atomic():  # a savepoint: a fault here undoes only this
            return _emit(kind, objects)
    except Exception:
        log.exception("notifications: could not queue %s notifications; carrying on without them", kind)
        return 0


def _subject(kind: str) -> str:
    if kind in RUN_EVENTS:
        return "execution"
    return "binding" if kind == EventKind.BINDING_TRIPPED else "check"


def _may_want(kind: str, objects: list) -> bool:
    subject = _subject(kind)
    if subject == "execution":
        subjects = [("runbook", o.runbook_id) for o in objects] + [("binding", o.binding_id) for o in objects]
    elif subject == "binding":
        subjects = [("binding", o.pk) for o in objects]
    else:
        subjects = [("gate", o.gate_id) for o in objects]
    return subscribed.may_want(kind, subjects)


def _wanted(kind: str, objects: list) -> list[Subscription]:
    subject = _subject(kind)
    if subject == "execution":
        where = Q(runbook_id__in={o.runbook_id for o in objects})
        bindings = {o.binding_id for o in objects if o.binding_id}
        if bindings:
            where |= Q(binding_id__in=bindings)
    elif subject == "binding":
        where = Q(binding_id__in={o.pk for o in objects})
    else:
        where = Q(gate_id__in={o.gate_id for o in objects})
    found = Subscription.objects.filter(where, enabled=True, channel__enabled=True).select_related("channel")
    # The event list is JSON: filtered here, among a bounded few rows.
    return [s for s in found.order_by("created_at")[:MAX_SUBSCRIPTIONS] if kind in s.events]


def _matches(subscription: Subscription, subject: str, obj) -> bool:
    if subject == "execution":
        return subscription.runbook_id == obj.runbook_id or (
            obj.binding_id is not None and subscription.binding_id == obj.binding_id
        )
    if subject == "binding":
        return subscription.binding_id == obj.pk
    return subscription.gate_id == obj.gate_id


def _fresh(subject: str, objects: list) -> dict:
    """The rows as committed so far in this transaction (the caller's copy
    may lack the result, the reason or the verdict it just wrote)."""
    from events.models import Binding
    from gates.models import Check
    from runbooks.models import Execution

    pks = [o.pk for o in objects]
    if subject == "execution":
        return Execution.objects.select_related("runbook", "binding", "event").in_bulk(pks)
    if subject == "binding":
        return Binding.objects.select_related("runbook").in_bulk(pks)
    return Check.objects.select_related("gate").in_bulk(pks)


def _message(kind: str, subject: str, obj) -> dict:
    if subject == "execution":
        return messages.for_execution(kind, obj)
    if subject == "binding":
        return messages.for_binding(kind, obj)
    return messages.for_gate_check(kind, obj)


def _links(subject: str, row) -> dict:
    """What a delivery points at, for the filters of the deliveries list."""
    if subject == "execution":
        return {"execution": row, "binding_id": row.binding_id}
    if subject == "binding":
        return {"binding": row}
    return {"gate_check": row}


def _emit(kind: str, objects: list) -> int:
    subscriptions = _wanted(kind, objects)
    if not subscriptions:
        return 0
    subject = _subject(kind)
    fresh = _fresh(subject, objects)
    rows = []
    for obj in objects:
        row = fresh.get(obj.pk)
        if row is None:
            continue
        message = None
        channels = set()
        for subscription in subscriptions:
            # One message per channel, even when a runbook's and a binding's
            # subscriptions both lead there.
            if subscription.channel_id in channels or not _matches(subscription, subject, row):
                continue
            channels.add(subscription.channel_id)
            message = message or _message(kind, subject, row)
            rows.append(
                Delivery(
                    channel=subscription.channel,
                    channel_name=subscription.channel.name,
                    subscription=subscription,
                    event=kind,
                    **_links(subject, row),
                    message=message,
                )
            )
    Delivery.objects.bulk_create(rows)
    delivery.enqueue_on_commit([row.pk for row in rows])
    return len(rows)
