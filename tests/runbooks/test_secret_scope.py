"""Secrets are scoped: a secret names the runbooks that may use it. An
author cannot declare (API, page, importer) or get at run time a secret
outside its scope; only an admin changes a scope, and the trail says who."""

import importlib
import io
import json

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command

from audit import trail
from audit.models import AuditEntry
from runbooks import secret_store, versions
from runbooks.models import Runbook, RunbookVersion, Secret
from tests.factories import make_runbook

pytestmark = pytest.mark.django_db

VALUE = "scoped-secret-value-42"


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def patch(client, path, body):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def author_api(api_as, user_with_role):
    return api_as(user_with_role("author", "an-author"))


@pytest.fixture
def admin_api(api_as, user_with_role):
    return api_as(user_with_role("admin", "an-admin"))


@pytest.fixture
def scoped():
    """PAY_KEY allows the `payments` runbook only; `other` is another runbook."""
    payments, other = make_runbook(name="Payments", slug="payments"), make_runbook(name="Other", slug="other")
    secret = secret_store.create("PAY_KEY", VALUE, "the payments key", trail.SYSTEM, allowed_runbooks=[payments])
    return secret, payments, other


# --- Declaring ----------------------------------------------------------------


def test_the_api_refuses_declaring_a_secret_that_does_not_allow_the_runbook(author_api, scoped):
    _, _payments, other = scoped
    before = RunbookVersion.objects.count()
    response = patch(author_api, "/api/v1/runbooks/other/", {"secrets": ["PAY_KEY"]})
    assert response.status_code == 400
    problem = response.json()["errors"]["secrets"][0]
    assert "PAY_KEY" in problem and "'other'" in problem
    assert RunbookVersion.objects.count() == before
    other.refresh_from_db()
    assert other.current_version.secrets == []
    # The runbook it allows may declare it.
    assert patch(author_api, "/api/v1/runbooks/payments/", {"secrets": ["PAY_KEY"]}).status_code == 200


def test_a_new_runbook_cannot_declare_an_existing_secret(author_api, scoped):
    body = {"name": "Thief", "slug": "thief", "kind": "python", "script": "print(1)", "secrets": ["PAY_KEY"]}
    response = post(author_api, "/api/v1/runbooks/", body)
    assert response.status_code == 400 and "PAY_KEY" in response.json()["errors"]["secrets"][0]
    assert not Runbook.objects.filter(slug="thief").exists()


def test_a_secret_that_does_not_exist_yet_may_be_declared_and_is_missing_at_run_time(author_api):
    body = {"name": "Later", "kind": "python", "script": "print(1)", "secrets": ["NOT_YET"]}
    response = post(author_api, "/api/v1/runbooks/", body)
    assert response.status_code == 201 and response.json()["secrets"] == ["NOT_YET"]
    runbook = Runbook.objects.get(slug=response.json()["slug"])
    with pytest.raises(secret_store.SecretError, match="do not exist: NOT_YET"):
        secret_store.values_for(["NOT_YET"], runbook)


def test_a_narrowed_scope_refuses_the_next_version_even_when_the_request_leaves_secrets_out(
    author_api, admin_api, scoped
):
    secret, payments, _other = scoped
    versions.save_runbook(payments, {"secrets": ["PAY_KEY"]}, trail.SYSTEM)
    assert patch(admin_api, f"/api/v1/secrets/{secret.pk}/", {"allowed_runbooks": []}).status_code == 200
    count = RunbookVersion.objects.filter(runbook=payments).count()
    response = patch(author_api, "/api/v1/runbooks/payments/", {"script": "print('changed')"})
    assert response.status_code == 400 and "PAY_KEY" in response.json()["errors"]["secrets"][0]
    assert RunbookVersion.objects.filter(runbook=payments).count() == count
    # A change that makes no version (the description) still goes through.
    assert patch(author_api, "/api/v1/runbooks/payments/", {"description": "still here"}).status_code == 200


def test_the_runbook_form_refuses_a_secret_out_of_scope(client, user_with_role, scoped):
    client.force_login(user_with_role("author", "page-author"))
    form = {"name": "Other", "kind": "python", "script": "print(2)", "timeout_seconds": 30, "secrets": "PAY_KEY"}
    response = client.post("/runbooks/other/edit/", form)
    page = response.content.decode()
    assert response.status_code == 200 and "PAY_KEY" in page and "does not allow runbook" in page
    assert Runbook.objects.get(slug="other").current_version.secrets == []
    response = client.post("/runbooks/new/", {**form, "name": "Brand new"})
    assert response.status_code == 200 and "does not allow this runbook" in response.content.decode()
    assert not Runbook.objects.filter(name="Brand new").exists()


def test_restoring_a_version_whose_secret_no_longer_allows_the_runbook_is_refused(client, user, scoped):
    secret, payments, _ = scoped
    versions.save_runbook(payments, {"secrets": ["PAY_KEY"], "script": "print('v2')"}, trail.SYSTEM)
    versions.save_runbook(payments, {"secrets": [], "script": "print('v3')"}, trail.SYSTEM)
    secret_store.update(secret, trail.SYSTEM, allowed_runbooks=[])
    client.force_login(user)
    response = client.post("/runbooks/payments/versions/2/restore", follow=True)
    assert "was not restored" in response.content.decode() and "PAY_KEY" in response.content.decode()
    assert RunbookVersion.objects.filter(runbook=payments).count() == 3


def write_folder(root, slug, secrets):
    folder = root / slug
    folder.mkdir(parents=True)
    (folder / "runbook.yaml").write_text(f"name: {slug}\nslug: {slug}\nkind: shell\nsecrets: {json.dumps(secrets)}\n")
    (folder / "runbook.sh").write_text("echo hi\n")


def test_the_importer_refuses_a_secret_out_of_scope_and_imports_nothing(tmp_path, scoped):
    write_folder(tmp_path, "aaa-fine", [])
    write_folder(tmp_path, "other", ["PAY_KEY"])
    with pytest.raises(CommandError, match="PAY_KEY") as refused:
        call_command("import_runbooks", str(tmp_path), stdout=io.StringIO())
    assert "does not allow runbook 'other'" in str(refused.value)
    assert not Runbook.objects.filter(slug="aaa-fine").exists()
    assert Runbook.objects.get(slug="other").current_version.secrets == []
    # For the runbook it allows, the import goes through.
    write_folder(tmp_path / "ok", "payments", ["PAY_KEY"])
    call_command("import_runbooks", str(tmp_path / "ok"), stdout=io.StringIO())
    assert Runbook.objects.get(slug="payments").current_version.secrets == ["PAY_KEY"]


# --- Changing a scope -----------------------------------------------------------


def test_only_an_admin_changes_a_scope_and_the_change_is_audited(author_api, admin_api, scoped):
    secret, _payments, _other = scoped
    path = f"/api/v1/secrets/{secret.pk}/"
    entries = AuditEntry.objects.count()
    refused = patch(author_api, path, {"allowed_runbooks": ["payments", "other"]})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert list(secret.allowed_runbooks.values_list("slug", flat=True)) == ["payments"]
    assert AuditEntry.objects.count() == entries
    # An author still replaces the value; sending the same scope is no change.
    assert patch(author_api, path, {"value": "new-value", "allowed_runbooks": ["payments"]}).status_code == 200
    widened = patch(admin_api, path, {"allowed_runbooks": ["payments", "other"]})
    assert widened.status_code == 200 and sorted(widened.json()["allowed_runbooks"]) == ["other", "payments"]
    entry = AuditEntry.objects.filter(action="secret.scope_changed").get()
    assert "an-admin" in entry.actor
    assert entry.before["allowed_runbooks"] == ["payments"]
    assert entry.after["allowed_runbooks"] == ["other", "payments"]
    assert "new-value" not in json.dumps(list(AuditEntry.objects.values("before", "after")))


def test_an_author_cannot_create_a_secret_that_allows_runbooks(author_api, admin_api, scoped):
    body = {"name": "NEW_KEY", "value": "v", "allowed_runbooks": ["other"]}
    assert post(author_api, "/api/v1/secrets/", body).status_code == 403
    assert not Secret.objects.filter(name="NEW_KEY").exists()
    assert post(author_api, "/api/v1/secrets/", {"name": "NEW_KEY", "value": "v"}).status_code == 201
    assert Secret.objects.get(name="NEW_KEY").allowed_runbooks.count() == 0
    created = post(admin_api, "/api/v1/secrets/", {**body, "name": "ADMIN_KEY"})
    assert created.status_code == 201 and created.json()["allowed_runbooks"] == ["other"]


def test_an_unknown_runbook_in_a_scope_is_400(admin_api, scoped):
    secret, _, _ = scoped
    response = patch(admin_api, f"/api/v1/secrets/{secret.pk}/", {"allowed_runbooks": ["no-such-runbook"]})
    assert response.status_code == 400 and "allowed_runbooks" in response.json()["errors"]
    response = patch(admin_api, f"/api/v1/secrets/{secret.pk}/", {"allowed_runbooks": "payments"})
    assert response.status_code == 400


def test_a_viewer_sees_the_scope_but_never_a_value(api_as, user_with_role, client, scoped):
    viewer = user_with_role("viewer", "a-viewer")
    listing = api_as(viewer).get("/api/v1/secrets/")
    assert listing.status_code == 200 and VALUE not in listing.content.decode()
    assert listing.json()["results"][0]["allowed_runbooks"] == ["payments"]
    assert patch(api_as(viewer), f"/api/v1/secrets/{scoped[0].pk}/", {"allowed_runbooks": []}).status_code == 403
    client.force_login(viewer)
    page = client.get("/secrets/").content.decode()
    assert "payments" in page and VALUE not in page
    assert client.post("/secrets/", {"name": "X_KEY", "value": "v"}).status_code == 403


def test_the_secrets_page_edits_the_scope_for_admins_only(client, user, user_with_role, scoped):
    secret, _payments, _other = scoped
    author = user_with_role("author", "page-author")
    client.force_login(author)
    edit = client.get(f"/secrets/{secret.pk}/").content.decode()
    assert 'for="id_allowed_runbooks"' in edit and "disabled" in edit
    # The author's choice is ignored (disabled field): the scope stays.
    client.post(f"/secrets/{secret.pk}/", {"description": "x", "allowed_runbooks": ["payments", "other"]})
    assert list(secret.allowed_runbooks.values_list("slug", flat=True)) == ["payments"]
    assert not AuditEntry.objects.filter(action="secret.scope_changed").exists()
    client.force_login(user)  # an admin
    response = client.post(f"/secrets/{secret.pk}/", {"description": "x", "allowed_runbooks": ["other"]})
    assert response.status_code == 302
    assert list(secret.allowed_runbooks.values_list("slug", flat=True)) == ["other"]
    entry = AuditEntry.objects.get(action="secret.scope_changed")
    assert (entry.before["allowed_runbooks"], entry.after["allowed_runbooks"]) == (["payments"], ["other"])
    assert "other" in client.get("/secrets/").content.decode()


def test_a_non_admin_is_refused_by_the_domain_function_itself(user_with_role, scoped):
    secret, payments, other = scoped
    with pytest.raises(secret_store.ScopeRefused):
        secret_store.update(secret, trail.SYSTEM, allowed_runbooks=[payments, other], user=user_with_role("author"))
    with pytest.raises(secret_store.ScopeRefused):
        secret_store.create("X", "v", "", trail.SYSTEM, user=user_with_role("responder"), allowed_runbooks=[other])


# --- At run time ------------------------------------------------------------------


def test_at_run_time_a_secret_out_of_scope_is_refused(scoped):
    _secret, payments, other = scoped
    assert secret_store.values_for(["PAY_KEY"], payments) == {"PAY_KEY": VALUE}
    with pytest.raises(secret_store.SecretError, match=r"may not use secret.*PAY_KEY"):
        secret_store.values_for(["PAY_KEY"], other)


# --- Upgrade ------------------------------------------------------------------------


def test_the_migration_allows_each_secret_the_runbooks_that_declare_it():
    migration = importlib.import_module("runbooks.migrations.0008_secret_scope")
    declares = make_runbook(slug="declares")
    pending = make_runbook(slug="pending-declares")
    make_runbook(slug="does-not")
    # Declared before the secret existed (allowed), as on an older Steward.
    versions.save_runbook(declares, {"secrets": ["OLD_KEY"]}, trail.SYSTEM)
    versions.save_runbook(pending, {"protected": True}, trail.SYSTEM)
    versions.save_runbook(pending, {"secrets": ["OLD_KEY"]}, trail.SYSTEM)
    pending.refresh_from_db()
    assert pending.pending_version is not None
    secret = secret_store.create("OLD_KEY", "v", "", trail.SYSTEM)
    secret_store.create("UNUSED_KEY", "v", "", trail.SYSTEM)
    migration.allow_declaring_runbooks(django_apps, None)
    assert sorted(secret.allowed_runbooks.values_list("slug", flat=True)) == ["declares", "pending-declares"]
    assert not Secret.objects.get(name="UNUSED_KEY").allowed_runbooks.exists()


def test_an_author_resending_a_scope_an_admin_has_narrowed_cannot_widen_it_again(author_api, admin_api, scoped):
    secret, payments, _other = scoped
    path = f"/api/v1/secrets/{secret.pk}/"
    assert patch(admin_api, path, {"allowed_runbooks": ["payments", "other"]}).status_code == 200
    as_the_author_saw_it = {"value": "rotated", "allowed_runbooks": ["payments", "other"]}
    assert patch(admin_api, path, {"allowed_runbooks": ["payments"]}).status_code == 200
    assert patch(author_api, path, as_the_author_saw_it).status_code == 403
    assert list(secret.allowed_runbooks.values_list("slug", flat=True)) == ["payments"]
    assert secret_store.values_for(["PAY_KEY"], payments) == {"PAY_KEY": VALUE}  # the value stayed too
