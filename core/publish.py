"""The one broker doorbell: publish tasks by name, so a domain module never
imports the task module that imports it back.

A message is only a doorbell: the row it names is the work, so a publish
that fails leaves the row for the sweep. After a failure this process leaves
the broker alone for PAUSE_SECONDS (every caller alike, since they share one
broker): each request would otherwise pay the failed connect again.
"""

import logging
import time

from celery import current_app

log = logging.getLogger(__name__)

PAUSE_SECONDS = 5.0
_down_until = 0.0


def publish(task: str, jobs: list[tuple[tuple, str]], what: str, countdown: float | None = None) -> int:
    """Send `task` once per `(args, queue)` in `jobs`; returns how many were
    sent. `what` names the rows for the log ("execution(s)")."""
    global _down_until
    if time.monotonic() < _down_until:
        log.info("broker recently unavailable: %d %s left for the sweep", len(jobs), what)
        return 0
    for done, (args, queue) in enumerate(jobs):
        try:
            current_app.send_task(task, args=args, queue=queue, countdown=countdown, retry=False)
        except Exception:  # the broker is down: the rest would fail the same way
            _down_until = time.monotonic() + PAUSE_SECONDS
            log.warning("broker unavailable: %d %s left for the sweep", len(jobs) - done, what, exc_info=True)
            return done
    return len(jobs)
