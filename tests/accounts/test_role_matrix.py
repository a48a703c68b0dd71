"""Every role against every action, over the API and the pages: a refusal
(403, with a reason) exactly where the role falls short, success elsewhere.
A user with no role may do nothing, not even read."""

import json
from types import SimpleNamespace

import pytest
from django.test import Client

from accounts import roles
from accounts.models import ApiToken
from audit import trail
from gates.models import Gate
from runbooks import versions
from runbooks.models import Execution, Secret
from tests.factories import api_token, make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db

ROLES = [None, "viewer", "responder", "author", "admin"]
RANK = {role: n for n, role in enumerate(ROLES)}


@pytest.fixture
def world():
    """One of everything the actions act on."""
    runbook = make_runbook(name="Fix host", slug="rb")
    source, _ = make_source("am", "alertmanager")
    binding = make_binding(runbook, source)
    version = runbook.current_version
    queued = Execution.objects.create(runbook=runbook, version=version, status="queued")
    finished = Execution.objects.create(runbook=runbook, version=version, status="succeeded")
    awaiting = Execution.objects.create(runbook=runbook, version=version, status="awaiting_approval", binding=binding)
    secret = Secret.objects.create(name="PAGER_TOKEN", ciphertext="x")
    # A protected runbook whose v2, by another author, waits for review.
    writer = make_user("author", username="writer")
    protected = make_runbook(name="Guarded", slug="guarded", protected=True)
    versions.save_runbook(protected, {"script": "print('v2')"}, trail.SYSTEM, author=writer)
    others_token = ApiToken.issue(writer, "writer's")[0]
    Gate.objects.create(name="prod").runbooks.add(runbook)
    return SimpleNamespace(
        runbook=runbook,
        source=source,
        binding=binding,
        queued=queued,
        finished=finished,
        awaiting=awaiting,
        secret=secret,
        others_token=others_token,
    )


# name, least role, method, path (formatted with the world), body, success status
API_ACTIONS = [
    ("read runbooks", "viewer", "get", "/api/v1/runbooks/", None, 200),
    ("read executions", "viewer", "get", "/api/v1/executions/{w.queued.pk}/", None, 200),
    ("read the audit trail", "viewer", "get", "/api/v1/audit/", None, 200),
    ("verify the audit chain", "admin", "post", "/api/v1/audit/verify/", {}, 200),
    ("read secrets (names only)", "viewer", "get", "/api/v1/secrets/", None, 200),
    ("test bindings", "viewer", "post", "/api/v1/bindings/test/", {"event": {"name": "x"}}, 200),
    ("run", "responder", "post", "/api/v1/runbooks/rb/run/", {}, 202),
    ("rerun", "responder", "post", "/api/v1/executions/{w.finished.pk}/rerun/", {}, 202),
    ("cancel", "responder", "post", "/api/v1/executions/{w.queued.pk}/cancel/", {}, 202),
    ("approve", "responder", "post", "/api/v1/executions/{w.awaiting.pk}/approve/", {}, 202),
    ("reject", "responder", "post", "/api/v1/executions/{w.awaiting.pk}/reject/", {"reason": "not now"}, 200),
    (
        "create runbook",
        "author",
        "post",
        "/api/v1/runbooks/",
        {"name": "New one", "kind": "shell", "script": "echo hi"},
        201,
    ),
    ("edit runbook", "author", "patch", "/api/v1/runbooks/rb/", {"script": "print('v2')"}, 200),
    ("approve a runbook version", "author", "post", "/api/v1/runbooks/guarded/versions/2/approve/", None, 200),
    ("switch review off", "admin", "patch", "/api/v1/runbooks/guarded/", {"protected": False}, 200),
    ("create source", "author", "post", "/api/v1/sources/", {"name": "Graf", "kind": "grafana"}, 201),
    ("rotate a source token", "author", "post", "/api/v1/sources/am/rotate-token/", {"grace_minutes": 5}, 200),
    ("delete a source", "admin", "delete", "/api/v1/sources/am/", None, 204),
    ("create secret", "author", "post", "/api/v1/secrets/", {"name": "DB_PASSWORD", "value": "s3cret"}, 201),
    ("delete secret", "author", "delete", "/api/v1/secrets/{w.secret.pk}/", None, 204),
    (
        "create binding",
        "author",
        "post",
        "/api/v1/bindings/",
        {"name": "b2", "runbook": "rb", "match": [{"path": "name", "op": "eq", "value": "X"}]},
        201,
    ),
    ("reset a binding", "author", "post", "/api/v1/bindings/{w.binding.pk}/reset/", None, 409),
    ("delete a binding", "author", "delete", "/api/v1/bindings/{w.binding.pk}/", None, 204),
    (
        "create schedule",
        "author",
        "post",
        "/api/v1/schedules/",
        {"name": "nightly", "runbook": "rb", "cron": "0 3 * * *"},
        201,
    ),
    ("read gate checks", "viewer", "get", "/api/v1/gates/prod/checks/", None, 200),
    ("ask a gate", "responder", "post", "/api/v1/gates/prod/checks/", {"service": "web"}, 202),
    ("create gate", "author", "post", "/api/v1/gates/", {"name": "stage", "runbooks": ["rb"]}, 201),
]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
@pytest.mark.parametrize(
    ("name", "least", "method", "path", "body", "ok"), API_ACTIONS, ids=[a[0] for a in API_ACTIONS]
)
def test_the_api_refuses_exactly_what_a_role_may_not_do(world, role, name, least, method, path, body, ok):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(make_user(role, username='actor'))}")
    response = getattr(client, method)(
        path.format(w=world), data=json.dumps(body) if body is not None else None, content_type="application/json"
    )
    if RANK[role] >= RANK[least]:
        assert response.status_code == ok, (name, role, response.content)
    else:
        assert response.status_code == 403, (name, role, response.content)
        detail = response.json()["detail"]
        assert ("no role yet" in detail) if role is None else (f"Your role ({role}) may not" in detail)


def test_an_unlisted_write_needs_an_admin():
    """An endpoint whose actions nobody mapped is closed, not open."""
    from rest_framework.test import APIRequestFactory

    from accounts.permissions import required_action

    request = APIRequestFactory().post("/x")
    view = SimpleNamespace(action="something_new", role_actions={})
    assert required_action(request, view) == "manage_users"
    assert required_action(APIRequestFactory().get("/x"), view) == "read"


def test_every_write_of_every_viewset_names_its_role_action():
    from config.urls import router

    for prefix, viewset, _ in router.registry:
        mapped = getattr(viewset, "role_actions", {})
        writes = {"create", "update", "partial_update", "destroy"} & set(dir(viewset))
        writes |= {a.__name__ for a in viewset.get_extra_actions() if set(a.mapping) - {"get", "head", "options"}}
        assert writes <= set(mapped), f"{prefix}: {sorted(writes - set(mapped))} need a role action"


# name, least role, method, path, form data, success status
PAGE_ACTIONS = [
    *[
        (f"read {path}", "viewer", "get", path, None, 200)
        for path in (
            "/",
            "/runbooks/",
            "/runbooks/rb/",
            "/runbooks/rb/versions/",
            "/executions/",
            "/executions/{w.queued.pk}/",
            "/events/",
            "/sources/",
            "/sources/am/",
            "/bindings/",
            "/bindings/test/",
            "/schedules/",
            "/gates/",
            "/secrets/",
            "/audit/",
            "/tokens/",
        )
    ],
    ("test bindings", "viewer", "post", "/bindings/test/", {"event": '{"name": "x"}'}, 200),
    ("create my own token", "viewer", "post", "/tokens/", {"name": "mine"}, 201),
    # (a browser always sends a field: the CSRF token; an empty POST is not a submission)
    ("run", "responder", "post", "/runbooks/rb/", {"csrfmiddlewaretoken": "x"}, 302),
    ("rerun", "responder", "post", "/executions/{w.finished.pk}/rerun", {}, 302),
    ("cancel", "responder", "post", "/executions/{w.queued.pk}/cancel", {}, 302),
    ("approve", "responder", "post", "/executions/{w.awaiting.pk}/approve", {"reason": "ok"}, 302),
    ("reject", "responder", "post", "/executions/{w.awaiting.pk}/reject", {"reason": "no"}, 302),
    ("open the new runbook form", "author", "get", "/runbooks/new/", None, 200),
    (
        "create runbook",
        "author",
        "post",
        "/runbooks/new/",
        {"name": "Made here", "kind": "shell", "script": "echo hi", "timeout_seconds": 30},
        302,
    ),
    ("open the edit form", "author", "get", "/runbooks/rb/edit/", None, 200),
    ("restore a version", "author", "post", "/runbooks/rb/versions/1/restore", {}, 302),
    ("approve a runbook version", "author", "post", "/runbooks/guarded/versions/2/approve", {}, 302),
    ("open the new source form", "author", "get", "/sources/new/", None, 200),
    ("rotate a source token", "author", "post", "/sources/am/rotate", {"grace_minutes": "0"}, 200),
    ("send a test alert", "author", "post", "/sources/am/test-alert", {}, 302),
    ("confirm deleting a source", "admin", "get", "/sources/am/delete/", None, 200),
    ("delete a source", "admin", "post", "/sources/am/delete/", {}, 302),
    ("create secret", "author", "post", "/secrets/", {"name": "DB_PASSWORD", "value": "v"}, 302),
    ("open a secret", "author", "get", "/secrets/{w.secret.pk}/", None, 200),
    ("delete secret", "author", "post", "/secrets/{w.secret.pk}/delete", {}, 302),
    ("reset a binding", "author", "post", "/bindings/{w.binding.pk}/reset", {}, 302),
    ("confirm deleting a binding", "author", "get", "/bindings/{w.binding.pk}/delete/", None, 200),
    ("delete a binding", "author", "post", "/bindings/{w.binding.pk}/delete/", {}, 302),
    ("manage users", "admin", "get", "/users/", None, 200),
    ("give a role", "admin", "post", "/users/{w.others_token.user_id}/role", {"role": "viewer"}, 302),
    ("revoke someone else's token", "admin", "post", "/tokens/{w.others_token.pk}/revoke", {}, 302),
]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
@pytest.mark.parametrize(
    ("name", "least", "method", "path", "data", "ok"), PAGE_ACTIONS, ids=[a[0] for a in PAGE_ACTIONS]
)
def test_the_pages_refuse_exactly_what_a_role_may_not_do(client, world, role, name, least, method, path, data, ok):
    client.force_login(make_user(role, username="actor"))
    response = getattr(client, method)(path.format(w=world), data or {})
    if RANK[role] >= RANK[least]:
        assert response.status_code == ok, (name, role, response.status_code)
    else:
        assert response.status_code == 403, (name, role, response.status_code)
        html = response.content.decode()
        assert ("You have no role yet" in html) if role is None else (f"Your role ({role}) may not" in html)


def test_pages_show_only_the_buttons_a_role_may_use(client, world):
    world.binding.tripped_at = world.queued.created_at
    world.binding.save()
    # (page, what marks the button or link, the least role that sees it)
    expectations = [
        ("/runbooks/", 'href="/runbooks/new/"', "author"),
        ("/runbooks/rb/", ">Run</button>", "responder"),
        ("/runbooks/rb/", 'href="/runbooks/rb/edit/"', "author"),
        (f"/executions/{world.queued.pk}/", ">Cancel</button>", "responder"),
        (f"/executions/{world.finished.pk}/", ">Run again</button>", "responder"),
        (f"/executions/{world.awaiting.pk}/", ">Approve and run</button>", "responder"),
        ("/sources/am/", ">Rotate the token</button>", "author"),
        ("/sources/am/", ">Send a test alert</button>", "author"),
        ("/sources/am/", 'href="/bindings/new/?source=am"', "author"),
        ("/sources/am/", 'href="/sources/am/delete/"', "admin"),
        ("/sources/", 'href="/sources/new/"', "author"),
        ("/secrets/", ">Save secret</button>", "author"),
        ("/bindings/", ">Reset</button>", "author"),
        ("/runbooks/guarded/versions/2/", ">Approve v2</button>", "author"),
        ("/", 'href="/users/"', "admin"),
        ("/audit/", ">Verify the chain</button>", "admin"),
    ]
    for role in ROLES[1:]:
        client.force_login(make_user(role, username=f"look-{role}"))
        for path, marker, least in expectations:
            shown = marker in client.get(path).content.decode()
            assert shown == (RANK[role] >= RANK[least]), (role, path, marker)


def test_a_user_without_a_role_is_told_so_and_sees_no_menu(client):
    client.force_login(make_user(None, username="newcomer"))
    response = client.get("/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You have no role yet" in html and "ask an admin" in html
    assert 'href="/runbooks/"' not in html and "Log out newcomer" in html


def test_a_superuser_is_an_admin_and_an_api_token_acts_with_its_users_role(django_user_model, api_as):
    root = django_user_model.objects.create_superuser("root", "root@example.invalid", "pw-not-used-here")
    assert roles.role_of(root) == "admin"
    viewer = make_user("viewer", username="watcher")
    token_client = api_as(viewer)
    assert token_client.get("/api/v1/runbooks/").status_code == 200
    assert token_client.post("/api/v1/secrets/", {"name": "X", "value": "y"}, "application/json").status_code == 403
    roles.set_role(viewer, "author")  # a role given later applies to the tokens at once
    created = token_client.post("/api/v1/secrets/", {"name": "X", "value": "y"}, "application/json")
    assert created.status_code == 201


def test_the_webhook_health_and_metrics_need_no_role(client):
    _source, token = make_source("gen", "generic")
    hooked = client.post(
        "/hooks/gen",
        data=json.dumps({"name": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert hooked.status_code == 202
    assert client.get("/metrics").status_code == 200  # from loopback, as before
