"""The worker's path from the queue message to the runbook process: one
transaction claims the run and records its start, the process group id
costs no commit of its own, and what is left of a run is still found and
killed without it."""

import os
import signal
import subprocess
import time

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from runbooks import worker as runs
from runbooks.models import Execution
from runbooks.runners import process
from tests.conftest import wait_for
from tests.factories import make_runbook

pytestmark = pytest.mark.django_db


def queued(runbook) -> Execution:
    return Execution.objects.create(runbook=runbook, version=runbook.current_version, status="queued")


def test_the_claim_records_the_start_and_hands_back_a_loaded_row(django_assert_num_queries):
    row = runs.claim(str(queued(make_runbook(slug="fix")).pk), "w1")
    assert row.status == "running" and row.worker == "w1" and row.host == runs.HOST
    stored = Execution.objects.get(pk=row.pk)
    assert (stored.status, stored.started_at, stored.worker) == ("running", row.started_at, "w1")
    started = AuditEntry.objects.get(action="execution.started", object_id=str(row.pk))
    assert started.after == {"status": "running", "host": runs.HOST, "worker": "w1"}
    with django_assert_num_queries(0):  # what the runner needs is loaded with the claim
        runs.spec_for(row)
    assert runs.claim(str(row.pk), "w2") is None  # a second delivery finds nothing
    assert AuditEntry.objects.filter(action="execution.started").count() == 1


def test_the_process_group_rides_with_the_first_write_of_the_run(django_assert_num_queries):
    row = runs.claim(str(queued(make_runbook(slug="fix")).pk), "w1")
    sink = runs.DatabaseSink(row)
    with django_assert_num_queries(0):
        sink.started(4242)
    assert Execution.objects.get(pk=row.pk).pgid is None
    assert sink.check_in() is None
    assert Execution.objects.get(pk=row.pk).pgid == 4242
    sink.lines([process.Line(1, timezone.now(), "stdout", "hello")])
    assert Execution.objects.values_list("pgid", "log_count").get(pk=row.pk) == (4242, 1)


def test_a_first_batch_of_lines_saves_the_process_group_too():
    row = runs.claim(str(queued(make_runbook(slug="fix")).pk), "w1")
    sink = runs.DatabaseSink(row)
    sink.started(4243)
    sink.lines([process.Line(1, timezone.now(), "stdout", "hello")])
    assert Execution.objects.get(pk=row.pk).pgid == 4243


def orphan(execution_id) -> subprocess.Popen:
    """A process of the run in a session of its own, as a `setsid` child leaves it."""
    env = {"PATH": "/usr/bin:/bin", "STEWARD_EXECUTION_ID": str(execution_id)}
    return subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)


def test_a_run_lost_before_its_group_was_saved_leaves_no_process():
    row = runs.claim(str(queued(make_runbook(slug="fix")).pk), "w1")
    left = orphan(row.pk)
    try:
        wait_for(lambda: os.path.exists(f"/proc/{left.pid}/environ"), what="the orphan")
        assert runs.mark_lost(Execution.objects.get(pk=row.pk), "test")
        assert left.wait(timeout=5) == -signal.SIGKILL
    finally:
        left.kill()


def test_processes_older_than_the_run_are_not_read_nor_killed():
    execution_id = "00000000-0000-4000-8000-00000000abcd"
    older = orphan(execution_id)
    runbook = None
    try:
        wait_for(lambda: process.start_ticks(older.pid) is not None, what="the older process")
        time.sleep(0.05)  # some clock ticks (10 ms each) later, the run's own process starts
        runbook = subprocess.Popen(["sleep", "60"])
        since = process.start_ticks(runbook.pid)
        assert since > process.start_ticks(older.pid)
        assert process.kill_orphans(None, execution_id, started_since=since) == 0
        assert older.poll() is None
        assert process.kill_orphans(None, execution_id) == 1
        assert older.wait(timeout=5) == -signal.SIGKILL
    finally:
        older.kill()
        if runbook is not None:
            runbook.kill()
            runbook.wait()
