"""The role matrix, generated from the URL conf: every route of every API
viewset with each of its methods, and every page with GET and POST, is
tried as each role (none, viewer, responder, author, admin). A route or a
method nobody wrote a row for fails `test_every_route_has_a_row`, so a new
endpoint cannot ship without saying who may use it.

Each role's request runs in a savepoint rolled back afterwards, so every
role meets the same world (a delete by the first role allowed does not turn
the next role's try into a 404)."""

import functools
import json
from types import SimpleNamespace

import asyncssh
import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import ApiToken
from audit import trail
from audit.models import AuditEntry
from events.models import Event
from gates.models import Check, Gate
from notifications.models import Channel, Delivery, Subscription
from runbooks import versions
from runbooks.models import Execution, Schedule, Secret, Target
from tests.factories import api_token, make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db

ROLES = [None, "viewer", "responder", "author", "admin"]
RANK = {role: n for n, role in enumerate(ROLES)}
PAGE_METHODS = ("get", "post")
# Routes outside the role model: each says why.
OUTSIDE = {
    "hook": "authenticates source tokens, not users (tests/events/test_webhook.py)",
    "healthz": "no login by contract (tests/runbooks/test_observability.py)",
    "metrics": "a token or an allowed address (tests/runbooks/test_observability.py)",
    "schema": "the API's description, public like the docs",
    "api-docs": "the API's description, public like the schema",
    "favicon": "an icon",
    "login": "the login form itself",
    "logout": "ends whatever session there is",
}


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue  # Django's admin: staff only, its own permission system
            yield from _walk(pattern.url_patterns, namespace)
        else:
            yield pattern


@functools.cache
def patterns() -> dict:
    return {pattern.name: pattern for pattern in _walk(get_resolver().url_patterns)}


@functools.cache
def routes() -> dict[tuple[str, str], str]:
    """(route name, method) -> "api" or "page", for every route in config.urls."""
    found = {}
    for pattern in _walk(get_resolver().url_patterns):
        if pattern.name in OUTSIDE:
            continue
        assert pattern.name, f"a route without a name: {pattern.pattern}"
        actions = getattr(pattern.callback, "actions", None)
        if actions:  # a DRF viewset's route: exactly the methods it maps
            for method in actions:
                # DRF adds HEAD to a GET route's mapping at its first request:
                # it is that GET, its row is the GET's.
                if method != "head":
                    found[(pattern.name, method)] = "api"
        else:
            for method in PAGE_METHODS:
                found[(pattern.name, method)] = "page"
    return found


@pytest.fixture
def world():
    """One of everything the routes act on, and a user of each role."""
    runbook = make_runbook(name="Fix host", slug="rb")
    source, _ = make_source("am", "alertmanager")
    binding = make_binding(runbook, source)
    version = runbook.current_version
    event = Event.objects.create(source=source, status="firing", name="DiskFull", fingerprint="fp")
    queued = Execution.objects.create(runbook=runbook, version=version, status="queued")
    finished = Execution.objects.create(
        runbook=runbook, version=version, status="succeeded", event=event, finished_at=timezone.now()
    )
    awaiting = Execution.objects.create(runbook=runbook, version=version, status="awaiting_approval", binding=binding)
    secret = Secret.objects.create(name="PAGER_TOKEN", ciphertext="x")
    # Named as the gate: the routes' `name` argument is the same for both.
    host_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    Target.objects.create(name="prod", address="10.0.0.5", user="ops", host_key=host_key, credential="PAGER_TOKEN")
    writer = make_user("author", username="writer")
    # Protected from its first version, so v2 by another author waits for review.
    protected = make_runbook(name="Guarded", slug="guarded", protected=True)
    versions.save_runbook(protected, {"script": "print('v2')"}, trail.SYSTEM, author=writer)
    others_token = ApiToken.issue(writer, "writer's")[0]
    gate = Gate.objects.create(name="prod")
    gate.runbooks.add(runbook)
    check = Check.objects.create(gate=gate, fields={"service": "web"})
    schedule = Schedule.objects.create(name="nightly", runbook=runbook, cron="0 3 * * *")
    channel = Channel.objects.create(slug="ops", name="Ops", kind="email", recipients=["ops@example.com"])
    subscription = Subscription.objects.create(channel=channel, runbook=runbook, events=["run_failed"])
    delivery = Delivery.objects.create(channel=channel, channel_name="Ops", event="test")
    users = {role: make_user(role, username=f"as-{role or 'none'}") for role in ROLES}
    return SimpleNamespace(
        runbook=runbook,
        source=source,
        binding=binding,
        event=event,
        queued=queued,
        finished=finished,
        awaiting=awaiting,
        secret=secret,
        others_token=others_token,
        gate=gate,
        check=check,
        schedule=schedule,
        channel=channel,
        subscription=subscription,
        delivery=delivery,
        seq=AuditEntry.objects.order_by("seq").first().seq,
        users=users,
        tokens={role: api_token(user) for role, user in users.items()},
    )


def kwargs_for(name: str, w) -> dict:
    """The path arguments of a route, from the world."""
    resource = name.split("-")[0] if "-" in name else name.split("_")[0]
    wanted = set(patterns()[name].pattern.regex.groupindex)
    values = {
        "slug": {"runbook": "rb", "source": "am", "channel": "ops", "notification": "ops"}.get(resource, "rb"),
        "name": w.gate.name,
        "number": 2 if "approve" in name else 1,
        "check_id": w.check.pk,
        "seq": w.seq,
        "pk": {
            "execution": w.awaiting.pk if ("approve" in name or "reject" in name) else w.finished.pk,
            "binding": w.binding.pk,
            "event": w.event.pk,
            "schedule": w.schedule.pk,
            "secret": w.secret.pk,
            "subscription": w.subscription.pk,
            "notification": w.subscription.pk,
            "delivery": w.delivery.pk,
            "token": w.others_token.pk,
            "user": w.others_token.user_id,
        }.get(resource),
    }
    if name in ("execution-cancel", "execution_cancel"):
        values["pk"] = w.queued.pk  # a run that can still be cancelled
    if name in ("runbook-approve-version", "runbook_version_approve"):
        values["slug"] = "guarded"  # the runbook whose v2 waits for review
    return {key: values[key] for key in wanted}


def request(w, name, method, role, body):
    path = reverse(name, kwargs=kwargs_for(name, w))
    if routes()[(name, method)] == "api":
        client = Client(HTTP_AUTHORIZATION=f"Bearer {w.tokens[role]}")
        data = json.dumps(body) if body is not None else None
        return getattr(client, method)(path, data=data, content_type="application/json")
    client = Client()
    client.force_login(w.users[role])
    return getattr(client, method)(path, body or {})


def statuses(w, name, method, body=None) -> dict:
    """Each role's status for one route and method, each in a savepoint
    rolled back, so no role's success changes what the next one meets."""
    seen = {}
    for role in ROLES:
        with transaction.atomic():
            seen[role] = request(w, name, method, role, body)
            transaction.set_rollback(True)
    return seen


# (route name, method) -> (the least role that is not refused, the status
# every role from it up gets). The body is empty, so a write a role may make
# is often a 400 here: what matters is that it is not a 403, and that every
# role below is one. tests/accounts/test_role_matrix.py sends real bodies.
EXPECTED = {
    # --- the API (DRF viewsets: only the methods each route maps) ---
    ("audit-checkpoints", "get"): ("viewer", 200),
    ("audit-consistency", "get"): ("viewer", 400),  # no sizes given: a 400 naming them
    ("audit-detail", "get"): ("viewer", 200),
    ("audit-export", "get"): ("viewer", 200),
    ("audit-list", "get"): ("viewer", 200),
    ("audit-proof", "get"): ("viewer", 200),  # no size: the whole tree
    ("audit-verify", "post"): ("admin", 200),
    ("binding-backtest", "post"): ("viewer", 200),
    ("binding-detail", "delete"): ("author", 204),
    ("binding-detail", "get"): ("viewer", 200),
    ("binding-detail", "patch"): ("author", 400),
    ("binding-detail", "put"): ("author", 400),
    ("binding-list", "get"): ("viewer", 200),
    ("binding-list", "post"): ("author", 400),
    ("binding-reset", "post"): ("author", 409),
    ("binding-test", "post"): ("viewer", 400),
    ("channel-detail", "delete"): ("admin", 204),
    ("channel-detail", "get"): ("viewer", 200),
    ("channel-detail", "patch"): ("admin", 400),
    ("channel-detail", "put"): ("admin", 400),
    ("channel-list", "get"): ("viewer", 200),
    ("channel-list", "post"): ("admin", 400),
    ("channel-test", "post"): ("admin", 202),
    ("delivery-detail", "get"): ("viewer", 200),
    ("delivery-list", "get"): ("viewer", 200),
    ("event-detail", "get"): ("viewer", 200),
    ("event-list", "get"): ("viewer", 200),
    ("execution-approve", "post"): ("responder", 202),
    ("execution-cancel", "post"): ("responder", 202),
    ("execution-detail", "get"): ("viewer", 200),
    ("execution-list", "get"): ("viewer", 200),
    ("execution-log", "get"): ("viewer", 200),
    ("execution-reject", "post"): ("responder", 400),
    ("execution-rerun", "post"): ("responder", 202),
    ("gate-check", "get"): ("viewer", 200),
    ("gate-checks", "get"): ("viewer", 200),
    ("gate-checks", "post"): ("responder", 202),
    ("gate-detail", "get"): ("viewer", 200),
    ("gate-detail", "patch"): ("author", 400),
    ("gate-detail", "put"): ("author", 400),
    ("gate-list", "get"): ("viewer", 200),
    ("gate-list", "post"): ("author", 400),
    ("gate-override", "post"): ("admin", 400),
    ("runbook-approve-version", "post"): ("author", 200),
    ("runbook-detail", "get"): ("viewer", 200),
    ("runbook-detail", "patch"): ("author", 400),
    ("runbook-detail", "put"): ("author", 400),
    ("runbook-list", "get"): ("viewer", 200),
    ("runbook-list", "post"): ("author", 400),
    ("runbook-run", "post"): ("responder", 202),
    ("runbook-versions", "get"): ("viewer", 200),
    ("schedule-detail", "delete"): ("author", 204),
    ("schedule-detail", "get"): ("viewer", 200),
    ("schedule-detail", "patch"): ("author", 400),
    ("schedule-detail", "put"): ("author", 400),
    ("schedule-list", "get"): ("viewer", 200),
    ("schedule-list", "post"): ("author", 400),
    ("secret-detail", "delete"): ("author", 204),
    ("secret-detail", "get"): ("viewer", 200),
    ("secret-detail", "patch"): ("author", 400),
    ("secret-detail", "put"): ("author", 400),
    ("secret-list", "get"): ("viewer", 200),
    ("secret-list", "post"): ("author", 400),
    ("target-detail", "delete"): ("author", 204),
    ("target-detail", "get"): ("viewer", 200),
    ("target-detail", "patch"): ("author", 400),
    ("target-detail", "put"): ("author", 400),
    ("target-list", "get"): ("viewer", 200),
    ("target-list", "post"): ("author", 400),
    ("target-scan", "post"): ("author", 400),
    ("source-detail", "delete"): ("admin", 204),
    ("source-detail", "get"): ("viewer", 200),
    ("source-detail", "patch"): ("author", 400),
    ("source-detail", "put"): ("author", 400),
    ("source-list", "get"): ("viewer", 200),
    ("source-list", "post"): ("author", 400),
    ("source-rotate-token", "post"): ("author", 200),
    ("subscription-detail", "delete"): ("admin", 204),
    ("subscription-detail", "get"): ("viewer", 200),
    ("subscription-detail", "patch"): ("admin", 400),
    ("subscription-detail", "put"): ("admin", 400),
    ("subscription-list", "get"): ("viewer", 200),
    ("subscription-list", "post"): ("admin", 400),
    # --- the pages (GET and POST each; 405 is a method the page refuses) ---
    ("audit_list", "get"): ("viewer", 200),
    ("audit_list", "post"): ("viewer", 200),
    ("audit_verify", "get"): ("viewer", 302),
    ("audit_verify", "post"): ("admin", 302),
    ("binding_backtest", "get"): ("viewer", 200),
    ("binding_backtest", "post"): ("viewer", 200),
    ("binding_delete", "get"): ("author", 200),
    ("binding_delete", "post"): ("author", 302),
    ("binding_edit", "get"): ("author", 200),
    ("binding_edit", "post"): ("author", 200),
    ("binding_list", "get"): ("viewer", 200),
    ("binding_list", "post"): ("viewer", 200),
    ("binding_new", "get"): ("author", 200),
    ("binding_new", "post"): ("author", 200),
    ("binding_reset", "get"): ("author", 405),
    ("binding_reset", "post"): ("author", 302),
    ("binding_test", "get"): ("viewer", 200),
    ("binding_test", "post"): ("viewer", 200),
    ("dashboard", "get"): ("viewer", 200),
    ("dashboard", "post"): ("viewer", 200),
    ("event_detail", "get"): ("viewer", 200),
    ("event_detail", "post"): ("viewer", 200),
    ("event_list", "get"): ("viewer", 200),
    ("event_list", "post"): ("viewer", 200),
    ("execution_approve", "get"): ("responder", 405),
    ("execution_approve", "post"): ("responder", 302),
    ("execution_cancel", "get"): ("responder", 405),
    ("execution_cancel", "post"): ("responder", 302),
    ("execution_detail", "get"): ("viewer", 200),
    ("execution_detail", "post"): ("viewer", 200),
    ("execution_list", "get"): ("viewer", 200),
    ("execution_list", "post"): ("viewer", 200),
    ("execution_log", "get"): ("viewer", 302),
    ("execution_log", "post"): ("viewer", 302),
    ("execution_log_download", "get"): ("viewer", 200),
    ("execution_log_download", "post"): ("viewer", 200),
    ("execution_log_earlier", "get"): ("viewer", 302),
    ("execution_log_earlier", "post"): ("viewer", 302),
    ("execution_reject", "get"): ("responder", 405),
    ("execution_reject", "post"): ("responder", 302),
    ("execution_rerun", "get"): ("responder", 405),
    ("execution_rerun", "post"): ("responder", 302),
    ("gate_list", "get"): ("viewer", 200),
    ("gate_list", "post"): ("viewer", 200),
    ("notification_channel", "get"): ("viewer", 200),
    ("notification_channel", "post"): ("admin", 200),
    ("notification_channel_delete", "get"): ("admin", 405),
    ("notification_channel_delete", "post"): ("admin", 302),
    ("notification_channel_test", "get"): ("admin", 405),
    ("notification_channel_test", "post"): ("admin", 302),
    ("notification_list", "get"): ("viewer", 200),
    ("notification_list", "post"): ("admin", 400),
    ("notification_subscription_delete", "get"): ("admin", 405),
    ("notification_subscription_delete", "post"): ("admin", 302),
    ("notification_subscription_new", "get"): ("admin", 405),
    ("notification_subscription_new", "post"): ("admin", 400),
    ("runbook_detail", "get"): ("viewer", 200),
    ("runbook_detail", "post"): ("responder", 200),
    ("runbook_diff", "get"): ("viewer", 200),
    ("runbook_diff", "post"): ("viewer", 200),
    ("runbook_edit", "get"): ("author", 200),
    ("runbook_edit", "post"): ("author", 200),
    ("runbook_list", "get"): ("viewer", 200),
    ("runbook_list", "post"): ("viewer", 200),
    ("runbook_new", "get"): ("author", 200),
    ("runbook_new", "post"): ("author", 200),
    ("runbook_version", "get"): ("viewer", 200),
    ("runbook_version", "post"): ("viewer", 200),
    ("runbook_version_approve", "get"): ("author", 405),
    ("runbook_version_approve", "post"): ("author", 302),
    ("runbook_version_restore", "get"): ("author", 405),
    ("runbook_version_restore", "post"): ("author", 302),
    ("runbook_versions", "get"): ("viewer", 200),
    ("runbook_versions", "post"): ("viewer", 200),
    ("schedule_list", "get"): ("viewer", 200),
    ("schedule_list", "post"): ("viewer", 200),
    ("secret_delete", "get"): ("author", 405),
    ("secret_delete", "post"): ("author", 302),
    ("secret_edit", "get"): ("author", 200),
    ("secret_edit", "post"): ("author", 200),
    ("secret_list", "get"): ("viewer", 200),
    ("secret_list", "post"): ("author", 200),
    ("source_delete", "get"): ("admin", 200),
    ("source_delete", "post"): ("admin", 302),
    ("source_detail", "get"): ("viewer", 200),
    ("source_detail", "post"): ("viewer", 200),
    ("source_list", "get"): ("viewer", 200),
    ("source_list", "post"): ("viewer", 200),
    ("source_new", "get"): ("author", 200),
    ("source_new", "post"): ("author", 200),
    ("source_rotate", "get"): ("author", 405),
    ("source_rotate", "post"): ("author", 200),
    ("source_test_alert", "get"): ("author", 405),
    ("source_test_alert", "post"): ("author", 302),
    ("token_list", "get"): ("viewer", 200),
    ("token_list", "post"): ("viewer", 200),
    ("token_revoke", "get"): ("viewer", 405),
    ("token_revoke", "post"): ("admin", 302),
    ("user_list", "get"): ("admin", 200),
    ("user_list", "post"): ("admin", 200),
    ("user_role", "get"): ("admin", 405),
    ("user_role", "post"): ("admin", 302),
}


def test_every_route_has_a_row():
    found = routes()
    missing = sorted(set(found) - set(EXPECTED))
    assert not missing, f"routes nobody said who may use (add rows to EXPECTED): {missing}"
    stale = sorted(set(EXPECTED) - set(found))
    assert not stale, f"rows for routes that no longer exist: {stale}"


def _refusal_says_why(response, role):
    text = response.content.decode()
    if role is None:
        return "no role yet" in text or "You have no role yet" in text
    return f"Your role ({role}) may not" in text


@pytest.mark.parametrize("name", sorted({name for name, _ in EXPECTED}))
def test_each_role_gets_what_its_row_says(world, name):
    for method in sorted(m for n, m in EXPECTED if n == name):
        least, ok = EXPECTED[(name, method)]
        got = statuses(world, name, method)
        for role in ROLES:
            response = got[role]
            if RANK[role] >= RANK[least]:
                assert response.status_code == ok, (name, method, role, response.status_code)
            else:
                assert response.status_code == 403, (name, method, role, response.status_code)
                assert _refusal_says_why(response, role), (name, method, role, response.content[:300])
