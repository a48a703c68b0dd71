"""The steps of one run, in the order they happen, from the execution's own
fields: created, decided (approval), queued, cancel requested, started,
finished. Steps still to come are listed as pending, so a person sees where
the run is and what it waits for."""

from dataclasses import dataclass
from datetime import datetime

from runbooks.models import Execution


@dataclass
class Step:
    name: str
    at: datetime | None  # None: not reached (yet)
    detail: str = ""
    since_previous: float | None = None  # seconds after the step before it

    @property
    def pending(self) -> bool:
        return self.at is None


def _who(user) -> str:
    return user.get_username() if user else ""


def _created(x: Execution) -> str:
    if x.event_id:
        how = f"by the alert {x.event.name}" + (f" through the binding {x.binding.name}" if x.binding_id else "")
    elif x.requested_by_id:
        how = f"by {_who(x.requested_by)}"
    else:
        how = "by a schedule or the system"
    if x.attempt > 1:
        how += f" (attempt {x.attempt}, a retry)"
    elif x.rerun_of_id:
        how += " (run again)"
    return how


def steps(x: Execution) -> list[Step]:
    """Needs `event`, `binding`, `requested_by` and `decided_by` selected."""
    found = [Step("Created", x.created_at, _created(x))]
    if x.decision:
        verb = {"approved": "Approved", "rejected": "Rejected", "expired": "Expired"}[x.decision]
        who = f"by {_who(x.decided_by)}" if x.decided_by_id else ""
        found.append(Step(verb, x.decided_at, ": ".join(filter(None, [who, x.decision_reason]))))
    elif x.status == Execution.Status.AWAITING_APPROVAL:
        found.append(Step("Approved", None, "waits for a responder"))
    if x.enqueued_at:
        found.append(Step("Queued", x.enqueued_at, "sent to a worker"))
    elif x.status == Execution.Status.QUEUED:
        reason = "waits for a free slot" if x.waiting_for_slot else ""
        if x.not_before:
            reason = f"retry waits until {x.not_before:%H:%M:%S}"
        found.append(Step("Queued", None, reason or "waits for the queue"))
    if x.cancel_requested_at:
        found.append(Step("Cancel requested", x.cancel_requested_at))
    if x.started_at:
        found.append(Step("Started", x.started_at, f"on {x.worker}" if x.worker else ""))
    elif not x.is_finished:
        found.append(Step("Started", None))
    if x.is_finished:
        found.append(Step("Finished", x.finished_at, x.status.replace("_", " ")))
    else:
        found.append(Step("Finished", None))
    previous = None
    for step in found:
        if step.at and previous:
            step.since_previous = max((step.at - previous).total_seconds(), 0.0)
        previous = step.at or previous
    return found
