"""Cancel and rerun on the real worker: a cancelled running group is gone
within 2 seconds, a cancelled queued run never starts, a rerun runs the
same version with the same parameters."""

import json
import time

import pytest

from runbooks.models import Execution, LogLine
from runbooks.tasks import run_execution
from tests.conftest import handled, wait_for
from tests.factories import HOST_SCHEMA, make_runbook
from tests.processes import final, processes_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_cancel_ends_the_whole_group_within_two_seconds(api, worker):
    # The children ignore SIGTERM: only the SIGKILL after the grace ends them.
    script = "trap '' TERM\nsleep 300 &\nsleep 300 &\necho started\nwait\n"
    make_runbook(slug="stubborn", kind="shell", script=script, timeout_seconds=600)
    execution_id = api.post("/api/v1/runbooks/stubborn/run/", data="{}", content_type="application/json").json()[
        "execution"
    ]
    wait_for(lambda: len(processes_of(execution_id)) >= 3, timeout=15, what="the runbook and its children")
    asked = time.monotonic()
    assert api.post(f"/api/v1/executions/{execution_id}/cancel/").status_code == 202
    wait_for(lambda: processes_of(execution_id) == [], timeout=5, what="every process of the run to end")
    gone_after = time.monotonic() - asked
    done = final(execution_id, timeout=5)
    assert done.status == "cancelled" and gone_after < 2.0, gone_after


def test_a_cancelled_queued_run_never_starts(api, worker):
    runbook = make_runbook(slug="never", script="print('ran')")
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version)  # queued, not sent yet
    assert api.post(f"/api/v1/executions/{execution.pk}/cancel/").status_code == 202
    message = run_execution.apply_async((str(execution.pk),), queue="steward")  # the message arrives anyway
    handled(worker, message)
    execution.refresh_from_db()
    assert execution.status == "cancelled" and execution.started_at is None
    assert not LogLine.objects.filter(execution=execution).exists()


def test_rerun_runs_the_same_version_with_the_same_parameters(api, worker):
    script = "import os\nprint('v1 on', os.environ['PARAM_HOST'])\n"
    runbook = make_runbook(slug="again", script=script, parameters=HOST_SCHEMA)
    first_id = api.post(
        "/api/v1/runbooks/again/run/",
        data=json.dumps({"parameters": {"host": "web-7"}}),
        content_type="application/json",
    ).json()["execution"]
    first = final(first_id)
    api.patch("/api/v1/runbooks/again/", data=json.dumps({"script": "print('v2')"}), content_type="application/json")
    runbook.refresh_from_db()
    assert runbook.current_version.number == 2
    again_id = api.post(f"/api/v1/executions/{first_id}/rerun/").json()["execution"]
    again = final(again_id)
    assert again.status == first.status == "succeeded"
    assert again.version_id == first.version_id and again.parameters == {"host": "web-7"}
    assert list(LogLine.objects.filter(execution=again).values_list("text", flat=True)) == ["v1 on web-7"]
