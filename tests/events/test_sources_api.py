"""Creating and updating sources of every kind through /api/v1/sources/."""

import hashlib
import hmac
import json

import pytest

from audit import trail
from audit.models import AuditEntry
from core.errors import Refused
from events import webhooks
from events.models import Source
from tests.events.helpers import as_bytes, load, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

PD_SECRET = "pagerduty-generated-signing-secret-0123456789abcdef"


def send(client, method, path, body):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "sns", "generic"])
def test_every_kind_can_be_created(api, kind):
    response = send(api, "post", "/api/v1/sources/", {"name": f"Prod {kind}", "kind": kind})
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == kind and response.json()["token"].startswith("sts_")


def test_a_pagerduty_source_needs_its_signing_secret(api):
    response = send(api, "post", "/api/v1/sources/", {"name": "PD", "kind": "pagerduty"})
    assert response.status_code == 400 and "signing_secret" in response.json()["errors"]
    assert not Source.objects.exists()


def test_the_signing_secret_is_write_only_and_encrypted_at_rest(api):
    created = send(api, "post", "/api/v1/sources/", {"name": "PD", "kind": "pagerduty", "signing_secret": PD_SECRET})
    assert created.status_code == 201, created.json()
    assert PD_SECRET not in created.content.decode() and created.json()["has_signing_secret"] is True
    listed = api.get("/api/v1/sources/").content.decode() + api.get("/api/v1/sources/pd").content.decode()
    assert PD_SECRET not in listed and "signing_secret_encrypted" not in listed
    stored = Source.objects.get(slug="pd")
    assert PD_SECRET not in stored.signing_secret_encrypted and stored.signing_secret == PD_SECRET
    assert PD_SECRET not in json.dumps(list(AuditEntry.objects.values("before", "after")))


def test_a_new_signing_secret_takes_effect_for_the_webhook(api, client):
    created = send(api, "post", "/api/v1/sources/", {"name": "PD", "kind": "pagerduty", "signing_secret": PD_SECRET})
    token = created.json()["token"]
    new_secret = "rotated-signing-secret-9876543210"
    updated = send(api, "patch", "/api/v1/sources/pd", {"signing_secret": new_secret})
    assert updated.status_code == 200, updated.json()
    assert AuditEntry.objects.filter(action="source.updated", after__signing_secret_changed=True).exists()
    body = as_bytes(load("pagerduty/incident-triggered.json"))
    header = "v1=" + hmac.new(new_secret.encode(), body, hashlib.sha256).hexdigest()
    assert post(client, "pd", body, token, HTTP_X_PAGERDUTY_SIGNATURE=header).status_code == 202


def test_a_pagerduty_signing_secret_cannot_be_removed(api):
    send(api, "post", "/api/v1/sources/", {"name": "PD", "kind": "pagerduty", "signing_secret": PD_SECRET})
    response = send(api, "patch", "/api/v1/sources/pd", {"signing_secret": ""})
    assert response.status_code == 400 and "signing_secret" in response.json()["errors"]
    assert Source.objects.get(slug="pd").signing_secret == PD_SECRET


def test_a_generic_source_may_take_a_signing_secret_and_drop_it(api):
    created = send(api, "post", "/api/v1/sources/", {"name": "Gen", "kind": "generic", "signing_secret": "x" * 20})
    assert created.status_code == 201 and created.json()["has_signing_secret"] is True
    dropped = send(api, "patch", "/api/v1/sources/gen", {"signing_secret": ""})
    assert dropped.status_code == 200 and dropped.json()["has_signing_secret"] is False


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "AM", "kind": "alertmanager", "signing_secret": "x" * 20}, "signing_secret"),
        ({"name": "PD", "kind": "pagerduty", "signing_secret": "short"}, "signing_secret"),
        ({"name": "AM", "kind": "alertmanager", "preset": "datadog"}, "preset"),
        ({"name": "Gen", "kind": "generic", "preset": "nagios"}, "preset"),
        ({"name": "X", "kind": "nagios"}, "kind"),
    ],
)
def test_what_does_not_fit_the_kind_is_a_field_error(api, body, field):
    response = send(api, "post", "/api/v1/sources/", body)
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert response.json()["detail"]


def test_a_generic_source_with_a_preset(api, client):
    created = send(api, "post", "/api/v1/sources/", {"name": "Datadog", "kind": "generic", "preset": "datadog"})
    assert created.status_code == 201 and created.json()["preset"] == "datadog"
    response = post(client, "datadog", load("generic/datadog.json"), created.json()["token"])
    assert response.status_code == 202, response.json()


def test_the_service_itself_refuses_a_source_the_rules_refuse():
    # Whoever calls (an importer, a command, the page): no row, no audit entry.
    with pytest.raises(Refused) as refused:
        webhooks.create_source({"name": "PD", "kind": "pagerduty", "mapping": {"nope": "a"}}, trail.SYSTEM)
    assert dict(refused.value.problems).keys() == {"signing_secret", "mapping"}
    assert not Source.objects.exists() and not AuditEntry.objects.exists()
