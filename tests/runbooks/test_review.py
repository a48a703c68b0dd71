"""Reviewed runbooks: a protected runbook's new version waits for a second
author; until then every new run uses the last approved version."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import trail
from audit.models import AuditEntry
from runbooks import schedules, versions
from runbooks.models import Execution, Runbook, RunbookVersion, Schedule
from tests.factories import make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db


def patch(client, path, body):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def writer(api_as):
    return api_as(make_user("author", username="writer"))


@pytest.fixture
def reviewer(api_as):
    return api_as(make_user("author", username="reviewer"))


@pytest.fixture
def guarded():
    """Protected from its v1 on (protection is version content): v1 counts
    as approved, there being nothing before it to fall back to."""
    runbook = make_runbook(name="Deploy", slug="deploy", script="print('v1')", protected=True)
    runbook.refresh_from_db()
    assert runbook.protected and runbook.current_version.number == 1 and runbook.pending_version is None
    return runbook


def test_a_new_version_of_a_protected_runbook_waits_and_runs_keep_the_approved_one(guarded, writer):
    response = patch(writer, "/api/v1/runbooks/deploy/", {"script": "print('v2')", "message": "faster"})
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1 and body["script"] == "print('v1')" and body["pending_version"] == 2
    versions = writer.get("/api/v1/runbooks/deploy/versions/").json()["results"]
    assert [(v["number"], v["author"], v["approved_by"]) for v in versions] == [(2, "writer", None), (1, None, None)]
    # Manual runs, binding runs and schedule runs all take v1.
    manual = post(writer, "/api/v1/runbooks/deploy/run/").json()["execution"]
    source, token = make_source("gen", "generic")
    make_binding(guarded, source)
    from django.test import Client

    hooked = Client().post(
        "/hooks/gen",
        data=json.dumps({"name": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    schedule = Schedule.objects.create(name="s", runbook=guarded, cron="* * * * *")
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(minutes=1))
    schedules.fire_due()
    numbers = set(Execution.objects.values_list("version__number", flat=True))
    assert Execution.objects.count() == 3 and numbers == {1}
    assert hooked.status_code == 202 and manual


def test_only_another_author_approves_and_then_runs_use_the_new_version(guarded, writer, reviewer):
    patch(writer, "/api/v1/runbooks/deploy/", {"script": "print('v2')"})
    own = post(writer, "/api/v1/runbooks/deploy/versions/2/approve/")
    assert own.status_code == 403 and "must approve it" in own.json()["detail"]
    approved = post(reviewer, "/api/v1/runbooks/deploy/versions/2/approve/")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["version"] == 2 and approved.json()["pending_version"] is None
    version = RunbookVersion.objects.get(runbook=guarded, number=2)
    assert version.approved_by.username == "reviewer" and version.approved_at
    entry = AuditEntry.objects.get(action="runbook.version_approved")
    assert entry.before == {"version": 1} and entry.after["version"] == 2 and entry.after["author"] == "writer"
    run = post(reviewer, "/api/v1/runbooks/deploy/run/").json()["execution"]
    assert Execution.objects.get(pk=run).version.number == 2
    again = post(reviewer, "/api/v1/runbooks/deploy/versions/2/approve/")
    assert again.status_code == 409 and "not waiting for approval" in again.json()["detail"]
    assert post(reviewer, "/api/v1/runbooks/deploy/versions/9/approve/").status_code == 404
    assert post(reviewer, "/api/v1/runbooks/deploy/versions/99999999999/approve/").status_code == 404


def test_edits_build_on_the_draft_and_replace_it(guarded, writer, reviewer):
    patch(writer, "/api/v1/runbooks/deploy/", {"script": "print('v2')"})
    body = patch(writer, "/api/v1/runbooks/deploy/", {"timeout_seconds": 99}).json()
    assert body["pending_version"] == 3
    v3 = RunbookVersion.objects.get(runbook=guarded, number=3)
    assert v3.script == "print('v2')" and v3.timeout_seconds == 99  # the draft's script kept
    assert post(reviewer, "/api/v1/runbooks/deploy/versions/2/approve/").status_code == 409
    # Saving what runs already withdraws the draft; the next version takes the next number.
    back = patch(writer, "/api/v1/runbooks/deploy/", {"script": "print('v1')", "timeout_seconds": 30}).json()
    assert back["pending_version"] is None and back["version"] == 1
    again = patch(writer, "/api/v1/runbooks/deploy/", {"script": "print('v4')"}).json()
    assert again["pending_version"] == 4


def test_only_an_admin_switches_review_off_and_that_save_is_still_reviewed(guarded, writer, api_as):
    refused = patch(writer, "/api/v1/runbooks/deploy/", {"protected": False, "script": "print('sneaky')"})
    assert refused.status_code == 403 and "that needs the admin role" in refused.json()["detail"]
    assert RunbookVersion.objects.filter(runbook=guarded).count() == 1
    admin = api_as(make_user("admin", username="boss"))
    body = patch(admin, "/api/v1/runbooks/deploy/", {"protected": False, "script": "print('v2')"}).json()
    # Protection is reviewed content: off only once another author approves it.
    assert body["protected"] is True and body["version"] == 1 and body["pending_version"] == 2
    approved = post(api_as(make_user("author", username="second")), "/api/v1/runbooks/deploy/versions/2/approve/")
    assert approved.status_code == 200 and approved.json()["protected"] is False
    # Unprotected from now on: the next save is in use at once.
    body = patch(admin, "/api/v1/runbooks/deploy/", {"script": "print('v3')"}).json()
    assert body["version"] == 3 and body["pending_version"] is None


def test_an_import_into_a_protected_runbook_makes_a_pending_version(guarded, tmp_path):
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "runbook.yaml").write_text("name: Deploy\nkind: python\ntimeout_seconds: 30\n")
    (folder / "runbook.py").write_text("print('from git')\n")
    out = io.StringIO()
    call_command("import_runbooks", str(tmp_path), stdout=out)
    assert "deploy: new version v2, waiting for an author's approval" in out.getvalue()
    guarded.refresh_from_db()
    assert guarded.current_version.number == 1 and guarded.pending_version.number == 2 and guarded.protected
    again = io.StringIO()
    call_command("import_runbooks", str(tmp_path), stdout=again)
    assert "deploy: unchanged" in again.getvalue()
    # A folder cannot switch review on or off.
    (folder / "runbook.yaml").write_text("name: Deploy\nkind: python\nprotected: false\n")
    with pytest.raises(CommandError, match="unknown field"):
        call_command("import_runbooks", str(tmp_path), stdout=io.StringIO())


def test_the_pages_show_the_pending_version_and_let_only_another_author_approve(client, guarded):
    writer = make_user("author", username="writer")
    versions.save_runbook(guarded, {"script": "print('v2')"}, trail.SYSTEM, author=writer)
    client.force_login(writer)
    detail = client.get("/runbooks/deploy/").content.decode()
    assert "v2 (saved by writer) waits for another author" in detail
    assert 'href="/runbooks/deploy/diff/?from=1&amp;to=2"' in detail
    own = client.get("/runbooks/deploy/diff/?from=1&to=2").content.decode()
    assert "You saved v2: another author must approve it." in own and "Approve v2</button>" not in own
    refused = client.post("/runbooks/deploy/versions/2/approve")
    assert refused.status_code == 403

    client.force_login(make_user("author", username="reviewer"))
    diff = client.get("/runbooks/deploy/diff/?from=1&to=2").content.decode()
    assert "Approve v2</button>" in diff and "print(&#x27;v2&#x27;)" in diff
    done = client.post("/runbooks/deploy/versions/2/approve", follow=True).content.decode()
    assert "Approved v2: new runs of Deploy use it." in done
    assert Runbook.objects.get(slug="deploy").current_version.number == 2


def test_the_edit_form_keeps_review_on_for_an_author(client, guarded):
    client.force_login(make_user("author", username="writer"))
    form = client.get("/runbooks/deploy/edit/").content.decode()
    assert "Only an admin can switch review off." in form
    data = {"name": "Deploy", "kind": "python", "script": "print('v2')", "timeout_seconds": 30, "parameters": "{}"}
    response = client.post("/runbooks/deploy/edit/", data, follow=True)  # "protected" unchecked: ignored
    assert "runs keep using v1 until another author approves v2" in response.content.decode()
    guarded.refresh_from_db()
    assert guarded.protected and guarded.pending_version.number == 2
    # Saving the content in use again withdraws the waiting draft.
    data["script"] = "print('v1')"
    withdrawn = client.post("/runbooks/deploy/edit/", data, follow=True).content.decode()
    assert "v2, which waited for approval, was withdrawn" in withdrawn
    guarded.refresh_from_db()
    assert guarded.pending_version is None and guarded.current_version.number == 1


def test_an_author_cannot_switch_approval_off_on_a_protected_runbook(guarded, writer, api_as, client):
    """Turning off the approval runs wait for skips the second pair of eyes too."""
    # Switching approval on is a new version too, taken into use by review.
    versions.save_runbook(guarded, {"requires_approval": True}, trail.SYSTEM)
    assert (
        post(api_as(make_user("author", username="second")), "/api/v1/runbooks/deploy/versions/2/approve/").status_code
        == 200
    )
    refused = patch(writer, "/api/v1/runbooks/deploy/", {"requires_approval": False})
    assert refused.status_code == 403 and "that needs the admin role" in refused.json()["detail"]
    guarded.refresh_from_db()
    assert guarded.requires_approval
    # Switching it on, or other policy, stays an author's call.
    assert patch(writer, "/api/v1/runbooks/deploy/", {"max_attempts": 2}).status_code == 200

    client.force_login(make_user("author", username="formwriter"))
    form = client.get("/runbooks/deploy/edit/").content.decode()
    assert "Only an admin can switch approval off on a protected runbook." in form
    data = {"name": "Deploy", "kind": "python", "script": "print('v1')", "timeout_seconds": 30, "parameters": "{}"}
    client.post("/runbooks/deploy/edit/", data)  # "requires_approval" unchecked: ignored
    guarded.refresh_from_db()
    assert guarded.requires_approval

    admin = api_as(make_user("admin", username="boss"))
    # An admin may: as every change of a protected runbook, it waits for another author.
    assert patch(admin, "/api/v1/runbooks/deploy/", {"requires_approval": False}).status_code == 200
    guarded.refresh_from_db()
    assert guarded.requires_approval and guarded.pending_version.requires_approval is False
