"""Channels, subscriptions and deliveries through the API: admins manage,
everyone reads, secrets go in and never come out, every change is audited."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from core import crypto
from gates.models import Gate
from notifications.models import Channel, Delivery, Subscription
from tests.factories import make_binding, make_runbook, make_user

pytestmark = pytest.mark.django_db

# An address, not a name: the tests run without DNS.
SLACK_URL = "https://93.184.215.14/services/T000/B000/very-secret-part"
ROUTING_KEY = "R0123456789abcdefABCDEF0123456789"


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def patch(client, path, body):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def default_settings(settings):
    settings.STEWARD_NOTIFY_ALLOWED_NETWORKS = []
    return settings


def make_channels(api):
    """One channel of each kind, through the API (loopback is allowed in test settings)."""
    answers = {
        "webhook": post(
            api, "/api/v1/channels/", {"name": "Ops hook", "kind": "webhook", "url": "http://127.0.0.1:9/h"}
        ),
        "email": post(
            api, "/api/v1/channels/", {"name": "Ops mail", "kind": "email", "recipients": ["ops@example.com"]}
        ),
        "pagerduty": post(api, "/api/v1/channels/", {"name": "Pager", "kind": "pagerduty", "routing_key": ROUTING_KEY}),
    }
    for answer in answers.values():
        assert answer.status_code == 201, answer.json()
    return {kind: answer.json() for kind, answer in answers.items()}


def test_a_webhook_channel_shows_its_signing_secret_once_and_stores_it_encrypted(api):
    created = post(api, "/api/v1/channels/", {"name": "Ops hook", "kind": "webhook", "url": "http://127.0.0.1:9/h"})
    assert created.status_code == 201, created.json()
    body = created.json()
    secret = body["signing_secret"]
    assert len(secret) >= 32 and body["slug"] == "ops-hook" and body["has_secret"] is True
    channel = Channel.objects.get(slug="ops-hook")
    assert secret not in channel.secret_encrypted and crypto.decrypt(channel.secret_encrypted) == secret
    for answer in (api.get("/api/v1/channels/ops-hook/"), api.get("/api/v1/channels/")):
        assert secret not in answer.content.decode() and "signing_secret" not in answer.content.decode()
    entry = AuditEntry.objects.get(action="channel.created")
    assert entry.object_id == "ops-hook" and secret not in json.dumps(entry.after)


def test_slack_url_and_routing_key_are_write_only(api):
    slack = post(api, "/api/v1/channels/", {"name": "Slack ops", "kind": "slack", "url": SLACK_URL})
    pager = post(api, "/api/v1/channels/", {"name": "Pager", "kind": "pagerduty", "routing_key": ROUTING_KEY})
    assert slack.status_code == 201 and pager.status_code == 201, (slack.json(), pager.json())
    listing = api.get("/api/v1/channels/").content.decode()
    audit = json.dumps(list(AuditEntry.objects.values("before", "after")))
    for text in (slack.content.decode(), pager.content.decode(), listing, audit):
        assert "very-secret-part" not in text and ROUTING_KEY not in text
    assert slack.json()["target"] == "https://93.184.215.14/…" and slack.json()["signing_secret"] is None


def test_a_private_loopback_or_metadata_url_is_a_400_in_default_settings(api, default_settings):
    for url in ("http://127.0.0.1:9/h", "https://10.0.0.5/h", "http://169.254.169.254/latest/meta-data/"):
        answer = post(api, "/api/v1/channels/", {"name": "Bad", "kind": "webhook", "url": url})
        assert answer.status_code == 400, answer.json()
        assert "Steward does not send there" in answer.json()["detail"]
    answer = post(api, "/api/v1/channels/", {"name": "Bad", "kind": "slack", "url": "https://[::ffff:127.0.0.1]/x"})
    assert answer.status_code == 400 and "loopback" in answer.json()["detail"]
    assert Channel.objects.count() == 0 and not AuditEntry.objects.filter(action="channel.created").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "webhook"}, "url"),
        ({"name": "x", "kind": "email", "recipients": ["not-an-address"]}, "recipients"),
        ({"name": "x", "kind": "email"}, "recipients"),
        ({"name": "x", "kind": "pagerduty", "routing_key": "short"}, "routing_key"),
        ({"name": "x", "kind": "slack", "url": SLACK_URL, "routing_key": ROUTING_KEY}, "routing_key"),
        ({"name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/h", "signing_secret": "short"}, "signing_secret"),
        ({"name": "x", "kind": "carrier-pigeon", "url": SLACK_URL}, "kind"),
    ],
)
def test_bad_channels_are_400_naming_the_field(api, body, field):
    answer = post(api, "/api/v1/channels/", body)
    assert answer.status_code == 400 and field in answer.json()["errors"], answer.json()


def test_update_replaces_a_secret_without_showing_it_and_refuses_a_new_kind(api):
    make_channels(api)
    changed = patch(api, "/api/v1/channels/pager/", {"routing_key": "N" * 32, "name": "Pager duty"})
    assert changed.status_code == 200 and "N" * 32 not in changed.content.decode()
    assert crypto.decrypt(Channel.objects.get(slug="pager").secret_encrypted) == "N" * 32
    entry = AuditEntry.objects.get(action="channel.updated")
    assert entry.after["secret_changed"] is True and entry.before["name"] == "Pager"
    assert patch(api, "/api/v1/channels/pager/", {"kind": "email"}).status_code == 400


def test_deleting_a_channel_keeps_its_deliveries_and_is_audited(api):
    make_channels(api)
    row = Delivery.objects.create(channel=Channel.objects.get(slug="ops-mail"), channel_name="Ops mail", event="test")
    assert api.delete("/api/v1/channels/ops-mail/").status_code == 204
    row.refresh_from_db()
    assert row.channel is None and row.channel_name == "Ops mail"
    assert AuditEntry.objects.filter(action="channel.deleted", object_id="ops-mail").exists()


def test_subscriptions_name_exactly_one_subject_with_events_it_can_have(api):
    make_channels(api)
    runbook = make_runbook(slug="fix-disk")
    binding = make_binding(runbook, name="disk full")
    Gate.objects.create(name="prod-deploy")
    ok = post(api, "/api/v1/subscriptions/", {"channel": "pager", "runbook": "fix-disk", "events": ["run_failed"]})
    assert ok.status_code == 201, ok.json()
    assert ok.json()["runbook"] == "fix-disk" and ok.json()["binding"] is None
    tripped = {"channel": "pager", "binding": str(binding.pk), "events": ["binding_tripped", "run_failed"]}
    assert post(api, "/api/v1/subscriptions/", tripped).status_code == 201
    gate = post(
        api, "/api/v1/subscriptions/", {"channel": "ops-mail", "gate": "prod-deploy", "events": ["gate_failed"]}
    )
    assert gate.status_code == 201
    both = {"channel": "pager", "runbook": "fix-disk", "gate": "prod-deploy", "events": ["run_failed"]}
    assert "exactly one" in post(api, "/api/v1/subscriptions/", both).json()["detail"]
    none = post(api, "/api/v1/subscriptions/", {"channel": "pager", "events": ["run_failed"]})
    assert none.status_code == 400
    wrong = post(api, "/api/v1/subscriptions/", {"channel": "pager", "gate": "prod-deploy", "events": ["run_started"]})
    assert wrong.status_code == 400 and "gate_failed" in wrong.json()["detail"]
    assert (
        post(api, "/api/v1/subscriptions/", {"channel": "pager", "runbook": "fix-disk", "events": []}).status_code
        == 400
    )
    assert Subscription.objects.count() == 3 and AuditEntry.objects.filter(action="subscription.created").count() == 3
    sub = ok.json()["id"]
    assert patch(api, f"/api/v1/subscriptions/{sub}/", {"events": ["run_failed", "run_succeeded"]}).status_code == 200
    assert api.delete(f"/api/v1/subscriptions/{sub}/").status_code == 204
    assert AuditEntry.objects.filter(action__in=["subscription.updated", "subscription.deleted"]).count() == 2


def test_a_viewer_reads_channels_and_deliveries_but_changes_nothing_and_sees_no_secret(api, api_as):
    made = make_channels(api)
    viewer = api_as(make_user("viewer", username="watcher"))
    author = api_as(make_user("author", username="writer"))
    listing = viewer.get("/api/v1/channels/")
    assert listing.status_code == 200 and len(listing.json()["results"]) == 3
    assert made["webhook"]["signing_secret"] not in listing.content.decode()
    assert ROUTING_KEY not in listing.content.decode()
    assert viewer.get("/api/v1/deliveries/").status_code == 200
    for client in (viewer, author):
        refused = post(client, "/api/v1/channels/", {"name": "Mine", "kind": "email", "recipients": ["a@example.com"]})
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        assert client.delete("/api/v1/channels/pager/").status_code == 403
        assert post(client, "/api/v1/channels/pager/test/", {}).status_code == 403
    assert Channel.objects.count() == 3


def test_the_test_button_queues_a_test_delivery(api):
    make_channels(api)
    answer = post(api, "/api/v1/channels/ops-hook/test/", {})
    assert answer.status_code == 202 and answer.json()["event"] == "test" and answer.json()["status"] == "pending"
    assert Delivery.objects.get(pk=answer.json()["id"]).message["title"] == "Test message from Steward to Ops hook"


def test_the_deliveries_list_filters_and_costs_the_same_for_5_or_50_rows(api):
    make_channels(api)
    hook, mail = Channel.objects.get(slug="ops-hook"), Channel.objects.get(slug="ops-mail")

    def fill(n):
        Delivery.objects.bulk_create(
            Delivery(
                channel=hook if i % 2 else mail,
                channel_name="x",
                event="run_failed",
                status="failed" if i % 3 else "sent",
            )
            for i in range(n)
        )

    fill(5)
    with CaptureQueriesContext(connection) as few:
        assert api.get("/api/v1/deliveries/?page_size=100").status_code == 200
    fill(45)
    with CaptureQueriesContext(connection) as many:
        answer = api.get("/api/v1/deliveries/?page_size=100")
    assert len(answer.json()["results"]) == 50 and len(many) == len(few)
    failed = api.get("/api/v1/deliveries/?status=failed&channel=ops-hook").json()["results"]
    assert failed and all(d["status"] == "failed" and d["channel"] == "ops-hook" for d in failed)
    assert api.get("/api/v1/deliveries/?status=nope").status_code == 400
    assert api.get("/api/v1/deliveries/?execution=nope").status_code == 400
    nobody = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/v1/deliveries/?execution={nobody}").json()["results"] == []


def test_credentials_in_a_webhook_url_are_never_shown(api, api_as):
    url = "http://steward:hunter2-password@127.0.0.1:9/hook?token=abc123"
    assert post(api, "/api/v1/channels/", {"name": "Basic", "kind": "webhook", "url": url}).status_code == 201
    viewer = api_as(make_user("viewer", username="watcher"))
    for client in (api, viewer):
        text = client.get("/api/v1/channels/basic/").content.decode()
        assert "hunter2" not in text and "abc123" not in text
        assert client.get("/api/v1/channels/basic/").json()["target"] == "http://***@127.0.0.1:9/hook?…"
    assert Channel.objects.get().url == url  # kept whole, to send to
