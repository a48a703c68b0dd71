"""Deleting a source: admins only, through the API or its page, audited with
what it was; its events and runs stay, its webhook answers 404 from the next
request. And two sources may not share a name."""

import importlib
import json

import pytest

from audit.models import AuditEntry
from events.models import Binding, Event, Source
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    return make_source("gen", "generic")


def fire(client, token, name="CPU"):
    return client.post(
        "/hooks/gen",
        data=json.dumps({"name": name}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_an_admin_deletes_a_source_its_events_and_runs_stay_and_its_webhook_is_gone(client, api_as, source):
    gen, token = source
    make_binding(make_runbook(slug="restart"), gen, name="Restart on CPU")
    answer = fire(client, token)  # also fills this process's webhook cache with the source
    assert answer.status_code == 202
    [event_id], [run_id] = answer.json()["events"], answer.json()["executions"]

    admin = api_as(make_user("admin", username="ada"))
    shown = admin.get("/api/v1/sources/gen/").json()
    response = admin.delete("/api/v1/sources/gen/")
    assert response.status_code == 204 and response.content == b""

    assert not Source.objects.filter(slug="gen").exists() and not Binding.objects.exists()
    event = Event.objects.get(pk=event_id)
    assert event.source is None and event.source_label == "Gen (deleted)"
    run = Execution.objects.get(pk=run_id)
    assert run.event_id == event.pk and run.binding_id is None and run.runbook.slug == "restart"
    assert admin.get(f"/api/v1/events/{event_id}/").json()["source"] is None
    assert fire(client, token).status_code == 404
    assert admin.delete("/api/v1/sources/gen/").status_code == 404

    entry = AuditEntry.objects.get(action="source.deleted")
    assert entry.actor.startswith("ada:") and (entry.object_type, entry.object_id) == ("source", "gen")
    assert entry.before == shown and entry.after is None
    assert AuditEntry.objects.filter(action="binding.deleted", before__name="Restart on CPU").exists()


@pytest.mark.parametrize("role", ["viewer", "responder", "author"])
def test_only_an_admin_may_delete_a_source(api_as, source, role):
    response = api_as(make_user(role)).delete("/api/v1/sources/gen/")
    assert response.status_code == 403 and "may not delete sources" in response.json()["detail"]
    assert Source.objects.filter(slug="gen").exists()


def test_the_page_says_what_stays_then_deletes_on_the_button(client, source):
    gen, token = source
    make_binding(make_runbook(slug="restart"), gen, name="Restart on CPU")
    assert fire(client, token).status_code == 202
    client.force_login(make_user("admin", username="ada"))
    assert 'href="/sources/gen/delete/"' in client.get("/sources/gen/").content.decode()
    page = client.get("/sources/gen/delete/").content.decode()
    assert "Its 1 event stays in the history" in page and "Restart on CPU" in page and "deleted too" in page
    assert Source.objects.filter(slug="gen").exists()  # a GET deletes nothing

    response = client.post("/sources/gen/delete/", follow=True)
    assert response.redirect_chain == [("/sources/", 302)]
    assert "Source Gen deleted" in response.content.decode()
    assert not Source.objects.filter(slug="gen").exists()
    # The event's page still opens, naming the deleted source.
    event = Event.objects.get()
    assert "Gen (deleted)" in client.get(f"/events/{event.pk}/").content.decode()
    assert "Gen (deleted)" in client.get("/events/").content.decode()


def test_an_author_sees_no_delete_button(client, source):
    client.force_login(make_user("author"))
    assert 'href="/sources/gen/delete/"' not in client.get("/sources/gen/").content.decode()
    assert client.post("/sources/gen/delete/").status_code == 403
    assert Source.objects.filter(slug="gen").exists()


def test_two_sources_may_not_share_a_name_in_the_api_or_the_form(client, api_as, source):
    admin = api_as(make_user("admin"))
    response = admin.post("/api/v1/sources/", {"name": "gen", "kind": "generic"}, content_type="application/json")
    assert response.status_code == 409 and "name" in response.json()["errors"]
    client.force_login(make_user("admin", username="ada"))
    page = client.post("/sources/new/", {"name": "GEN", "kind": "alertmanager", "rate_limit_per_minute": 10})
    assert page.status_code == 200 and "a source with this name exists" in page.content.decode()
    renamed = admin.patch("/api/v1/sources/gen/", {"name": "Gen"}, content_type="application/json")
    assert renamed.status_code == 200  # its own name, in another case, is no clash
    assert Source.objects.count() == 1


def test_the_migration_renames_duplicates_oldest_first_and_skips_names_taken():
    migration = importlib.import_module("events.migrations.0009_source_delete_unique_name")
    rows = [
        ("a", "Prod"),
        ("b", "prod"),
        ("c", "Prod (2)"),
        ("d", "PROD"),
        ("e", "x"),
        ("f", "y" * 100),
        ("g", "Y" * 100),
    ]
    assert migration.new_names(rows) == {"b": "prod (3)", "d": "PROD (4)", "g": "Y" * 96 + " (2)"}


def test_a_name_taken_between_the_check_and_the_insert_is_refused_whole(source):
    """What two creations at once meet: the validator saw no clash, the
    database's constraint does. A clear refusal, no source and no audit."""
    from audit import trail
    from events import webhooks

    with pytest.raises(webhooks.SourceTaken) as refused:
        webhooks.create_source({"name": "GEN", "kind": "generic"}, trail.SYSTEM)
    assert refused.value.field == "name" and str(refused.value) == "a source with this name exists"
    assert Source.objects.count() == 1
    assert not AuditEntry.objects.filter(action="source.created", after__name="GEN").exists()
