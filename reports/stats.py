"""The dashboard's numbers over fixed recent windows, exact and live, at a
cost that does not grow with the history.

Whole hours that are over come from the hourly rollups (reports/rollups.py)
once the sweep has listed them as rolled up; the rest of a window (the
current hour, the part of an hour a window starts in, and any hour the sweep
has not rolled up yet, e.g. on a first start, or again after a late finish)
is counted from raw rows, through the indexes on created_at and
received_at. So the dashboard is right before the sweep has caught up (it
computes the missing hours on the fly, which costs more only until then),
and each chart is two grouped queries whatever the window holds.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from events.models import AlertHour, Event
from reports import rollups
from runbooks.models import Execution, RolledHour, RunHour

S = Execution.Status
HOURS = 24
DAYS = rollups.DAYS

# The runs-per-hour chart stacks four groups of statuses, bottom first.
GROUPS = [
    ("succeeded", "succeeded"),
    ("failed", "failed, timed out or lost"),
    ("stopped", "cancelled, rejected or skipped"),
    ("active", "waiting or running"),
]
GROUP_OF = {
    S.SUCCEEDED: "succeeded",
    S.FAILED: "failed",
    S.TIMED_OUT: "failed",
    S.LOST: "failed",
    S.CANCELLED: "stopped",
    S.REJECTED: "stopped",
    S.SKIPPED: "stopped",
    S.AWAITING_APPROVAL: "active",
    S.QUEUED: "active",
    S.RUNNING: "active",
}
# Runs that got to run and ended: the denominator of a success rate.
RAN = [S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.LOST]

# Time from an alert to the end of the run that fixed it: a label for each
# of the rollup's delay buckets (RunHour.DELAYS), in order.
DELAY_LABELS = ["under 1 min", "1–5 min", "5–15 min", "15–60 min", "1–4 h", "over 4 h"]


class Plan:
    """Which whole hours of the week the rollups hold: read once per page,
    then every chart reads those hours from them and the rest raw."""

    def __init__(self, rolled: set[datetime]):
        self.rolled = sorted(rolled)

    @classmethod
    def load(cls, now: datetime) -> "Plan":
        hours = rollups.complete_hours(now)
        if not hours:
            return cls(set())
        listed = RolledHour.objects.filter(hour__gte=hours[0], hour__lte=hours[-1])
        return cls(set(listed.values_list("hour", flat=True)))

    def rolled_since(self, start: datetime) -> list[datetime]:
        return [hour for hour in self.rolled if hour >= start]

    def raw_since(self, start: datetime, field: str) -> Q:
        """`field` from `start` on (the current hour included, with no upper
        bound), outside the hours read from the rollups."""
        q, cursor = Q(pk__in=[]), start
        for hour in self.rolled_since(start):
            if hour > cursor:
                q |= Q(**{f"{field}__gte": cursor, f"{field}__lt": hour})
            cursor = hour + rollups.HOUR
        return q | Q(**{f"{field}__gte": cursor})


@dataclass
class Hour:
    start: datetime
    counts: dict[str, int]


def _local_hour(moment: datetime) -> int:
    return int(timezone.localtime(moment).replace(minute=0, second=0, microsecond=0).timestamp())


def runs_per_hour(now: datetime, plan: Plan | None = None) -> list[Hour]:
    """The last 24 hours (the current one last), runs counted by status."""
    plan = plan or Plan.load(now)
    first = timezone.localtime(now).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    hours = [Hour(first + timedelta(hours=i), dict.fromkeys(S.values, 0)) for i in range(HOURS)]
    by_start = {int(h.start.timestamp()): h for h in hours}
    rolled = (
        RunHour.objects.filter(hour__in=plan.rolled_since(first))
        .values_list("hour", "status")
        .annotate(n=Sum("runs"))
        .order_by()
    )
    raw = (
        Execution.objects.filter(plan.raw_since(first, "created_at"))
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour", "status")
        .annotate(n=Count("status"))
        .order_by()
    )
    for hour, status, n in [*rolled, *raw]:
        # Rollups are by UTC hour: the same hours as local ones in any zone
        # a whole number of hours from UTC (STEWARD runs on UTC).
        bucket = by_start.get(_local_hour(hour))
        if bucket is not None:  # a clock slightly ahead: a run "from the future" is not drawn
            bucket.counts[status] += n
    return hours


@dataclass
class Rate:
    slug: str
    name: str
    succeeded: int
    total: int

    @property
    def percent(self) -> float:
        return 100 * self.succeeded / self.total if self.total else 0.0


def success_rates(now: datetime, limit: int = 10, plan: Plan | None = None) -> list[Rate]:
    """Per runbook, over the last 7 days: succeeded out of the runs that
    ran and ended (cancelled, rejected and skipped runs do not count). The
    busiest runbooks first."""
    plan = plan or Plan.load(now)
    start = now - timedelta(days=DAYS)
    runbook = ("runbook_id", "runbook__slug", "runbook__name")
    rolled = (
        RunHour.objects.filter(hour__in=plan.rolled_since(start), status__in=RAN)
        .values_list(*runbook)
        .annotate(total=Sum("runs"), succeeded=Sum("runs", filter=Q(status=S.SUCCEEDED)))
        .order_by()
    )
    raw = (
        Execution.objects.filter(plan.raw_since(start, "created_at"), status__in=RAN)
        .values_list(*runbook)
        .annotate(total=Count("status"), succeeded=Count("status", filter=Q(status=S.SUCCEEDED)))
        .order_by()
    )
    rates: dict = {}
    for pk, slug, name, total, succeeded in [*rolled, *raw]:
        rate = rates.setdefault(pk, Rate(slug, name, 0, 0))
        rate.total += total
        rate.succeeded += succeeded or 0
    return sorted(rates.values(), key=lambda rate: (-rate.total, rate.name))[:limit]


def alert_to_remediation(now: datetime, plan: Plan | None = None) -> list[tuple[str, int]]:
    """Succeeded runs started by an alert in the last 7 days, counted by
    how long after the alert they finished."""
    plan = plan or Plan.load(now)
    start = now - timedelta(days=DAYS)
    fields = [field for field, _ in RunHour.DELAYS]
    rolled = RunHour.objects.filter(hour__in=plan.rolled_since(start), status=S.SUCCEEDED).aggregate(
        **{field: Sum(field) for field in fields}
    )
    raw = rollups.with_delay(
        Execution.objects.filter(
            plan.raw_since(start, "created_at"),
            status=S.SUCCEEDED,
            event__isnull=False,
            finished_at__isnull=False,
        )
    ).aggregate(**rollups.delay_counts())
    return [(label, (rolled[field] or 0) + raw[field]) for label, field in zip(DELAY_LABELS, fields, strict=True)]


def median_bucket(buckets: list[tuple[str, int]]) -> str | None:
    """The bucket holding the middle remediation, or None without any."""
    total = sum(n for _, n in buckets)
    seen = 0
    for label, n in buckets:
        seen += n
        if total and seen * 2 >= total:
            return label
    return None


def noisiest_alerts(now: datetime, limit: int = 10, plan: Plan | None = None) -> list[tuple[str, int]]:
    """The alert names that arrived most often in the last 7 days."""
    plan = plan or Plan.load(now)
    start = now - timedelta(days=DAYS)
    rolled = (
        AlertHour.objects.filter(hour__in=plan.rolled_since(start))
        .values_list("name")
        .annotate(n=Sum("count"))
        .order_by()
    )
    raw = Event.objects.filter(plan.raw_since(start, "received_at")).values_list("name").annotate(n=Count("name"))
    counts = Counter()
    for name, n in [*rolled, *raw.order_by()]:
        counts[name] += n
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
