"""Verifying the chain on request: an admin's POST, walked in chunks within a
time budget, its progress stored so the next request goes on from there."""

import pytest
from django.core.management import call_command
from django.db import transaction

from audit import checks, trail
from audit.models import ChainCheck
from tests.audit.test_trail import _tamper
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def append(n):
    with transaction.atomic():
        trail.record_many(trail.SYSTEM, [trail.Change("thing.done", "thing", i, after={"i": i}) for i in range(n)])


@pytest.fixture
def small_steps(monkeypatch):
    """Two entries a chunk and no time to spare: every request does one chunk."""
    monkeypatch.setattr(checks, "CHUNK", 2)
    monkeypatch.setattr(checks, "BUDGET_SECONDS", 0)


def test_verifying_is_a_post_for_admins_only(api_as):
    append(3)
    admin, viewer = api_as(make_user("admin", username="boss")), api_as(make_user("viewer", username="v"))
    assert admin.get("/api/v1/audit/verify/").status_code == 405
    refused = viewer.post("/api/v1/audit/verify/")
    assert refused.status_code == 403 and "verify the audit chain" in refused.json()["detail"]
    assert not ChainCheck.objects.exists()
    assert admin.post("/api/v1/audit/verify").json()["status"] == "ok"  # without the slash too


def test_a_long_chain_is_verified_over_several_requests(api, small_steps):
    append(5)
    first = api.post("/api/v1/audit/verify/")
    assert first.status_code == 202 and first.json()["status"] == "running" and first.json()["ok"] is None
    assert (first.json()["count"], first.json()["total"]) == (2, 5)
    append(3)  # written meanwhile: the check covers the chain as it was when it began
    second = api.post("/api/v1/audit/verify/")
    assert second.status_code == 202 and second.json()["id"] == first.json()["id"] and second.json()["count"] == 4
    third = api.post("/api/v1/audit/verify/")
    assert third.status_code == 200 and third.json()["status"] == "ok" and third.json()["count"] == 5
    # The next POST starts a new check, of all eight.
    fourth = api.post("/api/v1/audit/verify/").json()
    assert fourth["id"] != first.json()["id"] and fourth["total"] == 8


def test_a_check_in_chunks_names_the_first_broken_entry(api, small_steps):
    append(6)
    _tamper("UPDATE audit_auditentry SET action = %s WHERE seq = %s", ["forged", 4])
    statuses = [api.post("/api/v1/audit/verify/").json() for _ in range(2)]
    assert statuses[0]["status"] == "running"
    assert statuses[1]["status"] == "broken" and statuses[1]["broken_seq"] == 4 and statuses[1]["ok"] is False
    assert "does not match its hash" in statuses[1]["problem"]


@pytest.mark.parametrize(
    ("removed", "problem"), [(3, "entry #3 is missing"), (5, "entry #5 is missing"), (6, "after the last one")]
)
def test_removed_entries_are_found_across_chunk_boundaries(removed, problem):
    append(6)
    _tamper("DELETE FROM audit_auditentry WHERE seq = %s", [removed])
    result = trail.verify(chunk_size=2)
    assert not result.ok and result.broken_seq == removed and problem in result.problem


def test_a_head_moved_back_is_found():
    append(4)
    _tamper("UPDATE audit_chainhead SET seq = 2, hash = (SELECT hash FROM audit_auditentry WHERE seq = 2)", [])
    result = trail.verify(chunk_size=2)
    assert not result.ok and result.broken_seq == 3


def test_the_command_walks_in_chunks_with_the_same_output(capsys, monkeypatch):
    append(7)
    steps = []
    real_step = trail.step
    monkeypatch.setattr(trail, "step", lambda progress, chunk_size=2000: steps.append(1) or real_step(progress, 3))
    call_command("audit_verify")
    assert capsys.readouterr().out.strip() == "ok 7 entries" and len(steps) == 3
    _tamper("DELETE FROM audit_auditentry WHERE seq = %s", [5])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify")
    assert exit_info.value.code == 1 and "broken at entry #5" in capsys.readouterr().err


def test_the_audit_page_verifies_step_by_step_for_admins(client, small_steps):
    append(3)
    client.force_login(make_user("admin", username="boss"))
    page = client.get("/audit/").content.decode()
    assert "not been checked here yet" in page and ">Verify the chain</button>" in page
    running = client.post("/audit/verify", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in running and "checking the chain: 2 of 3 entries" in running
    assert 'hx-post="/audit/verify"' in running and 'hx-trigger="load' in running  # goes on by itself
    done = client.post("/audit/verify", HTTP_HX_REQUEST="true").content.decode()
    assert "chain intact: 3 entries" in done and 'hx-trigger="load' not in done
    # Without htmx: the full page, showing the latest check.
    plain = client.post("/audit/verify", follow=True)
    assert plain.redirect_chain[-1][0] == "/audit/" and "<html" in plain.content.decode()
    assert client.get("/audit/verify").status_code == 302


def test_a_viewer_sees_the_last_check_but_no_button(client):
    append(2)
    checks.verify(trail.SYSTEM)
    client.force_login(make_user("viewer", username="v"))
    page = client.get("/audit/").content.decode()
    assert "chain intact: 2 entries" in page and "Verify the chain" not in page
    assert client.post("/audit/verify", HTTP_HX_REQUEST="true").status_code == 403
