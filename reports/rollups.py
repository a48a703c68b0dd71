"""Hourly rollups of runs and alerts, so that the dashboard adds up a few
hundred small rows instead of reading a week of executions and events.

RunHour counts the runs created in an hour (UTC) per runbook and status,
with how long its successful alert-started runs took; AlertHour counts the
alerts received in an hour per name. RolledHour is the ledger: an hour is
listed once both tables hold its counts, and the dashboard (reports/stats.py)
reads only listed hours from them. Every other hour of its windows, the
current one included, it reads from raw rows: its numbers are exact whether
or not the sweep has caught up, and cost more only while it has not.

A run is counted in the hour it was created, by its status when the hour
was rolled up, so a run that finishes hours later changes an old hour. The
worker's sweep (ops/sweep.py) calls `refresh()` every few
seconds, which
- takes out of the ledger the hours of the runs that finished since the
  previous sweep (found through the index on finished_at), so they are read
  raw again until rolled up again;
- rolls up the previous hour every time (its runs are still moving);
- rolls up the hours of the week missing from the ledger, newest first, at
  most CATCH_UP_HOURS a sweep: a first start on a long history catches up
  over a few sweeps, each one short transaction.
The accepted lag: a run created before the previous hour that moves between
waiting, queued and running keeps its earlier status in the per-status
counts until it finishes (the chart draws all three as one group), and a
finish shows once the next sweep has run.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from events.models import AlertHour, Event
from runbooks.models import Execution, RolledHour, RunHour

log = logging.getLogger(__name__)

DAYS = 7  # the longest window the dashboard reads
CATCH_UP_HOURS = 24  # missing hours rolled up per sweep
# A run's finished_at is set a moment before its transaction commits: look
# that much further back for late finishes, so none slips between sweeps.
COMMIT_SLACK = timedelta(minutes=1)
HOUR = timedelta(hours=1)
LOCK = 0x5354_524F_4C4C  # PostgreSQL advisory lock: one sweep rolls up at a time


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def complete_hours(now: datetime) -> list[datetime]:
    """The whole hours inside the last DAYS days that are over, oldest
    first: the hours the dashboard may read from rollups."""
    current = hour_of(now)
    first = hour_of(now - timedelta(days=DAYS)) + HOUR
    return [first + i * HOUR for i in range((current - first) // HOUR)]


def ranges(hours: list[datetime], field: str) -> Q:
    """`field` within any of these hours, as few range conditions as the
    hours make contiguous runs (each one an index range scan)."""
    q, start, end = Q(pk__in=[]), None, None
    for hour in sorted(hours):
        if hour != end:
            if start is not None:
                q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
            start = hour
        end = hour + HOUR
    if start is not None:
        q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return q


def refresh(now: datetime | None = None) -> int:
    """The sweep's step: the hours rolled up now (0 if another worker is at it)."""
    now = now or timezone.now()
    window = complete_hours(now)
    if not window:
        return 0
    try:
        with transaction.atomic():
            if not _exclusive():
                return 0
            _forget_late_finishes(window)
            rolled = set(RolledHour.objects.filter(hour__gte=window[0]).values_list("hour", flat=True))
            missing = [hour for hour in reversed(window[:-1]) if hour not in rolled]
            hours = [window[-1], *missing[:CATCH_UP_HOURS]]
            roll(hours)
            _purge(window[0])
    except OperationalError as exc:
        # Background work yields: the next sweep rolls these hours up.
        log.info("rollups: skipped this sweep (%s)", exc)
        return 0
    return len(hours)


def roll(hours: list[datetime]) -> None:
    """Count these whole hours again from raw rows (one grouped query per
    table), write the counts over the old ones and list the hours as rolled."""
    # Taken before the counts: a run that finishes after it is looked for
    # by the next sweep (_forget_late_finishes).
    now = timezone.now()
    with transaction.atomic():
        _roll_runs(hours, now)
        _roll_alerts(hours, now)
        RolledHour.objects.bulk_create(
            [RolledHour(hour=hour, rolled_at=now) for hour in hours],
            update_conflicts=True,
            unique_fields=["hour"],
            update_fields=["rolled_at"],
        )


def delay_counts() -> dict:
    """Count(...) per RunHour delay field: succeeded runs started by an alert,
    by the time from the alert to their end."""
    remediated = Q(status=Execution.Status.SUCCEEDED, event__isnull=False, finished_at__isnull=False)
    counts, lower = {}, None
    for field, upper in RunHour.DELAYS:
        window = remediated
        if lower is not None:
            window &= Q(delay__gte=lower)
        if upper is not None:
            window &= Q(delay__lt=upper)
        counts[field] = Count("status", filter=window)
        lower = upper
    return counts


def with_delay(executions):
    delay = ExpressionWrapper(F("finished_at") - F("event__received_at"), output_field=DurationField())
    return executions.annotate(delay=delay)


def _roll_runs(hours: list[datetime], now: datetime) -> None:
    fields = [field for field, _ in RunHour.DELAYS]
    rows = (
        with_delay(Execution.objects.filter(ranges(hours, "created_at")))
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour", "runbook_id", "status")
        .annotate(runs=Count("status"), **delay_counts())
        .order_by("hour", "runbook_id", "status")  # one lock order for every writer
    )
    RunHour.objects.bulk_create(
        [RunHour(rolled_at=now, **row) for row in rows],
        batch_size=500,
        update_conflicts=True,
        unique_fields=["hour", "runbook", "status"],
        update_fields=["runs", *fields, "rolled_at"],
    )
    # What the new count no longer has (every run of that status moved on).
    RunHour.objects.filter(hour__in=hours, rolled_at__lt=now).delete()


def _roll_alerts(hours: list[datetime], now: datetime) -> None:
    rows = (
        Event.objects.filter(ranges(hours, "received_at"))
        .annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values("hour", "name")
        .annotate(count=Count("name"))
        .order_by("hour", "name")
    )
    AlertHour.objects.bulk_create(
        [AlertHour(rolled_at=now, **row) for row in rows],
        batch_size=500,
        update_conflicts=True,
        unique_fields=["hour", "name"],
        update_fields=["count", "rolled_at"],
    )
    AlertHour.objects.filter(hour__in=hours, rolled_at__lt=now).delete()


def _forget_late_finishes(window: list[datetime]) -> None:
    """Unlist the older hours holding a run that finished since the previous
    sweep (which rolled up the previous hour, hence the latest rolled_at)."""
    last = RolledHour.objects.aggregate(last=Max("rolled_at"))["last"]
    if last is None:
        return
    touched = (
        Execution.objects.filter(
            finished_at__gte=last - COMMIT_SLACK, created_at__gte=window[0], created_at__lt=window[-1]
        )
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("hour", flat=True)
        .distinct()
        .order_by()
    )
    RolledHour.objects.filter(hour__in=list(touched)).delete()


def _purge(first: datetime) -> None:
    """Rollups older than any window: a day's margin, then they go."""
    old = first - timedelta(days=1)
    for model in (RunHour, AlertHour, RolledHour):
        model.objects.filter(hour__lt=old).delete()


def _exclusive() -> bool:
    """Several workers sweep at once: on PostgreSQL only one of them rolls up
    (the others skip this step). SQLite lets one writer at a time anyway."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        # It reads the runs and events, then writes the rollup tables: a
        # transaction locking those tables in another order (a TRUNCATE, a
        # migration) could deadlock with it. Waiting less than PostgreSQL's
        # deadlock_timeout (1 s) for a lock makes this one give up first.
        cursor.execute("SET LOCAL lock_timeout = '200ms'")
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK])
        return cursor.fetchone()[0]
