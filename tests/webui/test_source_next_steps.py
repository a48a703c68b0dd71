"""After creating a source the page says what to do next: the last event
received, a test alert through the source's own adapter and bindings, and a
binding for this source."""

import json

import pytest
from django.test import Client

from audit.models import AuditEntry
from events.models import Event
from events.sources import ADAPTERS
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(client):
    client.force_login(make_user("author", username="ana"))
    return client


def test_the_page_shows_the_last_event_received_with_a_link(author):
    _, token = make_source("gen", "generic")
    assert "none yet" in author.get("/sources/gen/").content.decode()
    for name in ("First", "Second"):
        answer = Client().post(
            "/hooks/gen",
            json.dumps({"name": name}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert answer.status_code == 202
    last = Event.objects.get(name="Second")
    page = author.get("/sources/gen/").content.decode()
    assert f'<a href="/events/{last.pk}/">Second</a>' in page and "First" not in page


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_a_test_alert_of_each_kind_arrives_runs_the_bound_runbook_and_is_audited(author, kind):
    source, _ = make_source("src", kind, signing_secret="a-signing-secret-of-16+" if kind == "pagerduty" else "")
    make_binding(make_runbook(slug="probe"), source, match=[{"path": "name", "op": "eq", "value": "StewardTestAlert"}])

    response = author.post("/sources/src/test-alert", follow=True)
    assert response.redirect_chain == [("/sources/src/", 302)]
    event = Event.objects.get(source=source)
    assert event.name == "StewardTestAlert" and event.status == "firing"
    run = Execution.objects.get(event=event)
    assert run.runbook.slug == "probe" and run.status == "queued"
    page = response.content.decode()
    assert "Test alert received: 1 run started." in page and f'href="/events/{event.pk}/"' in page

    entry = AuditEntry.objects.get(action="source.test_alert_sent")
    assert entry.actor == "ana" and entry.object_id == "src"
    assert entry.after == {"events": [str(event.pk)], "executions": [str(run.pk)]}


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_a_second_test_alert_runs_again_it_is_no_re_notification(author, kind):
    """Alertmanager and Grafana alerts run once per firing: each test alert
    is a firing of its own, or the second click would start nothing."""
    source, _ = make_source("src", kind, signing_secret="a-signing-secret-of-16+" if kind == "pagerduty" else "")
    make_binding(make_runbook(slug="probe"), source, match=[{"path": "name", "op": "eq", "value": "StewardTestAlert"}])
    for _ in range(2):
        assert author.post("/sources/src/test-alert").status_code == 302
    assert Execution.objects.filter(runbook__slug="probe").count() == 2


def test_a_test_alert_nothing_binds_says_so(author):
    make_source("am", "alertmanager")
    page = author.post("/sources/am/test-alert", follow=True).content.decode()
    assert "no binding matched it, so nothing runs" in page and Event.objects.count() == 1


def test_a_test_alert_a_sources_mapping_cannot_read_is_refused_with_the_reason(author):
    make_source("gen", "generic", mapping={"name": "title.text"})
    page = author.post("/sources/gen/test-alert", follow=True).content.decode()
    assert "No test alert sent" in page and "title.text" in page and not Event.objects.exists()


def test_a_test_alert_needs_the_csrf_token_and_an_author(client):
    make_source("am", "alertmanager")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("author"))
    assert strict.post("/sources/am/test-alert").status_code == 403
    client.force_login(make_user("responder"))
    assert client.post("/sources/am/test-alert").status_code == 403
    assert "Send a test alert" not in client.get("/sources/am/").content.decode()
    assert client.get("/sources/am/test-alert").status_code in (403, 405)
    assert not Event.objects.exists()


def test_create_a_binding_for_this_source_opens_the_form_with_the_source_chosen(author):
    make_source("am", "alertmanager")
    make_source("other", "generic")
    page = author.get("/sources/am/").content.decode()
    assert 'href="/bindings/new/?source=am"' in page
    form = author.get("/bindings/new/?source=am").content.decode()
    assert '<option value="am" selected>' in form and '<option value="other" selected>' not in form
    unknown = author.get("/bindings/new/?source=nope").content.decode()
    assert '<option value="" selected>' in unknown


def test_an_event_nothing_binds_links_to_a_binding_form_for_its_source(author):
    make_source("am", "alertmanager")
    author.post("/sources/am/test-alert")
    event = Event.objects.get()
    assert 'href="/bindings/new/?source=am">Add a binding</a>' in author.get(f"/events/{event.pk}/").content.decode()
