"""The audit trail as a security reviewer reads it: filtered, verified,
exported and checked offline."""

import json
import re
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from audit import trail
from tests.factories import make_runbook

pytestmark = pytest.mark.django_db


def append(n, action="thing.done"):
    with transaction.atomic():
        trail.record_many(
            trail.Actor("user", "alice"), [trail.Change(action, "thing", i, after={"i": i}) for i in range(n)]
        )


def test_the_api_lists_newest_first_with_filters(api):
    append(3)
    make_runbook(slug="rb")
    body = api.get("/api/v1/audit/").json()
    seqs = [e["seq"] for e in body["results"]]
    assert seqs == sorted(seqs, reverse=True)
    assert {e["action"] for e in api.get("/api/v1/audit/?action=runbook.created").json()["results"]} == {
        "runbook.created"
    }
    assert len(api.get("/api/v1/audit/?actor=alice&object_type=thing").json()["results"]) == 3
    assert api.get("/api/v1/audit/?since=yesterday").status_code == 400
    assert api.get("/api/v1/audit/?since=2000-01-01T00:00:00Z").json()["results"]


def test_the_api_is_read_only(api):
    append(1)
    assert api.post("/api/v1/audit/", data="{}", content_type="application/json").status_code == 405
    assert api.delete("/api/v1/audit/1/").status_code == 405


def test_verify_through_the_api(api):
    append(4)
    response = api.post("/api/v1/audit/verify/")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "ok", "count", "total", "broken_seq", "problem")} == {
        "status": "ok",
        "ok": True,
        "count": 4,
        "total": 4,
        "broken_seq": None,
        "problem": "",
    }
    assert body["requested_by"] == "user:oncall" and body["finished_at"]


def test_an_export_verifies_offline_and_a_changed_line_is_caught(api, tmp_path, capsys):
    append(5)
    response = api.get("/api/v1/audit/export/")
    assert response["Content-Type"] == "application/x-ndjson"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 5
    good = tmp_path / "audit.jsonl"
    good.write_text("\n".join(lines) + "\n")
    call_command("audit_verify", file=str(good))
    assert capsys.readouterr().out.strip() == "ok 5 entries"

    forged = [json.loads(line) for line in lines]
    forged[2]["actor"] = "mallory"
    bad = tmp_path / "forged.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in forged))
    with pytest.raises(SystemExit):
        call_command("audit_verify", file=str(bad))
    assert "#3" in capsys.readouterr().err

    missing = tmp_path / "missing.jsonl"
    missing.write_text("\n".join(lines[:1] + lines[2:]))
    with pytest.raises(SystemExit):
        call_command("audit_verify", file=str(missing))
    assert "#2" in capsys.readouterr().err


def test_the_audit_page_filters_and_verifies(client, user):
    client.force_login(user)
    append(2, action="secret.updated")
    html = client.get("/audit/?action=secret.updated").content.decode()
    assert html.count("<code>secret.updated</code>") == 2
    assert "chain intact: 2 entries" in client.post("/audit/verify", HTTP_HX_REQUEST="true").content.decode()
    assert "an ISO 8601 time" in client.get("/audit/?since=nope").content.decode()
    assert client.get("/audit/").status_code == 200


def test_the_page_shows_one_time_range_and_the_api_keeps_both(api, client, user):
    append(2, action="old.thing")
    cut = timezone.now()
    append(1, action="new.thing")
    at = quote(cut.isoformat())

    for since, until in (("since", "until"), ("created_after", "created_before")):
        newer = api.get(f"/api/v1/audit/?{since}={at}").json()["results"]
        older = api.get(f"/api/v1/audit/?{until}={at}").json()["results"]
        assert [e["action"] for e in newer] == ["new.thing"], since
        assert [e["action"] for e in older] == ["old.thing"] * 2, until

    client.force_login(user)
    page = client.get("/audit/").content.decode()
    form = page[page.index('<form method="get" class="filters"') :]
    form = form[: form.index("</form>")]
    assert 'name="since"' in form and 'name="until"' in form
    assert 'name="created_after"' not in form and 'name="created_before"' not in form
    # A link made with the API's other pair still filters, and fills the fields shown.
    linked = client.get(f"/audit/?created_after={at}").content.decode()
    assert "<code>new.thing</code>" in linked and "<code>old.thing</code>" not in linked
    assert re.search(r'name="since" value="[^"]+"', linked)
    assert "an ISO 8601 time" in client.get("/audit/?created_before=nope").content.decode()
