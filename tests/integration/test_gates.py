"""A deployment pipeline asks a gate; the gate's runbooks, run by a real
worker, decide."""

import json
import time

import pytest

from audit.models import AuditEntry
from gates.models import Check, Gate
from runbooks.models import Execution
from tests.factories import api_token, make_runbook, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PASSING = "echo looks good"
FAILING = (
    "import json, os\nprint('scanning')\n"
    "json.dump({'reasons': ['CVE-2026-0001 in libfoo 1.2']}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    "raise SystemExit(1)\n"
)
CHANGE = {"service": "checkout", "version": "1.4.2", "environment": "production", "commit": "abc123"}


@pytest.fixture
def admin_api(client, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", "a@example.invalid", "correct-horse-battery")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_token(admin)}"
    return client


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def gate(client, name, runbooks, **fields):
    response = post(client, "/api/v1/gates/", {"name": name, "runbooks": runbooks, **fields})
    assert response.status_code == 201, response.json()
    return response.json()


def test_one_passing_and_one_failing_runbook_fail_the_gate_with_the_reason_in_one_request(admin_api, worker):
    make_runbook(slug="smoke", kind="shell", script=PASSING)
    make_runbook(slug="cve-scan", script=FAILING)
    gate(admin_api, "prod-deploy", ["smoke", "cve-scan"])
    started = time.monotonic()
    response = post(admin_api, "/api/v1/gates/prod-deploy/checks/?wait=30", CHANGE)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert time.monotonic() - started < 30
    assert body["verdict"] == "fail"
    assert body["reasons"] == ["cve-scan: CVE-2026-0001 in libfoo 1.2"]
    assert len(body["executions"]) == 2
    runs = Execution.objects.filter(pk__in=body["executions"])
    assert {x.parameters["version"] for x in runs} == {"1.4.2"}  # the fields are the runbooks' parameters


def test_without_wait_the_answer_is_202_with_a_url_to_poll(admin_api, worker):
    make_runbook(slug="smoke", kind="shell", script=PASSING)
    gate(admin_api, "staging", ["smoke"])
    response = post(admin_api, "/api/v1/gates/staging/checks/", CHANGE)
    assert response.status_code == 202
    body = response.json()
    assert body["verdict"] is None and body["url"] == f"/api/v1/gates/staging/checks/{body['id']}/"
    polled = admin_api.get(body["url"] + "?wait=30")
    assert polled.status_code == 200 and polled.json()["verdict"] == "pass" and polled.json()["reasons"] == []


def test_a_timed_out_runbook_fails_the_gate_unless_the_gate_says_pass(admin_api, worker):
    make_runbook(slug="slow", kind="shell", script="sleep 20", timeout_seconds=1)
    gate(admin_api, "strict", ["slow"])
    gate(admin_api, "lenient", ["slow"], on_timeout="pass")
    strict = post(admin_api, "/api/v1/gates/strict/checks/?wait=30", CHANGE).json()
    assert strict["verdict"] == "fail" and strict["reasons"] == ["slow: timed out"]
    lenient = post(admin_api, "/api/v1/gates/lenient/checks/?wait=30", CHANGE).json()
    assert lenient["verdict"] == "pass"


def test_fields_that_do_not_fit_a_runbook_are_a_400_and_start_nothing(admin_api):
    make_runbook(
        slug="needs-version",
        parameters={"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}},
    )
    gate(admin_api, "g", ["needs-version"])
    response = post(admin_api, "/api/v1/gates/g/checks/", {"service": "checkout"})
    assert response.status_code == 400 and "needs-version" in response.json()["detail"]
    assert Execution.objects.count() == 0 and Check.objects.count() == 0
    assert (
        admin_api.post("/api/v1/gates/g/checks/?wait=600", data="{}", content_type="application/json").status_code
        == 400
    )


def test_an_admin_overrides_a_verdict_with_a_reason_audited(admin_api, client, worker):
    make_runbook(slug="cve-scan", script=FAILING)
    gate(admin_api, "prod", ["cve-scan"])
    check = post(admin_api, "/api/v1/gates/prod/checks/?wait=30", CHANGE).json()
    assert check["verdict"] == "fail"
    override = post(admin_api, f"{check['url']}override/", {"verdict": "pass", "reason": "accepted risk, INC-42"})
    assert override.status_code == 200 and override.json()["verdict"] == "pass"
    entry = AuditEntry.objects.get(action="gate.overridden")
    assert entry.after == {"verdict": "pass", "reason": "accepted risk, INC-42"} and entry.before["verdict"] == "fail"
    from django.test import Client

    other = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(make_user('author', username='not-admin'))}")
    assert post(other, f"{check['url']}override/", {"verdict": "fail", "reason": "x"}).status_code == 403


def test_the_gates_page_shows_checks_verdicts_and_runs(admin_api, client, django_user_model):
    # On a queue no worker listens to: the check stays pending, whatever else runs.
    make_runbook(slug="smoke", kind="shell", script=PASSING, queue="nobody-listens")
    gate(admin_api, "prod-deploy", ["smoke"])
    post(admin_api, "/api/v1/gates/prod-deploy/checks/", CHANGE)
    viewer = django_user_model.objects.get(username="admin")
    from django.test import Client

    browser = Client()
    browser.force_login(viewer)
    html = browser.get("/gates/").content.decode()
    assert "prod-deploy" in html and "version=1.4.2" in html and "pending" in html


def test_a_check_whose_run_fails_is_decided_and_notifies_with_nobody_reading_it(admin_api, worker):
    """The worker decides the check when its last run ends (gates/receivers.py):
    no GET of the check, no wait, and still the verdict and its delivery."""
    from notifications.models import Channel, Delivery, Subscription

    make_runbook(slug="cve-scan", script=FAILING)
    gate(admin_api, "prod-deploy", ["cve-scan"])
    channel = Channel.objects.create(slug="release", name="Release", kind="email", recipients=["r@example.com"])
    Subscription.objects.create(channel=channel, events=["gate_failed"], gate=Gate.objects.get(name="prod-deploy"))
    response = post(admin_api, "/api/v1/gates/prod-deploy/checks/", CHANGE)  # no wait: 202, then nobody asks
    assert response.status_code == 202 and response.json()["verdict"] is None
    check_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not Delivery.objects.filter(event="gate_failed").exists():
        time.sleep(0.1)  # reads the tables only: never the check's endpoint, never services.refresh
    check = Check.objects.get(pk=check_id)
    assert check.verdict == "fail" and check.reasons == ["cve-scan: CVE-2026-0001 in libfoo 1.2"]
    assert Delivery.objects.filter(event="gate_failed", channel=channel).count() == 1
    assert AuditEntry.objects.filter(action="gate.decided", object_id=str(check_id)).count() == 1
