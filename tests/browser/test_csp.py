"""Every page works under the Content-Security-Policy: the browser reports
no refused script, style or connection anywhere a person goes."""

import pytest

from runbooks.models import Execution
from tests.browser.conftest import log_in
from tests.factories import make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_no_page_breaks_the_content_security_policy(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("admin", "a@example.invalid", "correct-horse-battery")
    runbook = make_runbook(slug="rb")
    source, _ = make_source("am", "alertmanager")
    make_binding(runbook, source)
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version, status="succeeded")
    refused, where = [], {"path": ""}
    page.on(
        "console",
        lambda m: refused.append((where["path"], m.text)) if "Content Security Policy" in m.text else None,
    )

    log_in(page, live_server.url, "admin", "correct-horse-battery")
    for path in (
        "/",
        "/runbooks/",
        "/runbooks/new/",
        "/runbooks/rb/",
        f"/executions/{execution.pk}/",
        "/events/",
        "/bindings/",
        "/bindings/test/",
        "/sources/",
        "/sources/am/",
        "/schedules/",
        "/audit/",
        "/api/docs/",
    ):
        where["path"] = path
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    # The editor really runs (it injects its styles with the page's nonce).
    where["path"] = "/runbooks/new/ (editor)"
    page.goto(f"{live_server.url}/runbooks/new/")
    page.locator(".cm-editor").first.wait_for()
    assert refused == []
