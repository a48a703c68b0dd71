"""The dashboard's hourly rollups: the hours that are over are read from
them once the sweep has rolled them up, and the numbers stay exactly those
of the raw rows, the current hour live."""

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from events.models import AlertHour, Event
from ops import sweep
from reports import rollups, stats
from runbooks.models import Execution, RolledHour, RunHour
from tests.factories import make_runbook, make_source
from tests.pages.conftest import queries, run_of
from tests.services import require_postgresql

pytestmark = pytest.mark.django_db

STATUSES = ["succeeded", "failed", "succeeded", "timed_out", "cancelled", "succeeded", "lost", "skipped"]
DELAYS = [timedelta(seconds=30), timedelta(minutes=3), timedelta(minutes=40), timedelta(hours=2)]


def history(now, hours_ago, per_hour=2, tag="a"):
    """Runs of two runbooks in each of these hours, most started by an alert
    (of one of three names) and finished some time after it."""
    runbooks = [make_runbook(name=f"Runbook {tag}{i}", slug=f"rb-{tag}{i}") for i in range(2)]
    source, _ = make_source(slug=f"src-{tag}")
    i = 0
    for ago in hours_ago:
        for _ in range(per_hour):
            created = now - timedelta(hours=ago, minutes=i % 50)
            event = None
            if i % 4:
                event = Event.objects.create(
                    source=source,
                    status="firing",
                    name=f"Alert{i % 3}",
                    fingerprint="f",
                    received_at=created - timedelta(seconds=5),
                )
            status = STATUSES[i % len(STATUSES)]
            finished = created + DELAYS[i % len(DELAYS)] if status != "skipped" else None
            run_of(
                runbooks[i % 2],
                status,
                event=event,
                created_at=created,
                finished_at=min(finished, now - timedelta(minutes=5)) if finished else None,
            )
            i += 1


def dashboard_numbers(now):
    """What the dashboard's charts show, read as the page reads them."""
    plan = stats.Plan.load(now)
    hours = stats.runs_per_hour(now, plan=plan)
    return {
        "hours": [(h.start, h.counts) for h in hours],
        "rates": [(r.slug, r.succeeded, r.total) for r in stats.success_rates(now, plan=plan)],
        "delays": stats.alert_to_remediation(now, plan=plan),
        "noisy": stats.noisiest_alerts(now, plan=plan),
    }


def roll_everything(now):
    rollups.roll(rollups.complete_hours(now))


def late_in_an_hour():
    """A "now" at minute 59 of an hour that is over: the runs placed up to
    49 minutes before whole hours then fall in those hours whatever the
    clock says, so the counts below do not depend on the time of day."""
    return timezone.now().replace(minute=59, second=0, microsecond=0) - timedelta(hours=1)


def test_rolled_up_hours_give_the_numbers_of_the_raw_rows():
    now = late_in_an_hour()
    history(now, [0, 1, 2, 3, 7, 23, 24, 30, 71, 120, 166, 167, 168, 200])
    raw = dashboard_numbers(now)  # nothing rolled up yet: all counted from raw rows
    assert sum(sum(counts.values()) for _, counts in raw["hours"]) == 12
    assert sum(n for _, n in raw["delays"]) > 0 and raw["noisy"] and raw["rates"]

    roll_everything(now)

    assert set(RolledHour.objects.values_list("hour", flat=True)) == set(rollups.complete_hours(now))
    assert dashboard_numbers(now) == raw
    # The rollups hold every run and alert of the hours that are over, and no others.
    current = rollups.hour_of(now)
    week = rollups.complete_hours(now)[0]
    assert sum(RunHour.objects.values_list("runs", flat=True)) == (
        Execution.objects.filter(created_at__gte=week, created_at__lt=current).count()
    )
    assert sum(AlertHour.objects.values_list("count", flat=True)) == (
        Event.objects.filter(received_at__gte=week, received_at__lt=current).count()
    )


def test_a_run_that_finishes_hours_later_reaches_its_hour_at_the_next_sweep():
    now = timezone.now()
    runbook = make_runbook(slug="late")
    source, _ = make_source()
    created = now - timedelta(hours=5)
    event = Event.objects.create(
        source=source, status="firing", name="DiskFull", fingerprint="f", received_at=created - timedelta(minutes=1)
    )
    run = run_of(runbook, "awaiting_approval", event=event, created_at=created)
    rollups.refresh(now)
    hour_of_run = -6  # five hours before the current one

    # Approved and running, not finished: the rolled-up hour keeps its status
    # until the run finishes (the chart draws both as "waiting or running").
    Execution.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())
    assert stats.runs_per_hour(now)[hour_of_run].counts["awaiting_approval"] == 1

    Execution.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    rollups.refresh(now)

    counts = stats.runs_per_hour(now)[hour_of_run].counts
    assert counts["succeeded"] == 1 and counts["awaiting_approval"] == 0 and counts["running"] == 0
    assert RunHour.objects.get(runbook=runbook).status == "succeeded"
    assert dict(stats.alert_to_remediation(now))["over 4 h"] == 1
    assert [(r.slug, r.succeeded, r.total) for r in stats.success_rates(now)] == [("late", 1, 1)]
    assert RolledHour.objects.filter(hour=rollups.hour_of(created)).exists()


def test_the_current_hour_is_counted_live():
    now = timezone.now()
    history(now, [1, 2, 30])
    rollups.refresh(now)
    runbook = make_runbook(name="Fresh", slug="fresh")
    source, _ = make_source(slug="fresh")
    event = Event.objects.create(source=source, status="firing", name="JustNow", fingerprint="f")
    run_of(runbook, "failed", event=event, finished_at=timezone.now())

    later = timezone.now()
    assert stats.runs_per_hour(later)[-1].counts["failed"] == 1
    assert ("fresh", 0, 1) in [(r.slug, r.succeeded, r.total) for r in stats.success_rates(later)]
    assert ("JustNow", 1) in stats.noisiest_alerts(later)
    assert not RunHour.objects.filter(runbook=runbook).exists()  # the current hour is never rolled up


def test_a_long_history_is_caught_up_newest_first_a_bounded_batch_per_sweep():
    now = timezone.now()
    history(now, range(1, 169), per_hour=1)
    raw = dashboard_numbers(now)
    complete = rollups.complete_hours(now)
    sweeps = 0
    while RolledHour.objects.count() < len(complete):
        before = RolledHour.objects.count()
        rolled = rollups.refresh(now)
        sweeps += 1
        assert rolled <= rollups.CATCH_UP_HOURS + 1
        assert RolledHour.objects.count() - before <= rollups.CATCH_UP_HOURS + 1
        if sweeps == 1:  # the newest first: the 24-hour chart reads rollups after one sweep
            assert set(complete[-24:]) <= set(RolledHour.objects.values_list("hour", flat=True))
        assert dashboard_numbers(now) == raw  # exact however far the catch-up got
        assert sweeps < 20
    assert sweeps == -(-(len(complete) - 1) // rollups.CATCH_UP_HOURS)
    assert rollups.refresh(now) == 1  # caught up: only the previous hour again


def test_rollups_older_than_the_week_are_purged():
    now = timezone.now()
    history(now, [200])
    old = rollups.hour_of(now - timedelta(hours=200))
    rollups.roll([old])
    assert RunHour.objects.filter(hour=old).exists() and AlertHour.objects.filter(hour=old).exists()
    rollups.refresh(now)
    assert not RunHour.objects.filter(hour=old).exists() and not AlertHour.objects.filter(hour=old).exists()
    assert not RolledHour.objects.filter(hour=old).exists()


def test_the_worker_sweep_rolls_up_the_previous_hour():
    now = timezone.now()
    history(now, [1])
    assert sweep.sweep()["hours_rolled_up"] >= 1
    previous = rollups.hour_of(now) - rollups.HOUR
    assert RolledHour.objects.filter(hour=previous).exists()
    assert RunHour.objects.filter(hour=previous).exists()


def test_the_number_of_queries_does_not_grow_with_the_hours_rolled_up(logged_in):
    now = timezone.now()
    history(now, [0, 1, 5], tag="a")
    roll_everything(now)
    few = queries(logged_in, "/")
    history(now, [0, 2, 3, 4, 10, 20, 50, 100, 150, 160], per_hour=3, tag="b")
    roll_everything(now)
    assert queries(logged_in, "/") == few


@pytest.mark.django_db(transaction=True)
def test_a_rollup_gives_way_to_a_lock_instead_of_waiting_or_deadlocking():
    """A TRUNCATE or a migration holding a rollup table: the sweep's step skips
    (the next sweep rolls the hours up) rather than block or deadlock it."""
    require_postgresql()
    history(timezone.now(), [2])
    # The session's worker sweeps every second: one that ran between this
    # test's start and history() marked those hours rolled while still
    # empty. Runs are never created in a past hour in production; here the
    # hours are made to be missing again, so the refresh below must roll them.
    RolledHour.objects.all().delete()
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
    ) as other:
        other.execute("LOCK TABLE runbooks_runhour IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert rollups.refresh() == 0
        assert time.monotonic() - started < 2
    assert rollups.refresh() > 0
    assert RunHour.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_every_sweep_step_gives_way_to_a_table_lock_instead_of_deadlocking(caplog):
    """A TRUNCATE (the test runner's flush, a restore) locks tables one by one:
    a sweep that waited on one while holding another would deadlock it. Each
    step waits at most SWEEP_LOCK_TIMEOUT, gives up until the next sweep, and
    the sweep goes on with the other steps."""
    require_postgresql()
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
    ) as other:
        other.execute("LOCK TABLE runbooks_execution IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with caplog.at_level("INFO", logger="ops.sweep"):
            done = sweep.sweep()
        assert time.monotonic() - started < 8
    assert done["requeued"] == 0 and done["lost"] == 0
    assert any("requeued yielded to a lock" in r.getMessage() for r in caplog.records)
    # The lock is gone: the next sweep runs every step, and the session's
    # lock_timeout is back to the server's default.
    assert set(sweep.sweep()) == set(done)
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"
