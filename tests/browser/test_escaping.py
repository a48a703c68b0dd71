"""An alert whose name, summary and labels hold HTML and script, opened on
every page that shows it: the browser shows the text, runs nothing and
builds no element from it."""

import json
import urllib.request

import pytest

from events.models import Event
from runbooks.models import Execution
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, make_binding, make_runbook, make_source, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"

# True when the page holds an element built from the alert's text.
INJECTED = """() =>
  document.querySelectorAll('img[src="x"], img[onerror]').length > 0 ||
  Array.from(document.scripts).some(s => s.textContent.includes('alert(1)'))"""


def post_alert(base_url: str, token: str) -> dict:
    alert = {
        "name": f"Disk {IMG}",
        "summary": f"Summary {SCRIPT}",
        "severity": "critical",
        "labels": {"instance": IMG, "team": SCRIPT},
        "annotations": {"description": f"{IMG}{SCRIPT}"},
    }
    request = urllib.request.Request(
        f"{base_url}/hooks/gen",
        data=json.dumps(alert).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())


def test_alert_text_with_markup_runs_nowhere(page, live_server):
    make_user("admin", username="admin-ui")
    runbook = make_runbook(name="Cleanup", slug="cleanup")
    source, token = make_source("gen", "generic")
    # Waits for approval, so the run stays on its pages (and the dashboard's list) as it is.
    make_binding(runbook, source, parameters={"host": "{{ event.labels.instance }}"}, requires_approval=True)
    accepted = post_alert(live_server.url, token)
    event = Event.objects.get(pk=accepted["events"][0])
    execution = Execution.objects.get(pk=accepted["executions"][0])
    assert event.labels["instance"] == IMG and execution.parameters == {"host": IMG}

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server.url, "admin-ui", PASSWORD)

    def check(path: str, shown: str) -> None:
        page.wait_for_load_state("networkidle")
        assert page.evaluate(INJECTED) is False, f"{path}: an element was built from the alert"
        assert page.get_by_text(shown, exact=False).count() >= 1, f"{path}: {shown!r} is not shown as text"

    for path, shown in (
        ("/events/", f"Disk {IMG}"),
        (f"/events/{event.pk}/", SCRIPT),
        (f"/executions/{execution.pk}/", IMG),
        ("/", f"Disk {IMG}"),
        ("/audit/", f"Disk {IMG}"),
    ):
        page.goto(f"{live_server.url}{path}")
        check(path, shown)

    page.goto(f"{live_server.url}/bindings/test/")
    page.get_by_label("Or a stored event").select_option(str(event.pk))
    page.get_by_role("button", name="Test").click()
    page.locator("#results").wait_for()
    check("/bindings/test/", IMG)  # the rendered parameter

    page.wait_for_timeout(500)  # an onerror would have fired by now
    assert dialogs == []
