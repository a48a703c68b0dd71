"""The secrets page: a value goes in and never comes back out."""

import json

import pytest

from audit.models import AuditEntry
from core import crypto
from runbooks.models import Secret

pytestmark = pytest.mark.django_db

VALUE = "very-secret-value-123"


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_create_replace_delete_and_never_show_the_value(logged_in):
    page = logged_in.get("/secrets/").content.decode()
    assert 'for="id_name"' in page and 'for="id_value"' in page and 'for="id_description"' in page
    response = logged_in.post("/secrets/", {"name": "API_TOKEN", "value": VALUE, "description": "The API"})
    assert response.status_code == 302
    secret = Secret.objects.get()
    listing = logged_in.get("/secrets/").content.decode()
    assert "API_TOKEN" in listing and VALUE not in listing
    edit = logged_in.get(f"/secrets/{secret.pk}/").content.decode()
    assert VALUE not in edit and 'for="id_value"' in edit
    logged_in.post(f"/secrets/{secret.pk}/", {"value": "", "description": "Still the API"})
    secret.refresh_from_db()
    assert secret.description == "Still the API" and crypto.decrypt(secret.ciphertext) == VALUE
    logged_in.post(f"/secrets/{secret.pk}/", {"value": "replaced-value", "description": "x"})
    secret.refresh_from_db()
    assert crypto.decrypt(secret.ciphertext) == "replaced-value"
    assert logged_in.post(f"/secrets/{secret.pk}/delete").status_code == 302
    assert not Secret.objects.exists()
    audited = json.dumps(list(AuditEntry.objects.values("action", "before", "after")))
    assert VALUE not in audited and "replaced-value" not in audited and "secret.deleted" in audited


def test_a_form_error_does_not_send_the_value_back(logged_in):
    response = logged_in.post("/secrets/", {"name": "bad name", "value": VALUE})
    html = response.content.decode()
    assert response.status_code == 200 and "secret names match" in html and VALUE not in html
    assert not Secret.objects.exists()


def test_unknown_secret_is_404_and_delete_needs_post(logged_in):
    assert logged_in.get("/secrets/00000000-0000-0000-0000-000000000000/").status_code == 404
    logged_in.post("/secrets/", {"name": "X_TOKEN", "value": "v"})
    assert logged_in.get(f"/secrets/{Secret.objects.get().pk}/delete").status_code == 405
