"""Rerun (same version, same parameters) and restoring an old version, through
the API and the services."""

import json

import pytest

from audit import trail
from audit.models import AuditEntry
from runbooks import runs, versions
from runbooks.models import Execution
from tests.factories import HOST_SCHEMA, make_runbook

pytestmark = pytest.mark.django_db


def post(api, path, body=None):
    return api.post(path, data=json.dumps(body or {}), content_type="application/json")


def test_rerun_runs_the_same_version_and_parameters_even_after_an_edit(api, user):
    runbook = make_runbook(slug="restart", parameters=HOST_SCHEMA, script="print(1)")
    first_id = post(api, "/api/v1/runbooks/restart/run/", {"parameters": {"host": "web-1"}}).json()["execution"]
    versions.save_runbook(runbook, {"script": "print(2)"}, trail.SYSTEM)  # now v2
    response = post(api, f"/api/v1/executions/{first_id}/rerun/")
    assert response.status_code == 202 and set(response.json()) == {"execution"}
    first, again = Execution.objects.get(pk=first_id), Execution.objects.get(pk=response.json()["execution"])
    assert again.pk != first.pk and again.status == "queued"
    assert again.version == first.version and again.version.number == 1
    assert again.parameters == {"host": "web-1"} and again.requested_by == user
    assert again.rerun_of_id == first.pk
    assert api.get(f"/api/v1/executions/{again.pk}/").json()["rerun_of"] == str(first.pk)
    entry = AuditEntry.objects.filter(action="execution.created", object_id=str(again.pk)).get()
    assert entry.after["rerun_of"] == str(first.pk) and entry.actor.startswith("oncall:")
    # Without the trailing slash too, and 404 for an unknown id.
    assert post(api, f"/api/v1/executions/{first_id}/rerun").status_code == 202
    assert post(api, "/api/v1/executions/00000000-0000-0000-0000-000000000000/rerun/").status_code == 404


def test_a_run_whose_parameters_never_passed_the_schema_cannot_be_rerun(api):
    runbook = make_runbook(parameters=HOST_SCHEMA)
    failed = runs.new_execution(runbook, {"hots": "typo"})
    failed.save()
    assert failed.status == "failed"
    response = post(api, f"/api/v1/executions/{failed.pk}/rerun/")
    assert response.status_code == 409 and "schema" in response.json()["detail"]
    assert Execution.objects.count() == 1


def test_restore_makes_the_old_content_a_new_version():
    runbook = make_runbook(script="print('one')")
    versions.save_runbook(runbook, {"script": "print('two')", "timeout_seconds": 9}, trail.SYSTEM)
    v1 = runbook.versions.get(number=1)
    restored = versions.restore_version(runbook, v1, trail.SYSTEM)
    assert restored.number == 3 and restored.sha256 == v1.sha256 and restored.message == "Restored v1"
    assert runbook.current_version == restored and restored.timeout_seconds == v1.timeout_seconds
    # Restoring what is already current makes no version.
    assert versions.restore_version(runbook, v1, trail.SYSTEM) == restored
    assert runbook.versions.count() == 3
    assert AuditEntry.objects.filter(action="runbook.updated", object_id=runbook.slug).count() == 3


def test_team_and_tags_change_no_version(api):
    make_runbook(slug="tidy")
    response = api.patch(
        "/api/v1/runbooks/tidy/",
        data=json.dumps({"team": "storage", "tags": ["disk", "linux"], "description": "**Frees** space"}),
        content_type="application/json",
    )
    body = response.json()
    assert response.status_code == 200 and body["version"] == 1
    assert body["team"] == "storage" and body["tags"] == ["disk", "linux"]
