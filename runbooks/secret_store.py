"""Secrets: saved encrypted, audited without their values, and decrypted only
by the worker, for the runs of runbooks that declare them."""

import re

from django.db import transaction
from django.utils import timezone

from audit import trail
from config import crypto
from runbooks.models import Secret

NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# The environment a runbook always gets (contract): a secret may not replace it.
RESERVED_NAMES = {"PATH", "HOME", "LANG"}
RESERVED_PREFIXES = ("STEWARD_", "PARAM_")
MAX_VALUE_LENGTH = 64 * 1024


class SecretError(ValueError):
    """A secret a run needs is missing or cannot be decrypted."""


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a secret, or None when it can."""
    if not NAME.match(name):
        return f"{name!r}: secret names match [A-Z_][A-Z0-9_]* (upper-case letters, digits, '_')"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return f"{name!r} is reserved for Steward's own variables (PATH, HOME, LANG, STEWARD_*, PARAM_*)"
    return None


def _audited(secret: Secret, **extra) -> dict:
    """What the audit trail keeps of a secret: never its value."""
    return {"name": secret.name, "description": secret.description, **extra}


def create(name: str, value: str, description: str, actor: trail.Actor, user=None, request=None) -> Secret:
    secret = Secret(name=name, description=description, ciphertext=crypto.encrypt(value), updated_by=user)
    with transaction.atomic():
        secret.save(force_insert=True)
        trail.record(
            actor, trail.Change("secret.created", "secret", secret.pk, after=_audited(secret)), request=request
        )
    return secret


def update(
    secret: Secret, actor: trail.Actor, value: str | None = None, description=None, user=None, request=None
) -> Secret:
    """Replace the value and/or the description (None leaves one as it is)."""
    before = _audited(secret)
    if value is not None:
        secret.ciphertext = crypto.encrypt(value)
    if description is not None:
        secret.description = description
    secret.updated_at, secret.updated_by = timezone.now(), user
    with transaction.atomic():
        secret.save()
        trail.record(
            actor,
            trail.Change(
                "secret.updated",
                "secret",
                secret.pk,
                before=before,
                after=_audited(secret, value_replaced=value is not None),
            ),
            request=request,
        )
    return secret


def delete(secret: Secret, actor: trail.Actor, request=None) -> None:
    with transaction.atomic():
        trail.record(
            actor, trail.Change("secret.deleted", "secret", secret.pk, before=_audited(secret)), request=request
        )
        secret.delete()


def values_for(names: list[str]) -> dict[str, str]:
    """name → clear value for a run; SecretError naming every missing one."""
    if not names:
        return {}
    found = {s.name: s for s in Secret.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        listed = ", ".join(missing)
        raise SecretError(
            f"The runbook needs secret(s) that do not exist: {listed}. Create them under Secrets, then run it again."
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
