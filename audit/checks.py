"""Verifying the chain on request (an admin's POST, the audit page), bounded
in time: each request walks chunks for at most BUDGET_SECONDS, each chunk one
short query, and stores where it got to in a ChainCheck row; the next
request goes on from there. A long trail takes a few requests, never one
long transaction or a request that outlives its proxy's timeout.

A check is not a change to anything, so it writes no audit entry: it reads
the chain, and an entry per check would lengthen what it reads.
"""

import time
from datetime import timedelta

from django.utils import timezone

from audit import trail
from audit.models import ChainCheck

BUDGET_SECONDS = 2.0
CHUNK = 2000
# A check nobody went on with for this long is left alone; a new one starts
# from the head as it is now.
STALE_AFTER = timedelta(minutes=10)

Status = ChainCheck.Status


def _progress(check: ChainCheck) -> trail.Progress:
    return trail.Progress(
        check.head_seq, check.head_hash, check.checked, check.last_hash, check.broken_seq, check.problem
    )


def _start(actor: trail.Actor) -> ChainCheck:
    progress, now = trail.begin(), timezone.now()
    check = ChainCheck(
        started_at=now,
        updated_at=now,
        requested_by=f"{actor.kind}:{actor.name}"[:150],
        head_seq=progress.head_seq,
        head_hash=progress.head_hash,
        last_hash=progress.last_hash,
    )
    _apply(check, progress, now)
    check.save()
    return check


def _apply(check: ChainCheck, progress: trail.Progress, now) -> None:
    check.checked, check.last_hash, check.updated_at = progress.checked, progress.last_hash, now
    if progress.done:
        check.status = Status.OK if progress.broken_seq is None else Status.BROKEN
        check.broken_seq, check.problem, check.finished_at = progress.broken_seq, progress.problem, now


def verify(actor: trail.Actor, budget_seconds: float | None = None, chunk_size: int | None = None) -> ChainCheck:
    """Go on with the check under way (or start one) for at most
    `budget_seconds`, at least one chunk; return it, finished or not."""
    budget = BUDGET_SECONDS if budget_seconds is None else budget_seconds
    chunk = chunk_size or CHUNK
    deadline = time.monotonic() + budget
    check = (
        ChainCheck.objects.filter(status=Status.RUNNING, updated_at__gte=timezone.now() - STALE_AFTER)
        .order_by("-started_at")
        .first()
    )
    if check is None:
        check = _start(actor)
    progress = _progress(check)
    while not progress.done:
        before = check.checked
        progress = trail.step(progress, chunk)
        _apply(check, progress, timezone.now())
        # Two requests may go on with one check at once: only the one whose
        # starting point is still the stored one saves; the other reloads.
        saved = ChainCheck.objects.filter(pk=check.pk, status=Status.RUNNING, checked=before).update(
            checked=check.checked,
            last_hash=check.last_hash,
            updated_at=check.updated_at,
            status=check.status,
            broken_seq=check.broken_seq,
            problem=check.problem,
            finished_at=check.finished_at,
        )
        if not saved:
            check.refresh_from_db()
            progress = _progress(check)
        if time.monotonic() >= deadline:
            break
    return check


def latest() -> ChainCheck | None:
    return ChainCheck.objects.order_by("-started_at", "-pk").first()
