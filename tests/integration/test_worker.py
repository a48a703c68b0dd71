"""The whole path on a real Celery worker process: webhook → event →
execution → runbook subprocess → output and result in the database.

Runs on SQLite + the filesystem broker by default, and on PostgreSQL + Redis
when DATABASE_URL and CELERY_BROKER_URL say so (CI)."""

import json
import time

import pytest

from runbooks.models import Execution, LogLine
from runbooks.tasks import run_execution
from tests.conftest import handled, load_fixture, wait_for
from tests.factories import HOST_SCHEMA, make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def finished(ids, timeout=20):
    def check():
        rows = list(Execution.objects.filter(pk__in=ids))
        return rows if len(rows) == len(ids) and all(x.is_finished for x in rows) else None

    return wait_for(check, timeout=timeout, what=f"executions {ids} to finish")


def lines_of(execution):
    return list(LogLine.objects.filter(execution=execution).order_by("n").values_list("text", flat=True))


def test_alertmanager_alerts_run_their_runbook_with_the_instance(client, worker):
    script = (
        'import json, os\nhost = os.environ["PARAM_HOST"]\nprint(f"cleaning {host}")\n'
        'json.dump({"host": host}, open(os.environ["STEWARD_RESULT"], "w"))\n'
    )
    runbook = make_runbook(name="Disk cleanup", script=script, parameters=HOST_SCHEMA)
    source, token = make_source("am", "alertmanager")
    make_binding(
        runbook,
        source,
        match=[{"path": "labels.severity", "op": "eq", "value": "critical"}],
        parameters={"host": "{{ event.labels.instance }}"},
    )
    response = client.post(
        "/hooks/am",
        data=json.dumps(load_fixture("alertmanager/firing-two-alerts.json")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 202
    executions = finished(response.json()["executions"])
    assert {x.status for x in executions} == {"succeeded"}
    assert sorted(x.result["host"] for x in executions) == ["web-01:9100", "web-02:9100"]
    for x in executions:
        assert lines_of(x) == [f"cleaning {x.parameters['host']}"]
        assert x.exit_code == 0 and x.started_at and x.finished_at and x.host


def test_a_runbook_that_prints_its_environment_sees_nothing_of_the_worker(client, worker):
    runbook = make_runbook(name="Print env", script="env", kind="shell")
    source, token = make_source("gen", "generic")
    make_binding(runbook, source, match=[{"path": "name", "op": "eq", "value": "dump"}])
    response = client.post(
        "/hooks/gen",
        data=json.dumps({"name": "dump"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    [execution] = finished(response.json()["executions"])
    assert execution.status == "succeeded"
    output = "\n".join(lines_of(execution))
    assert "STEWARD_EXECUTION_ID=" in output
    for leaked in (
        "DATABASE_URL",
        "SECRET_KEY",
        "CELERY_BROKER_URL",
        "STEWARD_ENCRYPTION_KEY",
        "DJANGO_SETTINGS_MODULE",
        "postgres://",
        "redis://",
    ):
        assert leaked not in output


def test_the_same_task_message_delivered_twice_runs_once(worker):
    runbook = make_runbook(script='print("ran")')
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version)
    messages = [run_execution.apply_async((str(execution.pk),), queue="steward") for _ in range(2)]
    for message in messages:
        handled(worker, message)  # both handled: the second had its chance to run again
    [done] = finished([execution.pk])
    assert done.status == "succeeded" and lines_of(done) == ["ran"]


def test_a_long_run_streams_output_before_it_ends_and_can_be_cancelled(api, worker):
    make_runbook(slug="slow", script="import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    execution_id = api.post("/api/v1/runbooks/slow/run/", data="{}", content_type="application/json").json()[
        "execution"
    ]
    wait_for(
        lambda: api.get(f"/api/v1/executions/{execution_id}/log/").json()["lines"], timeout=15, what="the first line"
    )
    log = api.get(f"/api/v1/executions/{execution_id}/log/").json()
    assert [line["text"] for line in log["lines"]] == ["started"] and not log["done"]
    asked = time.monotonic()
    assert api.post(f"/api/v1/executions/{execution_id}/cancel/").status_code == 202
    [done] = finished([execution_id], timeout=10)
    assert done.status == "cancelled"
    assert time.monotonic() - asked < 3
    assert api.get(f"/api/v1/executions/{execution_id}/log/").json()["done"]


def test_a_runbook_past_its_timeout_is_timed_out(worker):
    runbook = make_runbook(script="sleep 30", kind="shell", timeout_seconds=1)
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version)
    run_execution.apply_async((str(execution.pk),), queue="steward")
    [done] = finished([execution.pk], timeout=15)
    assert done.status == "timed_out" and "Timed out" in done.error
