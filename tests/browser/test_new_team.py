"""A new team's first hour, in headless Chromium against gunicorn and a real
Celery worker: log in, create a source and copy its snippet with the Copy
button, upload a shell runbook, bind it with the binding form and test the
binding, fire the webhook the way the snippet says, watch the run's log
arrive, make runs wait for approval and have a second person approve one,
cancel another, and read it all in the audit.

Only what a person sees and does: role and label locators, values read off
the pages (and the clipboard). One step leaves the UI: the webhook is the
monitoring tool's own POST.
"""

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import log_in
from tests.conftest import free_port, load_fixture
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

RUNBOOK = "Drain host"
SLUG = "drain-host"
SECOND_USER, SECOND_PASSWORD = "second-eyes", "a-second-pair-of-eyes-42"
# Slow enough to watch: a line every 0.6 s.
SCRIPT = """\
#!/bin/bash
# Take one host out of the load balancer, step by step.
set -eu
host="$PARAM_HOST"
steps="$PARAM_STEPS"
echo "draining $host"
for ((i = 1; i <= steps; i++)); do
  echo "step $i of $steps on $host"
  sleep 0.6
done
echo "drained $host"
"""
SCHEMA = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "description": "The host to drain"},
        "steps": {"type": "integer", "minimum": 1, "default": 8},
    },
    "required": ["host"],
}
HOST = "api-07:8080"


def test_a_new_team_goes_from_login_to_an_audited_approved_and_cancelled_run(
    web, workers, new_page, tmp_path, django_user_model
):
    # The browser is set up after the servers, so it closes first and leaves
    # no keep-alive connection to hold gunicorn's graceful shutdown.
    make_user("admin", username="lead")  # the first admin: `make run` seeds one
    port = free_port()
    base = web(port=port, STEWARD_BASE_URL=f"http://127.0.0.1:{port}")
    # The web server's broker folder (SQLite runs use the filesystem broker).
    workers(["steward"], "new-team", STEWARD_VAR_DIR=str(tmp_path / "var"))

    lead = new_page()
    lead.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    log_in(lead, base, "lead", PASSWORD)
    url, source_token = create_source(lead)
    assert url.startswith(f"{base}/hooks/")
    upload_runbook(lead, tmp_path)
    create_binding(lead, source_slug=url.rsplit("/", 1)[-1])
    try_the_binding_tester(lead)

    fire_webhook(url, source_token)
    watch_the_webhooks_run(lead)

    require_approval(lead)
    short_run = request_run(lead, steps=2)
    long_run = request_run(lead, steps=100)
    create_user(lead, SECOND_USER, SECOND_PASSWORD, "responder")
    second = new_page()
    log_in(second, base, SECOND_USER, SECOND_PASSWORD)
    approve(second, short_run)
    status_of(second).filter(has_text="succeeded").wait_for()
    assert "step 2 of 2 on api-07:8080" in second.get_by_role("log").inner_text()

    approve(second, long_run)
    second.get_by_role("log").get_by_text("step 1 of 100").wait_for()
    cancel(lead, long_run)

    read_the_audit(lead)


def create_source(page) -> tuple[str, str]:
    """The webhook URL and token, from the Alertmanager snippet the Copy button copied."""
    navigate(page, "Sources")
    follow(page, "New source")
    page.get_by_label("Name", exact=True).fill("Prometheus")
    page.get_by_label("Kind").select_option("alertmanager")
    page.get_by_role("button", name="Create source").click()
    page.get_by_role("heading", name="Prometheus").wait_for()
    # The page is served from STEWARD_BASE_URL's own address: no warning.
    assert page.get_by_role("note").count() == 0
    page.get_by_role("button", name="Copy the snippet").click()
    page.get_by_text("Copied", exact=True).wait_for()
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet == page.get_by_label("alertmanager.yml").inner_text()
    url = re.search(r"url: (\S+)", snippet).group(1)
    token = re.search(r"credentials: (\S+)", snippet).group(1)
    assert token.startswith("sts_")
    return url, token


def upload_runbook(page, tmp_path: Path) -> None:
    """A shell script saved by an editor on Windows: CRLF line endings,
    which bash could not run as they are."""
    script = tmp_path / "drain.sh"
    script.write_bytes(SCRIPT.replace("\n", "\r\n").encode())
    navigate(page, "Runbooks")
    follow(page, "New runbook")
    page.get_by_label("Name", exact=True).fill(RUNBOOK)
    page.get_by_label("Upload a script (.py or .sh)").set_input_files(str(script))
    # The code editor took the textarea's place (and its label).
    page.get_by_role("textbox", name="Parameters (JSON Schema)").fill(json.dumps(SCHEMA))
    page.get_by_role("button", name="Save runbook").click()
    page.get_by_role("heading", name=RUNBOOK).wait_for()


def create_binding(page, source_slug: str) -> None:
    """Through the binding form; saving opens the tester with a sample event."""
    navigate(page, "Bindings")
    follow(page, "New binding")
    page.get_by_label("Name", exact=True).fill("Drain checkout hosts")
    page.get_by_label("Source").select_option(label=f"Prometheus ({source_slug})")
    page.get_by_label("Match conditions (JSON)").fill('[{"path": "labels.service", "op": "eq", "value": "checkout"}]')
    page.get_by_label("Runbook", exact=True).select_option(label=f"{RUNBOOK} ({SLUG})")
    page.get_by_label("Parameters (JSON, values are templates)").fill('{"host": "{{ event.labels.instance }}"}')
    page.get_by_role("button", name="Save binding").click()
    page.get_by_text("Binding Drain checkout hosts created").wait_for()
    assert "Test it with a sample event" in page.get_by_role("status").first.inner_text()


def try_the_binding_tester(page) -> None:
    """First the sample event the form left in the tester, then real-looking ones."""
    page.wait_for_url("**/bindings/test/?binding=*")
    sample = json.loads(page.get_by_label("Event (JSON)").input_value())
    assert sample["labels"] == {"service": "checkout", "instance": "example-instance"}
    page.get_by_role("button", name="Test").click()
    assert '"host": "example-instance"' in page.get_by_role("row").filter(has_text="Drain checkout hosts").inner_text()

    navigate(page, "Bindings")
    page.get_by_role("link", name="Test the bindings against an event").click()
    event = {"name": "ServiceDown", "labels": {"service": "checkout", "instance": HOST}}
    page.get_by_label("Event (JSON)").fill(json.dumps(event))
    page.get_by_role("button", name="Test").click()
    row = page.get_by_role("row").filter(has_text="Drain checkout hosts")
    assert "would run" in row.inner_text() and f'"host": "{HOST}"' in row.inner_text()

    page.get_by_label("Event (JSON)").fill(json.dumps({**event, "labels": {"service": "search"}}))
    page.get_by_role("button", name="Test").click()
    assert "no match" in page.get_by_role("row").filter(has_text="Drain checkout hosts").inner_text()


def fire_webhook(url: str, token: str) -> None:
    """What Alertmanager sends with the snippet's configuration: a recorded
    alert, moved to a host of the checkout service."""
    payload = load_fixture("alertmanager/firing-one-alert.json")
    for labels in (payload["alerts"][0]["labels"], payload["commonLabels"]):
        labels.update(service="checkout", instance=HOST)
    status, body = post_json(url, payload, token)
    assert status == 202 and body["accepted"] == 1 and len(body["executions"]) == 1


def watch_the_webhooks_run(page) -> None:
    navigate(page, "Events")
    page.get_by_role("link", name="ServiceDown").first.click()
    page.wait_for_url("**/events/*/")
    page.get_by_role("link", name=RUNBOOK).first.click()
    page.wait_for_url("**/executions/*/")
    log = page.get_by_role("log")
    log.get_by_text(f"draining {HOST}").wait_for()
    status_when_first_seen = status_of(page).inner_text()
    page.evaluate("window.stillTheSamePage = true")
    log.get_by_text(f"drained {HOST}").wait_for()
    status_of(page).filter(has_text="succeeded").wait_for()
    # The lines came in while the run went on, into the page as it was loaded.
    assert status_when_first_seen in ("queued", "running")
    assert page.evaluate("window.stillTheSamePage") is True
    assert log.inner_text().count(f"on {HOST}") == 8  # the default steps


def require_approval(page) -> None:
    navigate(page, "Runbooks")
    page.get_by_role("link", name=RUNBOOK).first.click()
    follow(page, "Edit")
    page.get_by_label("Runs wait for approval").check()
    page.get_by_role("button", name="Save runbook").click()
    page.get_by_text("every run waits for a responder's approval").wait_for()


def request_run(page, steps: int) -> str:
    """Ask for a run from the runbook's page; its URL, to pass to a reviewer."""
    navigate(page, "Runbooks")
    page.get_by_role("link", name=RUNBOOK).first.click()
    page.get_by_label("host", exact=True).fill(HOST)
    page.get_by_label("steps", exact=True).fill(str(steps))
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/executions/*/")
    assert status_of(page).inner_text() == "awaiting_approval"
    # Four eyes: the requester gets no Approve button.
    assert page.get_by_text("another responder must approve").is_visible()
    assert page.get_by_role("button", name=re.compile("Approve")).count() == 0
    return page.url


def create_user(page, username: str, password: str, role: str) -> None:
    navigate(page, "Users")
    form = page.locator("form").filter(has=page.get_by_role("button", name="Create user"))
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Create user").click()
    page.get_by_text(f"User {username} created.").wait_for()


def approve(page, execution_url: str) -> None:
    page.goto(execution_url)
    assert status_of(page).inner_text() == "awaiting_approval"
    page.get_by_label("Why approve (optional)").fill("checked the host list")
    page.get_by_role("button", name="Approve and run").click()
    page.get_by_text("Approved: the run is queued.").wait_for()
    status_of(page).filter(has_text=re.compile("queued|running|succeeded")).wait_for()


def cancel(page, execution_url: str) -> None:
    page.goto(execution_url)
    page.get_by_role("log").get_by_text("step 1 of 100").wait_for()
    started = time.monotonic()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Cancel requested.").wait_for()
    status_of(page).filter(has_text="cancelled").wait_for()
    assert time.monotonic() - started < 10
    assert "step 100 of 100" not in page.get_by_role("log").inner_text()


def read_the_audit(page) -> None:
    navigate(page, "Audit")
    expected = {
        "source.created": "lead",
        "runbook.created": "lead",
        "binding.created": "lead",
        "runbook.updated": "lead",
        "user.created": "lead",
        "execution.approved": SECOND_USER,
        "execution.cancel_requested": "lead",
    }
    for action, actor in expected.items():
        rows = page.get_by_role("row").filter(has=page.get_by_text(action, exact=True))
        assert rows.count() >= 1, f"no {action} in the audit"
        assert actor in rows.first.inner_text(), f"{action} is not by {actor}"
    assert page.get_by_role("row").filter(has=page.get_by_text("execution.approved", exact=True)).count() == 2
    page.get_by_role("button", name="Verify the chain").click()
    assert re.match(r"chain intact: \d+ entries", page.get_by_text("chain intact").inner_text())


def navigate(page, name: str) -> None:
    """Go to one of the main pages through the navigation."""
    link = page.get_by_role("navigation").get_by_role("link", name=name, exact=True).first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**{href}")


def follow(page, name: str) -> None:
    """Click a link, also one drawn as a button (role="button")."""
    link = page.get_by_role("link", name=name, exact=True)
    link.or_(page.get_by_role("button", name=name, exact=True)).first.click()


def status_of(page):
    """The execution's status word (the page's first element of class status)."""
    return page.locator(".status").first


def post_json(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())
