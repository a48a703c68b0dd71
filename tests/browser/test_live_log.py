"""In headless Chromium: log in, press Run, watch the lines arrive live."""

import time

import pytest

from tests.factories import make_runbook, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]


def test_a_running_executions_lines_appear_live(page, live_server, worker, django_user_model):
    make_user("responder", username="oncall")
    script = "import time\nfor i in range(1, 5):\n    print(f'step {i} of 4')\n    time.sleep(0.8)\n"
    make_runbook(name="Slow steps", slug="slow-steps", script=script)

    page.goto(f"{live_server.url}/runbooks/slow-steps/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("oncall")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/runbooks/slow-steps/")
    page.get_by_role("button", name="Run").click()
    page.wait_for_url("**/executions/*/")

    log = page.get_by_role("log")
    log.get_by_text("step 1 of 4").wait_for()
    status_when_first_line_showed = page.locator(".status").first.inner_text()
    seen_at = time.monotonic()
    log.get_by_text("step 4 of 4").wait_for()
    page.locator(".status", has_text="succeeded").first.wait_for()
    # The first line arrived while the run was still going, without a reload.
    assert status_when_first_line_showed == "running"
    assert time.monotonic() - seen_at > 1.0
    assert log.inner_text().count("step") == 4
    # Polling stops once the run has ended.
    page.wait_for_timeout(1500)
    assert page.locator("#log-poller").count() == 0
    assert log.inner_text().count("step") == 4
