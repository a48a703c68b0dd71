"""Cron schedules: when a schedule is due, one execution of its runbook.

Every worker's sweep calls `fire_due()`; a schedule is claimed by moving its
`next_run_at` with a conditional update, so one slot fires once however many
workers sweep. After downtime a schedule whose slots were missed runs once,
and its next slot is computed from now: never once per missed slot.
"""

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.db import transaction
from django.utils import timezone

from audit import trail
from core.errors import Refused
from runbooks import runs
from runbooks.models import Schedule, ScheduledRun

log = logging.getLogger(__name__)
BATCH = 100


class ScheduleError(Refused, ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message, field)  # "cron" or "timezone": where the API shows it


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("timezone", f"unknown time zone {name!r} (an IANA name such as Europe/Paris)") from None


def check(cron: str, tz: str) -> None:
    zone(tz)
    if not croniter.is_valid(cron):
        raise ScheduleError("cron", f"{cron!r} is not a cron expression (minute hour day month weekday)")


def next_runs(cron: str, tz: str, after: datetime, count: int = 5) -> list[datetime]:
    """The next `count` slots after `after`, in UTC; cron reads the wall clock of `tz`."""
    itr = croniter(cron, after.astimezone(zone(tz)))
    return [itr.get_next(datetime).astimezone(UTC) for _ in range(count)]


def next_run(schedule: Schedule, after: datetime) -> datetime:
    return next_runs(schedule.cron, schedule.time_zone, after, 1)[0]


def fire_due(now: datetime | None = None) -> int:
    now = now or timezone.now()
    due = Schedule.objects.select_related("runbook__current_version").filter(enabled=True, next_run_at__lte=now)
    fired = 0
    for schedule in due.order_by("next_run_at")[:BATCH]:
        if _fire(schedule, now):
            fired += 1
    return fired


def _fire(schedule: Schedule, now: datetime) -> bool:
    slot = schedule.next_run_at
    with transaction.atomic():
        claimed = Schedule.objects.filter(pk=schedule.pk, enabled=True, next_run_at=slot).update(
            next_run_at=next_run(schedule, now), last_run_at=now
        )
        if not claimed:
            return False  # another worker fired this slot
        if schedule.runbook.current_version is None:
            return False
        execution = runs.new_execution(schedule.runbook, schedule.parameters)
        execution.save(force_insert=True)
        ScheduledRun.objects.create(schedule=schedule, execution=execution, slot=slot)
        trail.record(trail.Actor("schedule", schedule.name[:150]), runs.created_change(execution))
        runs.enqueue_on_commit([execution])
    log.info("schedule %s fired execution %s (slot %s)", schedule.name, execution.pk, slot.isoformat())
    return True
