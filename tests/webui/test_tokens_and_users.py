"""The API tokens page (everyone's own; admins see everyone's) and the
users page (admins give roles)."""

import pytest
from django.test import Client

from accounts import roles
from accounts.models import ApiToken
from audit.models import AuditEntry
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_create_a_token_shown_once_then_use_it_then_revoke_it(client):
    viewer = make_user("viewer", username="vera")
    client.force_login(viewer)
    created = client.post("/tokens/", {"name": "grafana <b>panel</b>", "expires_in_days": "30"})
    assert created.status_code == 201
    html = created.content.decode()
    token = html.split('id="token">')[1].split("<")[0]
    assert token.startswith("stw_") and "only time Steward shows it" in html
    assert "grafana &lt;b&gt;panel&lt;/b&gt;" in html
    row = ApiToken.objects.get(user=viewer)
    assert row.expires_at and f"stw_{row.token_id}_…" in html
    assert token not in client.get("/tokens/").content.decode()  # never again

    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/runbooks/").status_code == 200  # acts as vera, a viewer
    assert api.post("/api/v1/sources/", {}, "application/json").status_code == 403
    row.refresh_from_db()
    assert row.last_used_at is not None  # the page's "Last used"
    assert f"{row.last_used_at:%Y-%m-%d %H:%M}" in client.get("/tokens/").content.decode()

    revoked = client.post(f"/tokens/{row.pk}/revoke", follow=True)
    assert "revoked" in revoked.content.decode()
    assert api.get("/api/v1/runbooks/").status_code == 401
    entry = AuditEntry.objects.get(action="api_token.revoked")
    assert entry.actor == "vera" and entry.after == {"user": "vera", "name": "grafana <b>panel</b>"}
    assert AuditEntry.objects.filter(action="api_token.created", object_id=row.token_id).exists()
    again = client.post(f"/tokens/{row.pk}/revoke", follow=True)
    assert "already revoked" in again.content.decode()


def test_a_user_sees_only_their_tokens_and_an_admin_sees_and_revokes_everyones(client):
    alice, bob = make_user("author", username="alice"), make_user("responder", username="bob")
    ApiToken.issue(alice, "alice-ci")
    bobs = ApiToken.issue(bob, "bob-laptop")[0]
    client.force_login(alice)
    page = client.get("/tokens/").content.decode()
    assert "alice-ci" in page and "bob-laptop" not in page
    assert client.post(f"/tokens/{bobs.pk}/revoke").status_code == 403
    assert client.post("/tokens/999999/revoke").status_code == 404

    client.force_login(make_user("admin", username="root"))
    page = client.get("/tokens/").content.decode()
    assert "alice-ci" in page and "bob-laptop" in page and "<th>User</th>" in page
    assert client.post(f"/tokens/{bobs.pk}/revoke").status_code == 302
    bobs.refresh_from_db()
    assert bobs.revoked_at is not None


def test_a_bad_token_form_explains_itself(client):
    client.force_login(make_user("viewer"))
    response = client.post("/tokens/", {"name": "", "expires_in_days": "-3"})
    assert response.status_code == 200 and not ApiToken.objects.exists()
    assert response.content.decode().count('class="error"') >= 2


def test_an_admin_creates_users_and_gives_roles(client):
    client.force_login(make_user("admin", username="root"))
    weak = client.post("/users/", {"username": "newbie", "password": "123", "role": "viewer"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    made = client.post("/users/", {"username": "newbie", "password": "a-long-pass-phrase-9", "role": "viewer"})
    assert made.status_code == 302
    from django.contrib.auth import get_user_model

    newbie = get_user_model().objects.get(username="newbie")
    assert roles.role_of(newbie) == "viewer"
    client.post(f"/users/{newbie.pk}/role", {"role": "author"})
    newbie = get_user_model().objects.get(username="newbie")
    assert roles.role_of(newbie) == "author"
    client.post(f"/users/{newbie.pk}/role", {"role": ""})
    assert roles.role_of(get_user_model().objects.get(username="newbie")) is None
    changes = AuditEntry.objects.filter(action="user.role_changed", object_id="newbie").order_by("seq")
    assert [(c.before["role"], c.after["role"]) for c in changes] == [("viewer", "author"), ("author", None)]
    bad = client.post(f"/users/{newbie.pk}/role", {"role": "overlord"}, follow=True)
    assert "Pick one of the roles" in bad.content.decode()
    page = client.get("/users/").content.decode()
    assert "newbie" in page and "root" in page


def test_create_api_token_still_prints_a_token_and_warns_about_a_missing_role(capsys):
    import io

    from django.core.management import call_command

    make_user(None, username="nobody-yet")
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "nobody-yet", stdout=out, stderr=err)
    assert out.getvalue().strip().splitlines()[-1].startswith("stw_")
    assert "no role yet" in err.getvalue()


@pytest.mark.parametrize("cursor", ["%%%", "MjAyMC0wMS0wMVQwMDowMDowMCswMDowMHxub3RhbmludA==", "bm9wZQ=="])
def test_an_edited_list_cursor_starts_from_the_top_instead_of_failing(client, cursor):
    client.force_login(make_user("admin", username="root"))
    for path in ("/tokens/", "/executions/", "/events/"):
        assert client.get(f"{path}?cursor={cursor}").status_code == 200, path
