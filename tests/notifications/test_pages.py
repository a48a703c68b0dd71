"""The notifications page: everyone reads channels, subscriptions and
deliveries; only admins see and use the forms and buttons."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from notifications.models import Channel, Delivery, Subscription
from tests.factories import make_runbook, make_user

pytestmark = pytest.mark.django_db


def browser(role, username=None):
    client = Client()
    client.force_login(make_user(role, username=username or f"{role}-page"))
    return client


@pytest.fixture
def admin():
    return browser("admin")


def test_an_admin_creates_a_webhook_channel_and_sees_its_secret_once(admin):
    page = admin.get("/notifications/").content.decode()
    for field in ("id_name", "id_kind", "id_url", "id_recipients", "id_routing_key", "id_channel", "id_events_0"):
        assert f'for="{field}"' in page  # every field has a visible label
    answer = admin.post("/notifications/", {"name": "Ops hook", "kind": "webhook", "url": "http://127.0.0.1:9/h"})
    assert answer.status_code == 201
    html = answer.content.decode()
    secret = re.search(r'id="signing-secret">([^<]+)<', html).group(1)
    assert len(secret) >= 32 and "only time Steward shows it" in html
    assert secret not in admin.get("/notifications/").content.decode()
    assert secret not in admin.get("/notifications/channels/ops-hook/").content.decode()
    assert AuditEntry.objects.filter(action="channel.created", object_id="ops-hook").exists()


def test_a_private_url_is_refused_on_the_page_with_the_reason(admin, settings):
    settings.STEWARD_NOTIFY_ALLOWED_NETWORKS = []
    answer = admin.post("/notifications/", {"name": "Meta", "kind": "webhook", "url": "http://169.254.169.254/x"})
    assert answer.status_code == 400 and "link-local" in answer.content.decode()
    assert Channel.objects.count() == 0


def test_an_admin_subscribes_a_runbook_and_deletes_the_subscription(admin):
    admin.post("/notifications/", {"name": "Ops mail", "kind": "email", "recipients": "ops@example.com"})
    make_runbook(slug="disk", name="Disk cleanup")
    answer = admin.post(
        "/notifications/subscriptions/", {"channel": "ops-mail", "runbook": "disk", "events": ["run_failed"]}
    )
    assert answer.status_code == 302
    subscription = Subscription.objects.get()
    assert subscription.events == ["run_failed"] and subscription.runbook.slug == "disk"
    both = admin.post("/notifications/subscriptions/", {"channel": "ops-mail", "events": ["run_failed"]})
    assert both.status_code == 400 and "exactly one of runbook, binding or gate" in both.content.decode()
    assert admin.post(f"/notifications/subscriptions/{subscription.pk}/delete").status_code == 302
    assert Subscription.objects.count() == 0


def test_a_viewer_sees_deliveries_with_their_errors_but_no_forms_and_cannot_post(admin):
    admin.post("/notifications/", {"name": "Ops mail", "kind": "email", "recipients": "ops@example.com"})
    channel = Channel.objects.get()
    Delivery.objects.create(
        channel=channel,
        channel_name="Ops mail",
        event="run_failed",
        status="failed",
        attempts=3,
        last_error="the mail server failed: <Connection refused>",
    )
    viewer = browser("viewer")
    html = viewer.get("/notifications/").content.decode()
    assert "Ops mail" in html and "run_failed" in html and ">failed<" in html and "<td>3</td>" in html
    assert "the mail server failed: &lt;Connection refused&gt;" in html  # escaped
    assert "New channel" not in html and "Send a test" not in html and "Delete" not in html
    refused = viewer.post("/notifications/", {"name": "Mine", "kind": "email", "recipients": "a@example.com"})
    assert refused.status_code == 403 and Channel.objects.count() == 1
    assert viewer.post("/notifications/channels/ops-mail/delete").status_code == 403
    assert viewer.post("/notifications/channels/ops-mail/test").status_code == 403


def test_the_page_costs_the_same_for_5_or_50_deliveries(admin):
    admin.post("/notifications/", {"name": "Ops mail", "kind": "email", "recipients": "ops@example.com"})
    channel = Channel.objects.get()

    def fill(n):
        Delivery.objects.bulk_create(
            Delivery(channel=channel, channel_name="Ops mail", event="run_failed") for _ in range(n)
        )

    fill(5)
    with CaptureQueriesContext(connection) as few:
        admin.get("/notifications/")
    fill(45)
    with CaptureQueriesContext(connection) as many:
        assert admin.get("/notifications/").status_code == 200
    assert len(many) == len(few)


def test_an_admin_edits_tests_and_deletes_a_channel(admin):
    admin.post("/notifications/", {"name": "Ops mail", "kind": "email", "recipients": "ops@example.com"})
    edit = admin.post(
        "/notifications/channels/ops-mail/",
        {"name": "Ops team", "enabled": "on", "recipients": "a@example.com, b@example.com"},
    )
    assert edit.status_code == 302
    assert Channel.objects.get().recipients == ["a@example.com", "b@example.com"]
    assert admin.post("/notifications/channels/ops-mail/test").status_code == 302
    assert Delivery.objects.get().event == "test"
    assert admin.post("/notifications/channels/ops-mail/delete").status_code == 302
    assert Channel.objects.count() == 0 and Delivery.objects.count() == 1


def test_the_pages_refuse_what_the_api_refuses_and_save_nothing(admin):
    # The rules are notifications/validation.py's, the API's as well.
    admin.post("/notifications/", {"name": "Ops mail", "kind": "email", "recipients": "ops@example.com"})
    make_runbook(slug="disk", name="Disk cleanup")
    wrong = admin.post(
        "/notifications/subscriptions/", {"channel": "ops-mail", "runbook": "disk", "events": ["gate_failed"]}
    )
    assert wrong.status_code == 400 and "a runbook subscription takes" in wrong.content.decode()
    assert Subscription.objects.count() == 0
    edit = admin.post("/notifications/channels/ops-mail/", {"name": "Ops", "recipients": "not-an-address"})
    assert edit.status_code == 400 and "is not an email address" in edit.content.decode()
    assert Channel.objects.get().recipients == ["ops@example.com"]
    keyless = admin.post("/notifications/", {"name": "PD", "kind": "pagerduty"})
    assert keyless.status_code == 400 and "needs the integration&#x27;s routing key" in keyless.content.decode()
    assert Channel.objects.count() == 1
