"""Nothing lost, nothing run twice, nothing stuck: real workers, killed and
stopped, on the test database and broker."""

import itertools
import shutil
import signal
import time
import uuid

import pytest

from audit import trail
from audit.models import AuditEntry
from runbooks import runs
from runbooks.models import Execution, LogLine
from tests.conftest import wait_for
from tests.factories import make_runbook
from tests.processes import final, folder_outside_tmp, processes_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def queue_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run(runbook, **parameters) -> Execution:
    return runs.request_run(runbook, parameters, None, trail.SYSTEM)


@pytest.fixture
def shared_dir():
    """A folder a runbook can read as any UID, outside /tmp (pytest's own
    temp folders are private to root, and each run has its own /tmp)."""
    path = folder_outside_tmp(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


LONG_SHELL = "sleep 300 &\nsleep 300\n"


def test_a_worker_killed_mid_run_leaves_the_run_lost_and_no_process_behind(workers, worker):
    queue = queue_name("kill")
    doomed = workers([queue], "doomed")
    runbook = make_runbook(name="Long", kind="shell", script=LONG_SHELL, queue=queue, timeout_seconds=600)
    execution = run(runbook)
    wait_for(lambda: len(processes_of(execution.pk)) >= 2, what="the runbook and its child to run")
    killed_at = time.monotonic()
    doomed.kill()
    # The session worker's sweep notices the silence and kills what is left.
    lost = final(execution.pk, timeout=60)
    assert lost.status == "lost" and "stopped responding" in lost.error
    assert time.monotonic() - killed_at < 60
    wait_for(lambda: processes_of(execution.pk) == [], timeout=5, what="no process of the run left")


def test_a_lost_run_is_retried_to_success_when_the_runbook_allows(workers, worker, shared_dir):
    queue = queue_name("retry")
    marker = shared_dir / "first-attempt"
    # The run sees the machine read-only: the test, not the runbook, leaves
    # the mark the second attempt finds.
    script = f"if [ -e {marker} ]; then echo second attempt; exit 0; fi\necho first attempt\nsleep 300\n"
    runbook = make_runbook(
        name="Flaky",
        kind="shell",
        script=script,
        queue=queue,
        timeout_seconds=600,
        max_attempts=2,
        retry_backoff_seconds=0,
    )
    first_worker = workers([queue], "retrying")
    first = run(runbook)
    wait_for(
        lambda: LogLine.objects.filter(execution=first, text="first attempt").exists(),
        what="the first attempt to start",
    )
    first_worker.kill()
    marker.touch()
    # The same worker comes back: it ends its previous life's run at once.
    workers([queue], "retrying")
    lost = final(first.pk, timeout=30)
    assert lost.status == "lost" and "restarted" in lost.error
    retry = wait_for(lambda: Execution.objects.filter(retry_of=first.pk).first(), what="the retry")
    retry = final(retry.pk)
    assert retry.status == "succeeded" and retry.attempt == 2
    assert list(LogLine.objects.filter(execution=retry).values_list("text", flat=True)) == ["second attempt"]


def test_two_workers_and_a_limit_of_one_never_run_two_at_once(workers, worker):
    queue = queue_name("conc")
    script = (
        "import json, os, time\nstart = time.time()\ntime.sleep(0.4)\n"
        "json.dump({'start': start, 'end': time.time()}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    )
    runbook = make_runbook(name="One at a time", script=script, queue=queue, concurrency_limit=1)
    both = [workers([queue], "conc-a"), workers([queue], "conc-b")]
    executions = [run(runbook) for _ in range(6)]
    done = [final(x.pk, timeout=40) for x in executions]
    assert [x.status for x in done] == ["succeeded"] * 6
    spans = sorted((x.result["start"], x.result["end"]) for x in done)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans)), spans
    # Both workers took messages of this runbook: the limit held across them.
    assert all("runbooks.run_execution" in w.log_path.read_text() for w in both)


def test_at_the_limit_a_skip_policy_records_the_run_as_skipped(workers, worker):
    queue = queue_name("skip")
    runbook = make_runbook(
        name="Per host",
        kind="shell",
        script="sleep 2",
        queue=queue,
        concurrency_limit=1,
        concurrency_key="{{ params.host }}",
        on_concurrency_limit="skip",
        parameters={"type": "object", "properties": {"host": {"type": "string"}}},
    )
    workers([queue], "skip", concurrency=3)
    first = run(runbook, host="web-1")
    wait_for(lambda: Execution.objects.get(pk=first.pk).status == "running", what="the first run")
    same_host, other_host = run(runbook, host="web-1"), run(runbook, host="web-2")
    skipped = final(same_host.pk)
    assert skipped.status == "skipped" and "already running" in skipped.error
    assert final(other_host.pk).status == "succeeded"
    assert final(first.pk).status == "succeeded"


def test_sigterm_gives_runs_a_grace_period_then_stops_them_never_left_running(workers, worker):
    queue = queue_name("grace")
    runbook = make_runbook(name="Long", kind="shell", script=LONG_SHELL, queue=queue, timeout_seconds=600)
    graceful = workers([queue], "graceful", STEWARD_SHUTDOWN_GRACE_SECONDS="1")
    execution = run(runbook)
    wait_for(lambda: len(processes_of(execution.pk)) >= 2, what="the run to start")
    graceful.proc.send_signal(signal.SIGTERM)
    graceful.proc.wait(timeout=15)
    stopped = final(execution.pk, timeout=5)
    assert stopped.status == "lost" and "shut down" in stopped.error
    assert processes_of(execution.pk) == []


def test_a_message_lost_by_the_broker_is_sent_again_by_the_sweep(worker):
    runbook = make_runbook(script='print("ran")')
    execution = Execution.objects.create(
        runbook=runbook, version=runbook.current_version, status="queued", enqueued_at=None
    )
    # No message was ever published: only the sweep can start it.
    done = final(execution.pk, timeout=20)
    assert done.status == "succeeded"
    started = AuditEntry.objects.filter(action="execution.started", object_id=str(execution.pk)).count()
    assert started == 1


def test_a_retry_waits_out_its_backoff(worker):
    runbook = make_runbook(kind="shell", script="exit 1", max_attempts=2, retry_backoff_seconds=2)
    first = final(run(runbook).pk)
    assert first.status == "failed"
    retry = Execution.objects.get(retry_of=first.pk)
    assert retry.not_before is not None
    done = final(retry.pk, timeout=20)
    assert done.status == "failed" and done.attempt == 2
    assert (done.started_at - first.finished_at).total_seconds() >= 2
    assert not Execution.objects.filter(retry_of=first.pk, attempt=3).exists()  # max_attempts reached
