"""Creating and editing bindings in the browser's pages: the same rules as
the API, errors on the fields, audited, for authors only; and the source
page's Copy buttons and STEWARD_BASE_URL warning."""

import html
import json
import re

import pytest
from django.test import Client

from audit.models import AuditEntry
from events.models import Binding
from notifications.models import Channel, Subscription
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db

CONDITIONS = [
    {"path": "labels.service", "op": "eq", "value": "checkout"},
    {"any": [{"path": "severity", "op": "in", "value": ["critical", "page"]}, {"path": "labels.tier", "op": "exists"}]},
]
PARAMETERS = {"host": "{{ event.labels.instance }}"}


@pytest.fixture
def runbook():
    return make_runbook("Drain host", slug="drain-host")


@pytest.fixture
def source():
    return make_source("prom", "alertmanager")[0]


@pytest.fixture
def author_client(client):
    client.force_login(make_user("author", username="ana"))
    return client


def form_data(**changes) -> dict:
    """What a browser posts for a complete binding (checkboxes: present when ticked)."""
    data = {
        "name": "Drain checkout hosts",
        "source": "prom",
        "match": json.dumps(CONDITIONS),
        "on_status": "firing",
        "runbook": "drain-host",
        "parameters": json.dumps(PARAMETERS),
        "dedup_key": "{{ event.labels.instance }}",
        "dedup_window_seconds": "300",
        "breaker_failures": "3",
        "breaker_window_minutes": "15",
        "cancel_on_resolve": "on",
        "enabled": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def field_errors(response, field: str) -> str:
    """The error text shown under one field of the form."""
    page = response.content.decode()
    match = re.search(rf'id="id_{field}".*?<small class="error" role="alert">(.*?)</small>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def textarea(page: str, name: str) -> str:
    return html.unescape(re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def test_an_author_creates_a_binding_that_is_stored_as_the_api_would_and_audited(author_client, runbook, source):
    response = author_client.post("/bindings/new/", form_data())
    binding = Binding.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/bindings/test/?binding={binding.pk}"
    assert binding.name == "Drain checkout hosts" and binding.source == source and binding.runbook == runbook
    assert binding.match == CONDITIONS and binding.parameters == PARAMETERS
    assert (binding.dedup_window_seconds, binding.dedup_key) == (300, "{{ event.labels.instance }}")
    assert (binding.breaker_failures, binding.breaker_window_minutes) == (3, 15)
    assert binding.cancel_on_resolve and binding.enabled and not binding.requires_approval
    entry = AuditEntry.objects.get(action="binding.created")
    assert entry.actor == "ana" and entry.object_id == str(binding.pk)
    assert (
        entry.after["match"] == CONDITIONS
        and entry.after["source"] == "prom"
        and entry.after["runbook"] == "drain-host"
    )


def test_after_saving_the_tester_opens_with_an_event_the_binding_matches(author_client, runbook, source):
    response = author_client.post("/bindings/new/", form_data(), follow=True)
    page = response.content.decode()
    assert "Test it with a sample event" in page and "the next matching event runs Drain host" in page
    event = json.loads(textarea(page, "event"))
    assert event["labels"] == {"service": "checkout", "instance": "example-instance"}
    assert event["severity"] == "critical" and event["status"] == "firing"
    # The prefilled event, sent as is, shows the binding would run with its rendered parameters.
    tested = author_client.post("/bindings/test/", {"event": json.dumps(event)}).content.decode()
    assert "would run" in tested and "&quot;host&quot;: &quot;example-instance&quot;" in tested


def test_any_source_and_a_disabled_binding_go_back_to_the_list_saying_it_starts_nothing(author_client, runbook):
    response = author_client.post("/bindings/new/", form_data(source="", enabled=None), follow=True)
    binding = Binding.objects.get()
    assert binding.source is None and not binding.enabled
    assert response.redirect_chain[-1][0] == "/bindings/"
    assert "It is disabled: it starts nothing until enabled." in response.content.decode()


@pytest.mark.parametrize(
    "changes,field,expected",
    [
        ({"match": '[{"path": "labels.service", "op": "eq"'}, "match", "Not valid JSON"),
        ({"match": '{"path": "labels.service"}'}, "match", "match must be a list of conditions"),
        (
            {"match": json.dumps([CONDITIONS[0], {"path": "labels.env", "op": "equals", "value": "prod"}])},
            "match",
            'Condition 2 {"path": "labels.env", "op": "equals", "value": "prod"}: op \'equals\' is not one of',
        ),
        (
            {"match": json.dumps([{"path": "labels.env", "op": "in", "value": "prod"}])},
            "match",
            "Condition 1",
        ),
        (
            {"match": json.dumps([{"any": [CONDITIONS[0], {"path": "name", "op": "regex", "value": "("}]}])},
            "match",
            "Condition 1, alternative 2",
        ),
        ({"parameters": '{"host": "{{ event.labels.instance "}'}, "parameters", "host:"),
        ({"parameters": '["not", "an", "object"]'}, "parameters", "parameters must be an object"),
        ({"dedup_key": "{% if %}"}, "dedup_key", "dedup_key"),
        ({"dedup_window_seconds": "9999999"}, "dedup_window_seconds", "less than or equal to 604800"),
        ({"runbook": "no-such-runbook"}, "runbook", "Select a valid choice"),
        ({"name": ""}, "name", "This field is required"),
    ],
)
def test_a_bad_binding_is_refused_with_the_reason_on_its_field_and_the_api_refuses_it_too(
    author_client, api_as, runbook, source, changes, field, expected
):
    response = author_client.post("/bindings/new/", form_data(**changes))
    assert response.status_code == 200
    assert expected in field_errors(response, field)
    assert not Binding.objects.exists() and not AuditEntry.objects.filter(action="binding.created").exists()
    # The API refuses the same binding, on the same field.
    body = {k: v for k, v in form_data(**changes).items() if k not in ("cancel_on_resolve", "enabled")}
    for name in ("match", "parameters"):
        try:
            body[name] = json.loads(body[name])
        except ValueError:
            return  # not JSON: the API's client could not even send it
    api = api_as(make_user("author", username="pipeline"))
    answer = api.post("/api/v1/bindings/", body, content_type="application/json")
    assert answer.status_code == 400 and field in answer.json()["errors"]


def test_the_form_accepts_what_the_api_accepts(author_client, api_as, runbook, source):
    """One binding through both: the stored bindings are the same."""
    author_client.post("/bindings/new/", form_data(name="from the form"))
    api = api_as(make_user("author", username="pipeline"))
    body = {
        **form_data(name="from the api"),
        "match": CONDITIONS,
        "parameters": PARAMETERS,
        # JSON numbers, as the schema says (a form posts every value as text).
        "dedup_window_seconds": 300,
        "breaker_failures": 3,
        "breaker_window_minutes": 15,
        "cancel_on_resolve": True,
        "enabled": True,
        "requires_approval": False,
    }
    assert api.post("/api/v1/bindings/", body, content_type="application/json").status_code == 201
    shown = api.get("/api/v1/bindings/").json()["results"]
    ignored = {"id", "name", "created_at", "updated_at"}
    first, second = ({k: v for k, v in b.items() if k not in ignored} for b in shown)
    assert first == second


def test_editing_shows_the_bindings_values_and_saves_an_audited_change(author_client, runbook, source):
    binding = make_binding(
        runbook, source, match=CONDITIONS, parameters=PARAMETERS, name="Drain", dedup_window_seconds=60
    )
    page = author_client.get(f"/bindings/{binding.pk}/edit/").content.decode()
    assert re.search(r'name="name" value="Drain"', page)
    assert json.loads(textarea(page, "match")) == CONDITIONS and json.loads(textarea(page, "parameters")) == PARAMETERS
    assert '<option value="prom" selected>' in page and '<option value="drain-host" selected>' in page
    assert 'name="dedup_window_seconds" value="60"' in page

    new_match = [{"path": "labels.service", "op": "eq", "value": "search"}]
    response = author_client.post(
        f"/bindings/{binding.pk}/edit/", form_data(name="Drain", match=json.dumps(new_match), requires_approval="on")
    )
    assert response.status_code == 302
    binding.refresh_from_db()
    assert binding.match == new_match and binding.requires_approval
    entry = AuditEntry.objects.get(action="binding.updated")
    assert entry.actor == "ana" and entry.before["match"] == CONDITIONS and entry.after["match"] == new_match
    assert Binding.objects.count() == 1


def test_an_edit_with_errors_changes_nothing_and_keeps_what_was_typed(author_client, runbook, source):
    binding = make_binding(runbook, source, match=CONDITIONS, name="Drain")
    bad = '[{"path": "labels.x", "op": "nope", "value": 1}]'
    response = author_client.post(f"/bindings/{binding.pk}/edit/", form_data(name="Renamed", match=bad))
    assert response.status_code == 200 and "Condition 1" in field_errors(response, "match")
    assert 'value="Renamed"' in response.content.decode()
    binding.refresh_from_db()
    assert binding.name == "Drain" and binding.match == CONDITIONS
    assert not AuditEntry.objects.filter(action="binding.updated").exists()


def test_editing_an_unknown_binding_is_a_404(author_client):
    assert author_client.get("/bindings/7f8e2c44-3a56-4a57-9d3e-1b0d1c2a3b4c/edit/").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_only_authors_may_create_or_edit_bindings(client, runbook, source, role):
    binding = make_binding(runbook, source, name="Drain")
    client.force_login(make_user(role))
    for url in ("/bindings/new/", f"/bindings/{binding.pk}/edit/"):
        assert client.get(url).status_code == 403
        response = client.post(url, form_data(name="Taken over"))
        assert response.status_code == 403 and b"that needs the author role" in response.content
    assert list(Binding.objects.values_list("name", flat=True)) == ["Drain"]
    listing = client.get("/bindings/").content.decode()
    assert "New binding" not in listing and f"/bindings/{binding.pk}/edit/" not in listing


def test_an_author_sees_new_binding_and_an_edit_link_per_binding(author_client, runbook, source):
    binding = make_binding(runbook, source, name="Drain")
    listing = author_client.get("/bindings/").content.decode()
    assert 'href="/bindings/new/" role="button">New binding</a>' in listing
    assert f'href="/bindings/{binding.pk}/edit/" aria-label="Edit Drain"' in listing


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/bindings/new/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_form_needs_the_csrf_token(runbook, source):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("author", username="ana"))
    assert client.post("/bindings/new/", form_data()).status_code == 403
    page = client.get("/bindings/new/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post("/bindings/new/", {**form_data(), "csrfmiddlewaretoken": token}).status_code == 302
    assert Binding.objects.count() == 1


def test_every_field_of_the_form_has_a_visible_label(author_client, runbook):
    page = author_client.get("/bindings/new/").content.decode()
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="(id_[^"]+)"', page)
    assert len(ids) == 13
    for field_id in ids:
        assert f'<label for="{field_id}">' in page, field_id
    assert "style=" not in page and "<script>" not in page


# The source page


def test_the_source_page_has_copy_buttons_for_the_token_url_and_snippet(author_client):
    html_page = author_client.post(
        "/sources/new/", {"name": "Prod AM", "kind": "alertmanager", "rate_limit_per_minute": 100}, follow=True
    ).content.decode()
    for target, name in (("token", "the token"), ("webhook-url", "the webhook URL"), ("snippet", "the snippet")):
        assert f'id="{target}"' in html_page
        assert (
            f'<button type="button" class="secondary outline small" data-copy="{target}" aria-label="Copy {name}">'
            in (html_page)
        )
    assert "webui/copy.js" in html_page
    later = author_client.get("/sources/prod-am/").content.decode()
    assert 'data-copy="token"' not in later and 'data-copy="snippet"' in later


def test_a_page_served_from_another_host_warns_and_keeps_steward_base_url_in_the_snippet(author_client, settings):
    make_source("gen", "generic")
    settings.STEWARD_BASE_URL = "https://steward.example.com"
    settings.ALLOWED_HOSTS = ["steward.example.com", "10.0.0.5"]
    page = author_client.get("/sources/gen/", HTTP_HOST="10.0.0.5:8000").content.decode()
    assert "curl -sS -X POST https://steward.example.com/hooks/gen" in page and "10.0.0.5:8000/hooks" not in page
    warning = html.unescape(re.search(r'id="base-url-warning">(.*?)</p>', page, re.S).group(1))
    assert "10.0.0.5:8000" in warning and "steward.example.com" in warning and "STEWARD_BASE_URL" in warning

    same = author_client.get("/sources/gen/", HTTP_HOST="steward.example.com", secure=True).content.decode()
    assert "base-url-warning" not in same


def test_a_port_that_differs_from_steward_base_url_is_warned_about_too(author_client, settings):
    make_source("gen", "generic")
    settings.STEWARD_BASE_URL = "http://127.0.0.1:8000"
    assert "base-url-warning" not in author_client.get("/sources/gen/", HTTP_HOST="127.0.0.1:8000").content.decode()
    page = author_client.get("/sources/gen/", HTTP_HOST="127.0.0.1:9000").content.decode()
    assert "base-url-warning" in page and "127.0.0.1:9000" in page


# Deleting a binding


def test_the_edit_page_leads_to_a_confirmation_that_says_what_deleting_does(author_client, runbook, source):
    binding = make_binding(runbook, source, name="Drain")
    Execution.objects.create(runbook=runbook, version=runbook.current_version, status="succeeded", binding=binding)
    channel = Channel.objects.create(slug="ops", name="Ops", kind="email", recipients=["ops@example.com"])
    for events in (["run_failed"], ["binding_tripped"]):
        Subscription.objects.create(channel=channel, binding=binding, events=events)

    edit = author_client.get(f"/bindings/{binding.pk}/edit/").content.decode()
    form = re.search(rf'<form method="get" action="/bindings/{binding.pk}/delete/">(.*?)</form>', edit, re.S)
    assert form and "Delete binding" in form.group(1)

    confirm = author_client.get(f"/bindings/{binding.pk}/delete/")
    assert confirm.status_code == 200 and Binding.objects.filter(pk=binding.pk).exists()  # a GET deletes nothing
    page = " ".join(confirm.content.decode().split())
    assert "Delete the binding Drain?" in page
    assert "Its 1 past run stays in the history" in page
    assert "Its 2 notification subscriptions are removed too." in page
    post = re.search(rf'<form method="post" action="/bindings/{binding.pk}/delete/">(.*?)</form>', page, re.S)
    assert post and 'name="csrfmiddlewaretoken"' in post.group(1) and "Delete binding" in post.group(1)
    assert "style=" not in page and "<script>" not in page


def test_confirming_deletes_the_binding_and_the_list_says_so(author_client, runbook, source):
    binding = make_binding(runbook, source, name="Drain")
    run = Execution.objects.create(runbook=runbook, version=runbook.current_version, status="failed", binding=binding)

    response = author_client.post(f"/bindings/{binding.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/bindings/", 302)]
    page = response.content.decode()
    assert "Binding Drain deleted. Its past runs stay in the history." in page
    assert f"/bindings/{binding.pk}/edit/" not in page and "No bindings yet." in page
    assert not Binding.objects.exists()
    run.refresh_from_db()
    assert run.binding_id is None and run.status == "failed"
    entry = AuditEntry.objects.get(action="binding.deleted")
    assert entry.actor == "ana" and entry.object_id == str(binding.pk)
    assert entry.before["name"] == "Drain" and entry.before["source"] == "prom"
    assert entry.before["runbook"] == "drain-host"


def test_deleting_an_unknown_binding_is_a_404(author_client):
    url = "/bindings/7f8e2c44-3a56-4a57-9d3e-1b0d1c2a3b4c/delete/"
    assert author_client.get(url).status_code == 404
    assert author_client.post(url).status_code == 404
    assert not AuditEntry.objects.filter(action="binding.deleted").exists()


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_only_authors_may_delete_bindings(client, runbook, source, role):
    binding = make_binding(runbook, source, name="Drain")
    client.force_login(make_user(role))
    assert client.get(f"/bindings/{binding.pk}/delete/").status_code == 403
    response = client.post(f"/bindings/{binding.pk}/delete/")
    assert response.status_code == 403 and b"that needs the author role" in response.content
    assert Binding.objects.filter(pk=binding.pk).exists()


def test_deleting_needs_the_csrf_token(runbook, source):
    binding = make_binding(runbook, source, name="Drain")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("author", username="ana"))
    assert client.post(f"/bindings/{binding.pk}/delete/").status_code == 403
    page = client.get(f"/bindings/{binding.pk}/delete/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(f"/bindings/{binding.pk}/delete/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert not Binding.objects.exists()
