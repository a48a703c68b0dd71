"""A runbook's network mode: part of its reviewed content, `none` for new
runbooks, `egress` for those saved before the field existed (their sha256
unchanged), `host` only from an admin, through every door."""

import hashlib
import json

import pytest
from django.core.management import call_command
from django.test import Client

from audit import trail
from runbooks import runs, validation, versions
from runbooks import worker as execution
from runbooks.models import Runbook, RunbookVersion
from tests.factories import api_token, make_runbook, make_user
from tests.runbooks.test_manifest import write

pytestmark = pytest.mark.django_db


def test_a_new_runbook_reaches_nothing_unless_it_says_so():
    runbook = make_runbook(slug="plain")
    assert runbook.current_version.network == "none"
    assert runbook.current_version.content()["network"] == "none"


def test_an_egress_version_keeps_the_sha256_it_had_before_the_field_existed():
    runbook = make_runbook(slug="old", network="egress")
    version = runbook.current_version
    before = {name: getattr(version, name) for name in ("kind", "script", "parameters", "timeout_seconds")}
    before.update(secrets=version.secrets, queue=version.queue)
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert version.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert "network" not in version.content()


def test_changing_the_network_makes_a_new_version_and_saving_it_again_none():
    runbook = make_runbook(slug="net")
    v2 = versions.save_runbook(runbook, {"network": "egress"}, trail.SYSTEM)
    assert v2.number == 2 and v2.network == "egress"
    assert versions.save_runbook(runbook, {"network": "egress"}, trail.SYSTEM).number == 2
    assert versions.save_runbook(runbook, {"script": 'print("hello again")'}, trail.SYSTEM).network == "egress"


def post(client, user, body, path="/api/v1/runbooks/"):
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_token(user)}"
    )


def test_the_api_takes_none_and_egress_from_an_author_and_host_only_from_an_admin(client):
    author, admin = make_user("author"), make_user("admin")
    body = {"name": "Probe", "kind": "shell", "script": "true"}
    created = post(client, author, {**body, "slug": "probe", "network": "egress"})
    assert created.status_code == 201 and created.json()["network"] == "egress"
    refused = post(client, author, {**body, "slug": "probe-host", "network": "host"})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert not Runbook.objects.filter(slug="probe-host").exists()
    bad = post(client, author, {**body, "slug": "probe-bad", "network": "internet"})
    assert bad.status_code == 400 and "network" in bad.json()["errors"]
    schema = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Bearer {api_token(author)}").json()
    enums = [v.get("enum") for v in schema["components"]["schemas"].values()]
    assert ["none", "egress", "host"] in enums  # the API's network field is an enum
    allowed = post(client, admin, {**body, "slug": "probe-admin", "network": "host"})
    assert allowed.status_code == 201 and allowed.json()["network"] == "host"


def test_the_runbook_form_refuses_host_from_an_author_and_the_page_warns_of_host(client):
    client.force_login(make_user("author"))
    data = {"name": "Form", "kind": "shell", "script": "true", "timeout_seconds": 30, "parameters": "{}"}
    page = client.post("/runbooks/new/", {**data, "network": "host"})
    assert page.status_code == 200 and "Only an admin may give a runbook" in page.content.decode()
    assert not Runbook.objects.filter(name="Form").exists()
    runbook = Runbook(name="On host", slug="on-host")
    versions.save_runbook(
        runbook, {"kind": "shell", "script": "true", "network": "host"}, trail.SYSTEM, make_user("admin")
    )
    detail = client.get(f"/runbooks/{runbook.slug}/").content.decode()
    assert "runs on the worker&#x27;s own network" in detail or "runs on the worker's own network" in detail


def test_an_import_never_adds_host_but_keeps_it_where_an_admin_set_it(tmp_path):
    folder = write(tmp_path / "flush-cache")
    text = (folder / "runbook.yaml").read_text()
    (folder / "runbook.yaml").write_text(text + "network: host\n")
    with pytest.raises(Exception, match="Only an admin may give a runbook"):
        call_command("import_runbooks", str(tmp_path))
    assert not Runbook.objects.filter(slug="flush-cache").exists()
    versions.save_runbook(
        Runbook(name="Flush cache", slug="flush-cache"),
        {"kind": "shell", "script": "echo old", "network": "host"},
        trail.SYSTEM,
        author=make_user("admin"),
    )
    call_command("import_runbooks", str(tmp_path))
    assert Runbook.objects.get(slug="flush-cache").current_version.network == "host"


def test_a_manifest_without_network_means_egress_and_export_writes_it(tmp_path):
    write(tmp_path / "in" / "flush-cache")
    call_command("import_runbooks", str(tmp_path / "in"))
    runbook = Runbook.objects.get(slug="flush-cache")
    assert runbook.current_version.network == "egress"
    call_command("export_runbooks", str(tmp_path / "out"))
    assert "network: egress" in (tmp_path / "out" / "flush-cache" / "runbook.yaml").read_text()


def test_the_domain_function_is_the_backstop_for_every_caller():
    with pytest.raises(validation.Refused) as refused:
        versions.save_runbook(
            Runbook(name="Sneaky"), {"kind": "shell", "script": "true", "network": "host"}, trail.SYSTEM
        )
    assert refused.value.kind == "forbidden" and refused.value.field == "network"
    assert not Runbook.objects.filter(name="Sneaky").exists()


def test_the_control_plane_is_resolved_from_the_settings(settings):
    settings.CELERY_BROKER_URL = "redis://:pw@127.0.0.1:6379/0"
    settings.CACHE_URL = "redis://localhost:6380/1"
    settings.STEWARD_BASE_URL = "https://10.9.8.7:8443"
    settings.STEWARD_EGRESS_DENY = ["10.100.0.0/16"]
    deny = execution.egress_deny()
    assert {"127.0.0.1", "10.9.8.7", "10.100.0.0/16"} <= set(deny)
    assert "127.0.0.1" in deny or "::1" in deny  # localhost, resolved


def test_a_version_records_which_mode_ran(settings):
    runbook = make_runbook(slug="recorded", network="egress")
    run = runs.request_run(runbook, {}, None, trail.SYSTEM)
    claimed = execution.claim(str(run.pk), "w")
    assert claimed.network == "egress"
    client = Client()
    client.force_login(make_user("viewer"))
    assert client.get(f"/api/v1/executions/{run.pk}/").json()["network"] == "egress"
    settings.STEWARD_SANDBOX = "process"
    assert execution.network_of(RunbookVersion.objects.get(pk=runbook.current_version_id)) == "host"
