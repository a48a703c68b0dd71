"""Who may do what: four roles, each a Django group, each including the
ones before it, and the named actions the API, the pages and the templates
ask about (`may(user, "run")`).

| role      | may                                                              |
|-----------|------------------------------------------------------------------|
| viewer    | read everything                                                  |
| responder | + run, rerun, cancel, approve or reject runs, ask gates          |
| author    | + runbooks, bindings, sources, secrets, schedules, gates; review versions |
| admin     | + users, everyone's API tokens, turning review off, gate overrides, which runbooks a secret allows |

Django superusers are admins. A user in no role group may do nothing, not
even read: an account exists before someone decides what it is for.
"""

from django.contrib.auth.models import Group

VIEWER, RESPONDER, AUTHOR, ADMIN = "viewer", "responder", "author", "admin"
ROLES = (VIEWER, RESPONDER, AUTHOR, ADMIN)  # ascending: each includes the ones before

# Each action names the least role that may do it.
ACTIONS = {
    "read": VIEWER,
    "run": RESPONDER,  # run a runbook, run a finished run again
    "cancel": RESPONDER,
    "approve": RESPONDER,  # approve or reject a run awaiting approval
    "edit_runbooks": AUTHOR,  # create, edit, restore versions
    "approve_versions": AUTHOR,  # take a protected runbook's pending version into use
    "manage_bindings": AUTHOR,  # create, update, delete, reset a tripped breaker
    "manage_sources": AUTHOR,  # create, update, rotate tokens, send a test alert
    "manage_secrets": AUTHOR,
    "manage_targets": AUTHOR,  # the machines ssh runbooks reach, and their pinned host keys
    "manage_schedules": AUTHOR,
    "manage_gates": AUTHOR,
    "unprotect_runbooks": ADMIN,  # switching review off is how a review would be bypassed
    "set_host_network": ADMIN,  # a runbook on the worker's own network reaches the control plane
    "override_gates": ADMIN,  # a verdict over the runbooks' own
    "delete_sources": ADMIN,  # a tool's door: its URL stops answering for every alert it sends
    "manage_tokens": ADMIN,  # everyone's API tokens (each user manages their own)
    "manage_users": ADMIN,
    "manage_notifications": ADMIN,  # channels and subscriptions: where messages about runs go
    "verify_audit": ADMIN,  # walking the whole chain costs the database; a viewer reads it
    "scope_secrets": ADMIN,  # which runbooks may use a secret: an author could otherwise print any of them
}

# How a refusal names the action: "Your role (viewer) may not run runbooks."
DESCRIPTIONS = {
    "read": "read Steward",
    "run": "run runbooks",
    "cancel": "cancel runs",
    "approve": "approve or reject runs",
    "edit_runbooks": "create or edit runbooks",
    "approve_versions": "approve runbook versions",
    "manage_bindings": "change bindings",
    "manage_sources": "change sources",
    "delete_sources": "delete sources",
    "manage_secrets": "change secrets",
    "manage_targets": "change targets",
    "manage_schedules": "change schedules",
    "manage_gates": "change gates",
    "unprotect_runbooks": "switch a runbook's review off",
    "set_host_network": "give a runbook the worker's own network",
    "override_gates": "override a gate's verdict",
    "manage_tokens": "manage other users' API tokens",
    "manage_users": "manage users",
    "manage_notifications": "change notification channels or subscriptions",
    "verify_audit": "verify the audit chain",
    "scope_secrets": "change which runbooks may use a secret",
}

NO_ROLE = "You have no role yet: ask an admin to make you a viewer, responder, author or admin."


def role_of(user) -> str | None:
    """The user's highest role, or None. Read once per request object (the
    user of a request is one Python object, so templates asking many times
    cost one query)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_steward_role", False)
    if cached is not False:
        return cached
    role = highest(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    user._steward_role = role
    return role


def highest(group_names) -> str | None:
    """The highest role among these group names (a list page prefetches them)."""
    names = set(group_names)
    return next((r for r in reversed(ROLES) if r in names), None)


def may(user, action: str) -> bool:
    needed = ACTIONS[action]  # a KeyError here is a typo in the code, not a refusal
    role = role_of(user)
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


def refusal(user, action: str) -> str:
    """The sentence a 403 says."""
    role = role_of(user)
    if role is None:
        return NO_ROLE
    return f"Your role ({role}) may not {DESCRIPTIONS[action]}; that needs the {ACTIONS[action]} role."


def set_role(user, role: str | None) -> None:
    """Put the user in exactly one role group (or none). Groups are created
    on demand: a migration makes them, but a flushed test database has none."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    user._steward_role = False  # forget what was read before
