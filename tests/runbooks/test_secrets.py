"""Secrets: the API (value write-only), the audit trail (never the value),
encryption at rest with several keys, and rotation."""

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings

from audit import trail
from audit.models import AuditEntry
from core import crypto
from runbooks import secret_store
from runbooks.models import Secret
from tests.factories import make_runbook, make_source

pytestmark = pytest.mark.django_db

VALUE = "correct-horse-battery-staple"


def post(api, path, body):
    return api.post(path, data=json.dumps(body), content_type="application/json")


def test_create_list_retrieve_never_show_the_value(api):
    response = post(api, "/api/v1/secrets/", {"name": "PAGER_TOKEN", "value": VALUE, "description": "PagerDuty"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "description", "allowed_runbooks", "created_at", "updated_at", "updated_by"}
    assert body["name"] == "PAGER_TOKEN" and body["updated_by"] == "oncall"
    for path in ("/api/v1/secrets/", f"/api/v1/secrets/{body['id']}/", f"/api/v1/secrets/{body['id']}"):
        page = api.get(path)
        assert page.status_code == 200 and VALUE not in page.content.decode() and "PAGER_TOKEN" in page.content.decode()
    secret = Secret.objects.get()
    assert VALUE not in secret.ciphertext and crypto.decrypt(secret.ciphertext) == VALUE


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "lower_case", "value": "x"}, "name"),
        ({"name": "1STARTS_WITH_DIGIT", "value": "x"}, "name"),
        ({"name": "PATH", "value": "x"}, "name"),
        ({"name": "STEWARD_RESULT", "value": "x"}, "name"),
        ({"name": "PARAM_HOST", "value": "x"}, "name"),
        ({"name": "OK_NAME"}, "value"),
        ({"name": "OK_NAME", "value": ""}, "value"),
        ({"name": "OK_NAME", "value": ["x"]}, "value"),
    ],
)
def test_invalid_secrets_are_400_with_the_field(api, body, field):
    response = post(api, "/api/v1/secrets/", body)
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Secret.objects.exists()


def test_a_second_secret_of_the_same_name_is_a_409_conflict(api):
    assert post(api, "/api/v1/secrets/", {"name": "TOKEN", "value": "a"}).status_code == 201
    response = post(api, "/api/v1/secrets/", {"name": "TOKEN", "value": "b"})
    assert response.status_code == 409 and "exists" in response.json()["detail"]


def test_replace_the_value_or_the_description_and_delete(api):
    secret_id = post(api, "/api/v1/secrets/", {"name": "TOKEN", "value": "old-value"}).json()["id"]
    path = f"/api/v1/secrets/{secret_id}/"
    response = api.patch(path, data=json.dumps({"value": "new-value"}), content_type="application/json")
    assert response.status_code == 200 and "new-value" not in response.content.decode()
    assert crypto.decrypt(Secret.objects.get().ciphertext) == "new-value"
    api.patch(path, data=json.dumps({"description": "rotated"}), content_type="application/json")
    secret = Secret.objects.get()
    assert secret.description == "rotated" and crypto.decrypt(secret.ciphertext) == "new-value"
    renamed = api.patch(path, data=json.dumps({"name": "OTHER"}), content_type="application/json")
    assert renamed.status_code == 400 and "cannot change" in renamed.json()["detail"]
    assert api.delete(path).status_code == 204 and not Secret.objects.exists()
    assert api.get(path).status_code == 404
    actions = list(AuditEntry.objects.filter(object_type="secret").values_list("action", flat=True))
    assert actions == ["secret.created", "secret.updated", "secret.updated", "secret.deleted"]
    trail_text = json.dumps(list(AuditEntry.objects.values("before", "after")))
    assert "old-value" not in trail_text and "new-value" not in trail_text


def test_secrets_need_authentication(client):
    assert client.get("/api/v1/secrets/").status_code in (401, 403)
    assert client.post("/api/v1/secrets/", data="{}", content_type="application/json").status_code in (401, 403)


def test_values_for_a_run_name_every_missing_secret():
    runbook = make_runbook(slug="uses-one")
    secret_store.create("ONE", "1-value", "", trail.SYSTEM, allowed_runbooks=[runbook])
    assert secret_store.values_for(["ONE"], runbook) == {"ONE": "1-value"}
    with pytest.raises(secret_store.SecretError, match="TWO, THREE"):
        secret_store.values_for(["ONE", "TWO", "THREE"], runbook)


def test_several_keys_the_first_encrypts_and_rotation_moves_to_it():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    runbook = make_runbook(slug="uses-db")
    with override_settings(STEWARD_ENCRYPTION_KEY=old):
        secret_store.create("DB_PASSWORD", VALUE, "", trail.SYSTEM, allowed_runbooks=[runbook])
        source, _ = make_source("pd", "pagerduty", signing_secret="pagerduty-signing-secret-1234")
    with override_settings(STEWARD_ENCRYPTION_KEY=f"{new},{old}"):
        assert secret_store.values_for(["DB_PASSWORD"], runbook) == {"DB_PASSWORD": VALUE}
        out = io.StringIO()
        call_command("rotate_secrets", stdout=out)
        assert "re-encrypted 1 secret(s) and 1 signing secret(s)" in out.getvalue()
    with override_settings(STEWARD_ENCRYPTION_KEY=new):
        assert secret_store.values_for(["DB_PASSWORD"], runbook) == {"DB_PASSWORD": VALUE}
        source.refresh_from_db()
        assert source.signing_secret == "pagerduty-signing-secret-1234"
    with (
        override_settings(STEWARD_ENCRYPTION_KEY=old),
        pytest.raises(secret_store.SecretError, match="cannot be decrypted"),
    ):
        secret_store.values_for(["DB_PASSWORD"], runbook)


def test_runbooks_declare_secrets_by_valid_names(api):
    body = {"name": "Uses secrets", "kind": "shell", "script": "true", "secrets": ["PAGER_TOKEN", "STEWARD_X"]}
    response = post(api, "/api/v1/runbooks/", body)
    assert response.status_code == 400 and "secrets" in response.json()["errors"]
    body["secrets"] = ["PAGER_TOKEN"]
    assert post(api, "/api/v1/runbooks/", body).json()["secrets"] == ["PAGER_TOKEN"]
