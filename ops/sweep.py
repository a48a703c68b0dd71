"""The sweep that keeps the database the source of truth: nothing queued is
forgotten, nothing running is left "running" after its worker is gone.

It calls every app, so it stands above them (ops/). Every worker's agent
thread (ops/worker_agent.py) runs `sweep()` every
few seconds. Each step takes a bounded batch and changes rows with
conditional updates, so several workers sweeping at once is harmless.
"""

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from events import dedup
from notifications import delivery as notifications
from reports import rollups
from runbooks import approvals, runs, schedules, worker
from runbooks.models import Execution, Runbook

log = logging.getLogger(__name__)
Status = Execution.Status
BATCH = 500


# How long a sweep statement waits for a lock before that step gives up
# until the next sweep: below PostgreSQL's deadlock_timeout (1 s), so a
# TRUNCATE or a migration that locks tables one by one never deadlocks
# against a sweep's join; it is the sweep that yields.
SWEEP_LOCK_TIMEOUT = "500ms"


def sweep() -> dict:
    steps = {
        "requeued": requeue,
        "lost": reap_lost,
        "released": release_stuck_waiters,
        "dedup_purged": lambda: dedup.purge(timezone.now()),
        "scheduled": schedules.fire_due,
        "approvals_expired": approvals.expire_due,
        "notifications_resent": notifications.requeue_stale,
        "hours_rolled_up": rollups.refresh,
    }
    done = {}
    with _yielding_to_locks():
        for name, step in steps.items():
            try:
                done[name] = step()
            except OperationalError as exc:
                if connection.vendor != "postgresql" or connection.in_atomic_block:
                    raise
                log.info("sweep: %s yielded to a lock; the next sweep does it (%s)", name, exc)
                done[name] = 0
    return done


@contextlib.contextmanager
def _yielding_to_locks():
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield  # SQLite has no lock waits to bound; a caller's transaction keeps its own settings
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{SWEEP_LOCK_TIMEOUT}'")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def requeue(now=None) -> int:
    """Send again what the broker may have lost (published long ago, still
    queued) and what waits for nothing any more (a retry's backoff is over)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.STEWARD_REQUEUE_AFTER_SECONDS)
    due = Q(enqueued_at__isnull=True) & (Q(not_before__isnull=True) | Q(not_before__lte=now))
    candidates = Execution.objects.filter(status=Status.QUEUED, waiting_for_slot=False).filter(
        due | Q(enqueued_at__lt=stale)
    )
    with transaction.atomic():
        rows = list(candidates.select_related("version").order_by("created_at")[:BATCH])
        if not rows:
            return 0
        Execution.objects.filter(pk__in=[x.pk for x in rows]).update(enqueued_at=now)
        runs.enqueue_on_commit(rows)
    log.info("sweep: sent %d queued execution(s) to the broker again", len(rows))
    return len(rows)


def reap_lost(now=None) -> int:
    """Mark `lost` the runs whose worker stopped sending heartbeats; kill what
    is left of them on this machine; retry them when the runbook says so."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.STEWARD_LOST_AFTER_SECONDS)
    silent = Execution.objects.select_related("runbook", "version").filter(
        status=Status.RUNNING, heartbeat_at__lt=cutoff
    )
    reaped = 0
    for execution in silent.order_by("heartbeat_at")[:BATCH]:
        if worker.mark_lost(execution, f"Its worker {execution.worker or execution.host} stopped responding.", now):
            reaped += 1
    return reaped


def release_stuck_waiters() -> int:
    """A safety net for runs waiting for a slot: if no run of theirs is going
    (the one that should have released them died), send the oldest again."""
    groups = (
        Execution.objects.filter(status=Status.QUEUED, waiting_for_slot=True)
        .values("runbook_id", "concurrency_key")
        .annotate(n=Count("id"))
        .order_by()[:100]
    )
    runbooks = Runbook.objects.in_bulk({group["runbook_id"] for group in groups})
    return sum(worker.release_slot(runbooks[g["runbook_id"]], g["concurrency_key"]) for g in groups)
