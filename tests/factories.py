"""Small builders for the objects tests need, through the real services."""

from django.contrib.auth import get_user_model

from accounts import roles
from accounts.models import ApiToken
from audit import trail
from events import bindings, webhooks
from events.models import Binding, Source
from runbooks import versions
from runbooks.models import Runbook

HOST_SCHEMA = {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}


def make_runbook(
    name="Restart service",
    script='print("hello")',
    kind="python",
    parameters=None,
    timeout_seconds=30,
    slug="",
    queue="",
    network=None,
    **policy,
):
    """A runbook through the real service; `policy` sets the run policy of
    its first version (max_attempts, concurrency_limit, requires_approval,
    protected, ...)."""
    runbook = Runbook(name=name, slug=slug)
    versions.save_runbook(
        runbook,
        {
            "kind": kind,
            "script": script,
            "parameters": parameters if parameters is not None else {},
            "timeout_seconds": timeout_seconds,
            "queue": queue,
            **({"network": network} if network else {}),
            **policy,
        },
        trail.SYSTEM,
    )
    return runbook


def make_source(slug="am", kind="alertmanager", **fields) -> tuple[Source, str]:
    """A source through events.webhooks.create_source: its rules, its token, its audit entry."""
    return webhooks.create_source(
        {"slug": slug, "name": fields.pop("name", slug.title()), "kind": kind, **fields}, trail.SYSTEM
    )


def make_binding(runbook, source=None, match=None, parameters=None, **fields) -> Binding:
    """A binding through events.bindings.save_binding, audited as the pages and the API save one."""
    return bindings.save_binding(
        None,
        {
            "name": fields.pop("name", "binding"),
            "runbook": runbook,
            "source": source,
            "match": match if match is not None else [],
            "parameters": parameters or {},
            **fields,
        },
        trail.SYSTEM,
    )


def api_token(user) -> str:
    return ApiToken.issue(user, "tests")[1]


PASSWORD = "correct-horse-battery"


def make_user(role: str | None, username: str | None = None):
    """A user in one role group (None: no role), password PASSWORD."""
    user = get_user_model().objects.create_user(username or f"{role or 'norole'}-user", password=PASSWORD)
    roles.set_role(user, role)
    return user
