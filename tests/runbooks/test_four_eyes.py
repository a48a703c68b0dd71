"""The four-eyes rules as an insider would try to get round them, through
each caller (the API, the pages, the importer): a rerun that skips the
approval its original waited for, a co-author's small change that lets the
first author approve their own code, an unreviewed policy change that
rewrites parameters, an import that switches approval off."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit import trail
from runbooks import versions
from runbooks.models import Execution, Runbook, RunbookVersion
from tests.factories import make_runbook, make_user

pytestmark = pytest.mark.django_db

HOST = {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}


def send(client, method, path, body=None):
    return getattr(client, method)(path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def people(api_as):
    names = {"alice": "responder", "bob": "responder", "author1": "author", "author2": "author", "author3": "author"}
    users = {name: make_user(role, username=name) for name, role in names.items()}
    return {name: (user, api_as(user)) for name, user in users.items()}


# --- Reruns ----------------------------------------------------------------------


def test_a_rerun_of_a_run_awaiting_approval_waits_for_approval_again(people):
    make_runbook(slug="deploy", requires_approval=True)
    asked = send(people["alice"][1], "post", "/api/v1/runbooks/deploy/run/").json()["execution"]
    # The runbook stops requiring approval afterwards; the run that needed it still binds its reruns.
    Runbook.objects.filter(slug="deploy").update(requires_approval=False)
    rerun = send(people["bob"][1], "post", f"/api/v1/executions/{asked}/rerun/")
    assert rerun.status_code == 202, rerun.json()
    again = Execution.objects.get(pk=rerun.json()["execution"])
    assert again.status == "awaiting_approval" and again.requested_by.username == "bob"
    # Whoever asked for the rerun cannot approve it.
    assert send(people["bob"][1], "post", f"/api/v1/executions/{again.pk}/approve/").status_code == 403


def test_a_rerun_of_an_approved_run_waits_for_approval_again(people):
    make_runbook(slug="deploy", requires_approval=True)
    asked = send(people["alice"][1], "post", "/api/v1/runbooks/deploy/run/").json()["execution"]
    assert send(people["bob"][1], "post", f"/api/v1/executions/{asked}/approve/").status_code == 202
    Execution.objects.filter(pk=asked).update(status="succeeded")
    Runbook.objects.filter(slug="deploy").update(requires_approval=False)
    rerun = send(people["alice"][1], "post", f"/api/v1/executions/{asked}/rerun/").json()["execution"]
    assert Execution.objects.get(pk=rerun).status == "awaiting_approval"


def test_a_rejected_run_cannot_be_rerun_through_the_api_or_the_page(people, client):
    make_runbook(slug="deploy", requires_approval=True)
    asked = send(people["alice"][1], "post", "/api/v1/runbooks/deploy/run/").json()["execution"]
    assert (
        send(people["bob"][1], "post", f"/api/v1/executions/{asked}/reject/", {"reason": "not now"}).status_code == 200
    )
    refused = send(people["alice"][1], "post", f"/api/v1/executions/{asked}/rerun/")
    assert refused.status_code == 409 and "bob rejected it" in refused.json()["detail"]
    client.force_login(people["alice"][0])
    page = client.get(f"/executions/{asked}/").content.decode()
    assert "bob rejected it" in page
    client.post(f"/executions/{asked}/rerun")
    assert Execution.objects.count() == 1  # nothing new, whatever the page answered


# --- Co-authors ------------------------------------------------------------------


@pytest.fixture
def co_authored(people):
    """author1 saves v2 (malicious), author2 changes only the timeout: v3,
    "by author2", holds author1's code."""
    make_runbook(slug="deploy", script="print('v1')", protected=True)
    send(people["author1"][1], "patch", "/api/v1/runbooks/deploy/", {"script": "import os; os.system('id')"})
    third = send(people["author2"][1], "patch", "/api/v1/runbooks/deploy/", {"timeout_seconds": 31}).json()
    assert third["version"] == 1 and third["pending_version"] == 3
    return people


def test_a_co_authors_small_change_does_not_let_the_first_author_approve_their_code(co_authored):
    refused = send(co_authored["author1"][1], "post", "/api/v1/runbooks/deploy/versions/3/approve/")
    assert refused.status_code == 403 and "You wrote part of v3" in refused.json()["detail"]
    assert send(co_authored["author2"][1], "post", "/api/v1/runbooks/deploy/versions/3/approve/").status_code == 403
    assert Runbook.objects.get(slug="deploy").current_version.number == 1
    approved = send(co_authored["author3"][1], "post", "/api/v1/runbooks/deploy/versions/3/approve/")
    assert approved.status_code == 200 and approved.json()["version"] == 3


def test_the_page_refuses_a_co_author_and_offers_no_approve_button(co_authored, client):
    client.force_login(co_authored["author1"][0])
    assert ">Approve v3</button>" not in client.get("/runbooks/deploy/versions/3/").content.decode()
    client.post("/runbooks/deploy/versions/3/approve")
    assert Runbook.objects.get(slug="deploy").current_version.number == 1


# --- The run policy is reviewed content ------------------------------------------


def test_a_policy_template_on_a_protected_runbook_waits_for_review_and_runs_keep_their_parameters(people):
    make_runbook(slug="deploy", parameters=HOST, protected=True)
    sneaky = "{{ params.update({'host': 'web-01; id'}) }}"
    body = send(
        people["author1"][1], "patch", "/api/v1/runbooks/deploy/", {"concurrency_key": sneaky, "concurrency_limit": 1}
    ).json()
    assert body["version"] == 1 and body["pending_version"] == 2 and body["concurrency_key"] == ""
    pending = RunbookVersion.objects.get(runbook__slug="deploy", number=2)
    assert pending.concurrency_key == sneaky and pending.verify()
    run = send(people["alice"][1], "post", "/api/v1/runbooks/deploy/run/", {"parameters": {"host": "web-01"}})
    assert Execution.objects.get(pk=run.json()["execution"]).parameters == {"host": "web-01"}


def test_every_field_that_changes_how_it_runs_is_in_the_sha256():
    v1 = make_runbook(slug="deploy").current_version
    changes = {
        "max_attempts": 2,
        "retry_backoff_seconds": 5,
        "retry_on": ["lost"],
        "concurrency_limit": 1,
        "concurrency_key": "{{ params.host }}",
        "on_concurrency_limit": "skip",
        "requires_approval": True,
        "protected": True,
    }
    for name, value in changes.items():
        runbook = make_runbook(slug=f"rb-{name}".replace("_", "-"))
        version = versions.save_runbook(runbook, {name: value}, trail.SYSTEM)
        assert version.number == 2 and name in version.content(), name
        assert version.sha256 != v1.sha256 and version.verify(), name
    # Every one of them is a content field, which the version list shows.
    assert set(changes) <= set(RunbookVersion.CONTENT_FIELDS)


def test_a_version_saved_before_the_policy_moved_keeps_a_verifiable_sha256():
    """Migration 0011: content format 1 hashes the code fields only."""
    runbook = make_runbook(slug="deploy")
    old = RunbookVersion(runbook=runbook, number=2, kind="shell", script="true", content_format=1)
    old.save()
    # The policy in force at the migration, copied onto the row afterwards.
    RunbookVersion.objects.filter(pk=old.pk).update(requires_approval=True, max_attempts=3)
    old = RunbookVersion.objects.get(pk=old.pk)
    assert old.verify() and "requires_approval" not in old.content()
    # Saving that same content again makes no new version.
    Runbook.objects.filter(pk=runbook.pk).update(current_version=old)
    again = versions.save_runbook(Runbook.objects.get(pk=runbook.pk), old.fields(), trail.SYSTEM)
    assert again.pk == old.pk


# --- Loosening is an admin's, for every caller -----------------------------------

MANIFEST = "name: Deploy\nslug: deploy\nkind: shell\ntimeout_seconds: 30\n"


def guarded_by_approval() -> Runbook:
    return make_runbook(
        name="Deploy",
        slug="deploy",
        kind="shell",
        script="echo v1\n",
        protected=True,
        requires_approval=True,
        timeout_seconds=30,
    )


def test_an_import_that_leaves_requires_approval_out_keeps_it_on(tmp_path):
    guarded_by_approval()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "runbook.yaml").write_text(MANIFEST)
    (tmp_path / "deploy" / "runbook.sh").write_text("echo from git\n")
    call_command("import_runbooks", str(tmp_path), stdout=io.StringIO())
    pending = Runbook.objects.get(slug="deploy").pending_version
    assert pending.script == "echo from git\n" and pending.requires_approval and pending.protected


def test_an_import_that_switches_approval_off_is_refused_naming_the_field(tmp_path):
    guarded_by_approval()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "runbook.yaml").write_text(MANIFEST + "requires_approval: false\n")
    (tmp_path / "deploy" / "runbook.sh").write_text("echo v1\n")
    with pytest.raises(CommandError, match="requires_approval: Only an admin can switch approval off"):
        call_command("import_runbooks", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())
    assert RunbookVersion.objects.filter(runbook__slug="deploy").count() == 1


def test_the_api_refuses_an_author_switching_approval_off_and_the_domain_refuses_any_caller(people):
    runbook = guarded_by_approval()
    refused = send(people["author1"][1], "patch", "/api/v1/runbooks/deploy/", {"requires_approval": False})
    assert refused.status_code == 403 and "switch approval off" in refused.json()["detail"]
    with pytest.raises(versions.validation.Refused) as refusal:
        versions.save_runbook(runbook, {"protected": False}, trail.SYSTEM, author=people["author1"][0])
    assert refusal.value.field == "protected" and refusal.value.kind == "forbidden"
    assert RunbookVersion.objects.filter(runbook=runbook).count() == 1


def test_the_edit_page_cannot_switch_approval_off_for_an_author(people, client):
    guarded_by_approval()
    client.force_login(people["author1"][0])
    data = {"name": "Deploy", "kind": "shell", "script": "echo v2", "timeout_seconds": 30, "parameters": "{}"}
    client.post("/runbooks/deploy/edit/", data)  # the checkbox unchecked: disabled, so ignored
    pending = Runbook.objects.get(slug="deploy").pending_version
    assert pending.script == "echo v2" and pending.requires_approval
