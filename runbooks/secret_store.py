"""Secrets: saved encrypted, audited without their values, and decrypted only
by the worker, for the runs of runbooks that declare them and that the
secret allows.

Scope: a secret lists the runbooks allowed to use it. A runbook may declare
only secrets that allow it (`check_scope`, called by the API's serializer,
which the runbook form and the importer validate through, and by
`versions.save_runbook` for every other way a version is made), and the
worker hands a run only those (`values_for`). A name no secret has yet may
be declared: the run fails, saying the secret is missing, and a secret
created later allows no runbook until an admin says so. Who may change a
scope is a rule of this module too: admins only (`scope_secrets`).
"""

import re

from django.db import transaction
from django.utils import timezone

from accounts import roles
from audit import trail
from core import crypto
from core.errors import FORBIDDEN, Refused
from runbooks.models import Runbook, Secret

NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# The environment a runbook always gets (contract): a secret may not replace it.
RESERVED_NAMES = {"PATH", "HOME", "LANG"}
RESERVED_PREFIXES = ("STEWARD_", "PARAM_")
MAX_VALUE_LENGTH = 64 * 1024
SCOPE_ACTION = "scope_secrets"


class SecretError(Refused, ValueError):
    """A secret a run needs is missing, out of its scope, or cannot be decrypted."""


class SecretScopeError(Refused, ValueError):
    """A runbook declares secrets that do not allow it; one problem per
    secret, each under the `secrets` field."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), problems=[("secrets", problem) for problem in problems])

    @property
    def messages(self) -> list[str]:
        return [message for _, message in self.problems]


class ScopeRefused(Refused, PermissionError):
    """Someone who is not an admin tried to change which runbooks a secret allows."""

    def __init__(self, message: str):
        super().__init__(message, kind=FORBIDDEN)


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a secret, or None when it can."""
    if not NAME.match(name):
        return f"{name!r}: secret names match [A-Z_][A-Z0-9_]* (upper-case letters, digits, '_')"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return f"{name!r} is reserved for Steward's own variables (PATH, HOME, LANG, STEWARD_*, PARAM_*)"
    return None


def scope_problems(runbook: Runbook | None, names: list[str]) -> list[str]:
    """One sentence, naming the secret, for each existing secret among
    `names` that does not allow `runbook` (None or unsaved: a new runbook,
    which no secret can allow yet)."""
    if not names:
        return []
    existing = set(Secret.objects.filter(name__in=names).values_list("name", flat=True))
    if not existing:
        return []
    allowed = set()
    if runbook is not None and runbook.pk is not None:
        allowed = set(Secret.objects.filter(name__in=existing, allowed_runbooks=runbook).values_list("name", flat=True))
    problems = []
    for name in names:
        if name in existing and name not in allowed:
            if runbook is None or runbook.pk is None:
                problems.append(
                    f"secret {name} does not allow this runbook: save the new runbook without {name}, "
                    f"then ask an admin to add it to {name}'s allowed runbooks"
                )
            else:
                problems.append(
                    f"secret {name} does not allow runbook {runbook.slug!r}: "
                    f"an admin can add it to {name}'s allowed runbooks on the Secrets page"
                )
    return problems


def check_scope(runbook: Runbook | None, names: list[str]) -> None:
    """SecretScopeError naming every declared secret that does not allow `runbook`."""
    problems = scope_problems(runbook, names)
    if problems:
        raise SecretScopeError(problems)


def may_change_scope(user) -> bool:
    """Admins change scopes; `None` is Steward itself (a command, a migration)."""
    return user is None or roles.may(user, SCOPE_ACTION)


def _refuse_scope_change(user) -> None:
    if not may_change_scope(user):
        raise ScopeRefused(roles.refusal(user, SCOPE_ACTION))


def _scope(secret: Secret) -> list[str]:
    return sorted(secret.allowed_runbooks.values_list("slug", flat=True))


def _audited(secret: Secret, **extra) -> dict:
    """What the audit trail keeps of a secret: never its value."""
    return {"name": secret.name, "description": secret.description, **extra}


def create(
    name: str,
    value: str,
    description: str,
    actor: trail.Actor,
    user=None,
    request=None,
    allowed_runbooks: list[Runbook] | None = None,
) -> Secret:
    """A new secret, allowing `allowed_runbooks` (none by default). Only an
    admin may create it allowing any: ScopeRefused otherwise."""
    runbooks = list(allowed_runbooks or [])
    if runbooks:
        _refuse_scope_change(user)
    secret = Secret(name=name, description=description, ciphertext=crypto.encrypt(value), updated_by=user)
    with transaction.atomic():
        secret.save(force_insert=True)
        secret.allowed_runbooks.set(runbooks)
        trail.record(
            actor,
            trail.Change(
                "secret.created", "secret", secret.pk, after=_audited(secret, allowed_runbooks=_scope(secret))
            ),
            request=request,
        )
    return secret


def update(
    secret: Secret,
    actor: trail.Actor,
    value: str | None = None,
    description=None,
    user=None,
    request=None,
    allowed_runbooks: list[Runbook] | None = None,
) -> Secret:
    """Replace the value, the description and/or the runbooks it allows
    (None leaves one as it is; the same runbooks again change nothing). A
    change of scope is an admin's (ScopeRefused otherwise) and gets an
    audit entry of its own, `secret.scope_changed`, so the trail shows who
    widened what."""
    with transaction.atomic():
        # The row locked: the scope compared here is the one this write
        # replaces, so an author resending a scope an admin has just
        # narrowed cannot widen it again.
        Secret.objects.select_for_update().filter(pk=secret.pk).values_list("pk").first()
        scope_before = _scope(secret)
        wanted = None
        if allowed_runbooks is not None:
            wanted = {runbook.pk for runbook in allowed_runbooks}
            if wanted == set(secret.allowed_runbooks.values_list("pk", flat=True)):
                wanted = None
            else:
                _refuse_scope_change(user)
        before = _audited(secret)
        changes_content = value is not None or (description is not None and description != secret.description)
        if value is not None:
            secret.ciphertext = crypto.encrypt(value)
        if description is not None:
            secret.description = description
        changes = []
        if wanted is not None:
            secret.allowed_runbooks.set(list(wanted))
            changes.append(
                trail.Change(
                    "secret.scope_changed",
                    "secret",
                    secret.pk,
                    before={"name": secret.name, "allowed_runbooks": scope_before},
                    after={"name": secret.name, "allowed_runbooks": _scope(secret)},
                )
            )
        if changes_content or not changes:
            secret.updated_at, secret.updated_by = timezone.now(), user
            secret.save()
            changes.insert(
                0,
                trail.Change(
                    "secret.updated",
                    "secret",
                    secret.pk,
                    before=before,
                    after=_audited(secret, value_replaced=value is not None),
                ),
            )
        else:
            Secret.objects.filter(pk=secret.pk).update(updated_at=timezone.now(), updated_by=user)
        trail.record(actor, *changes, request=request)
    return secret


def delete(secret: Secret, actor: trail.Actor, request=None) -> None:
    with transaction.atomic():
        trail.record(
            actor,
            trail.Change(
                "secret.deleted", "secret", secret.pk, before=_audited(secret, allowed_runbooks=_scope(secret))
            ),
            request=request,
        )
        secret.delete()


def values_for(names: list[str], runbook: Runbook) -> dict[str, str]:
    """name → clear value for a run of `runbook`; SecretError naming
    every missing secret, every one that does not allow the runbook, or one
    that cannot be decrypted. Defence in depth: saving already refuses a
    declaration out of scope, but a scope can shrink after the save."""
    if not names:
        return {}
    runbook_id = runbook.pk
    found = {s.name: s for s in Secret.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        listed = ", ".join(missing)
        raise SecretError(
            f"The runbook needs secret(s) that do not exist: {listed}. Create them under Secrets, then run it again."
        )
    allowed = set(
        Secret.allowed_runbooks.through.objects.filter(secret__name__in=names, runbook_id=runbook_id).values_list(
            "secret__name", flat=True
        )
    )
    refused = [name for name in names if name not in allowed]
    if refused:
        listed = ", ".join(refused)
        raise SecretError(
            f"The runbook may not use secret(s) {listed}: they do not allow this runbook. "
            "An admin can allow it on the Secrets page; the run got no secret."
        )
    values = {}
    for name in names:
        try:
            values[name] = crypto.decrypt(found[name].ciphertext)
        except crypto.DecryptionError as exc:
            raise SecretError(f"Secret {name} cannot be decrypted: {exc}.") from None
    return values


def rotate_all() -> int:
    """Re-encrypt every secret with the first key of STEWARD_ENCRYPTION_KEY."""
    count = 0
    with transaction.atomic():
        for secret in Secret.objects.select_for_update().order_by("name"):
            Secret.objects.filter(pk=secret.pk).update(ciphertext=crypto.rotate(secret.ciphertext))
            count += 1
    return count
