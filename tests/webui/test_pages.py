"""Pages as a logged-in engineer sees them."""

import re

import pytest
from django.utils import timezone

from events.models import Event
from runbooks.models import Execution, LogLine, Runbook
from tests.factories import HOST_SCHEMA, make_runbook, make_source

pytestmark = pytest.mark.django_db

PAGES = ["/", "/executions/", "/runbooks/", "/runbooks/new/", "/events/", "/sources/", "/bindings/"]


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_for_a_logged_in_user(logged_in, path):
    response = logged_in.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    # Every form field has a visible label.
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{field_id}"' in html, f"{path}: #{field_id} has no label"


def test_login_page_logs_in(client, user):
    page = client.get("/accounts/login/")
    assert b'for="id_username"' in page.content and b'for="id_password"' in page.content
    response = client.post("/accounts/login/", {"username": "oncall", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_create_runbook_in_the_browser_then_run_it(logged_in):
    response = logged_in.post(
        "/runbooks/new/",
        {
            "name": "Flush cache",
            "kind": "shell",
            "script": "echo flushing $PARAM_HOST",
            "parameters": '{"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}',
            "timeout_seconds": 30,
            "description": "",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/runbooks/flush-cache/"
    runbook = Runbook.objects.get(slug="flush-cache")
    assert runbook.current_version.kind == "shell"
    # The Run form is generated from the schema: one field per parameter.
    missing = logged_in.post("/runbooks/flush-cache/", {"param_0": ""})
    assert missing.status_code == 200 and b"host" in missing.content and Execution.objects.count() == 0
    ran = logged_in.post("/runbooks/flush-cache/", {"param_0": "cache-1"})
    execution = Execution.objects.get()
    assert ran["Location"] == f"/executions/{execution.pk}/"
    assert execution.parameters == {"host": "cache-1"} and execution.status == "queued"


def test_invalid_runbook_form_shows_errors(logged_in):
    response = logged_in.post(
        "/runbooks/new/", {"name": "", "kind": "python", "script": "", "parameters": "{oops", "timeout_seconds": 0}
    )
    assert response.status_code == 200
    assert b"Not valid JSON" in response.content and Runbook.objects.count() == 0


def test_execution_page_shows_status_word_log_and_polls_until_done(logged_in):
    runbook = make_runbook(parameters=HOST_SCHEMA)
    execution = Execution.objects.create(
        runbook=runbook, version=runbook.current_version, status="running", parameters={"host": "h"}
    )
    LogLine.objects.create(execution=execution, n=1, t=timezone.now(), stream="stdout", text="<b>first</b>")
    page = logged_in.get(f"/executions/{execution.pk}/").content.decode()
    assert 'role="log"' in page and 'class="status status-running">running<' in page
    assert "&lt;b&gt;first&lt;/b&gt;" in page and "<b>first</b>" not in page
    assert f'hx-get="/executions/{execution.pk}/log?after=1"' in page

    LogLine.objects.create(execution=execution, n=2, t=timezone.now(), stream="stderr", text="second")
    Execution.objects.filter(pk=execution.pk).update(status="succeeded", exit_code=0)
    update = logged_in.get(f"/executions/{execution.pk}/log?after=1", HTTP_HX_REQUEST="true").content.decode()
    assert "second" in update and "first" not in update
    assert "succeeded" in update
    assert "hx-trigger" not in update  # done: the poller is gone


def test_alert_labels_are_escaped_on_the_event_page(logged_in):
    source, _ = make_source()
    event = Event.objects.create(
        source=source,
        status="firing",
        name="<script>alert(1)</script>",
        fingerprint="f",
        labels={"x": "<img src=x onerror=alert(1)>"},
    )
    html = logged_in.get(f"/events/{event.pk}/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_unknown_execution_is_a_404_page(logged_in):
    assert logged_in.get("/executions/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_a_fragment_url_opened_without_htmx_gets_its_full_page(logged_in):
    """A reloaded or bookmarked poll URL shows the run, not a bare fragment."""
    runbook = make_runbook(slug="fragments")
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version, status="running")
    for path in (f"/executions/{execution.pk}/log?after=0", f"/executions/{execution.pk}/log/earlier?before=5"):
        plain = logged_in.get(path, follow=True)
        assert plain.redirect_chain == [(f"/executions/{execution.pk}/", 302)], path
        assert "<html" in plain.content.decode() and 'role="log"' in plain.content.decode()
        fragment = logged_in.get(path, HTTP_HX_REQUEST="true")
        assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
        assert "HX-Request" in fragment["Vary"] and "HX-Request" in logged_in.get(path)["Vary"]
