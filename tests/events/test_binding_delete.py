"""Deleting a binding through the API: authors only, audited with what it
was, the runs it started kept, and the very next webhook no longer runs it."""

import json

import pytest

from audit.models import AuditEntry
from events.models import Binding, DedupEntry
from notifications.models import Channel, Subscription
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    return make_source("gen", "generic")


@pytest.fixture
def binding(source):
    return make_binding(
        make_runbook(slug="restart"),
        source[0],
        name="Restart on CPU",
        match=[{"path": "name", "op": "eq", "value": "CPU"}],
        dedup_window_seconds=600,
    )


def fire(client, source, name="CPU") -> list[str]:
    """Post an alert to the source's webhook; the runs it started."""
    _, token = source
    response = client.post(
        "/hooks/gen",
        data=json.dumps({"name": name, "fingerprint": name}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 202, response.content
    return response.json()["executions"]


def test_an_author_deletes_a_binding_and_it_is_gone(api_as, binding):
    author = api_as(make_user("author", username="ana"))
    response = author.delete(f"/api/v1/bindings/{binding.pk}/")
    assert response.status_code == 204 and response.content == b""
    assert not Binding.objects.filter(pk=binding.pk).exists()
    assert author.get(f"/api/v1/bindings/{binding.pk}/").status_code == 404
    assert author.delete(f"/api/v1/bindings/{binding.pk}/").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_viewers_and_responders_may_not_delete_a_binding(api_as, binding, role):
    response = api_as(make_user(role)).delete(f"/api/v1/bindings/{binding.pk}/")
    assert response.status_code == 403
    assert f"Your role ({role}) may not change bindings" in response.json()["detail"]
    assert Binding.objects.filter(pk=binding.pk).exists()
    assert not AuditEntry.objects.filter(action="binding.deleted").exists()


def test_the_deletion_is_audited_with_the_binding_as_it_was(api_as, binding):
    author = api_as(make_user("author", username="ana"))
    shown = author.get(f"/api/v1/bindings/{binding.pk}/").json()
    assert author.delete(f"/api/v1/bindings/{binding.pk}/").status_code == 204
    entry = AuditEntry.objects.get(action="binding.deleted")
    assert entry.actor.startswith("ana:") and entry.actor_kind == "token"  # the user and which token
    assert (entry.object_type, entry.object_id) == ("binding", str(binding.pk))
    assert entry.before == shown and entry.after is None
    assert entry.before["name"] == "Restart on CPU" and entry.before["runbook"] == "restart"


def test_past_runs_stay_without_their_binding_and_the_next_webhook_runs_nothing(client, api_as, binding, source):
    started = fire(client, source)  # also fills this process's webhook cache with the binding
    assert len(started) == 1 and DedupEntry.objects.filter(binding=binding).exists()
    assert api_as(make_user("author")).delete(f"/api/v1/bindings/{binding.pk}/").status_code == 204

    kept = Execution.objects.get(pk=started[0])
    assert kept.binding_id is None and kept.runbook.slug == "restart" and kept.event is not None
    assert not DedupEntry.objects.exists()  # its windows went with it: nothing left to deduplicate against
    assert fire(client, source) == [] and fire(client, source, name="CPU again") == []
    assert Execution.objects.count() == 1


def test_its_notification_subscriptions_go_with_it_and_others_stay(api_as, binding):
    channel = Channel.objects.create(slug="ops", name="Ops", kind="email", recipients=["ops@example.com"])
    Subscription.objects.create(channel=channel, binding=binding, events=["run_failed"])
    other = Subscription.objects.create(channel=channel, runbook=binding.runbook, events=["run_failed"])
    assert api_as(make_user("author")).delete(f"/api/v1/bindings/{binding.pk}/").status_code == 204
    assert list(Subscription.objects.all()) == [other]
    assert Channel.objects.filter(slug="ops").exists()
