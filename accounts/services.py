"""Changes to accounts: API tokens issued and revoked, users created and
given a role. Each commits together with its audit entry."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts import roles, validation
from accounts.models import API_TOKEN_PREFIX, ApiToken
from audit import trail


def token_label(token: ApiToken) -> str:
    return f"{API_TOKEN_PREFIX}_{token.token_id}_…"


def issue_token(user, name: str, actor: trail.Actor, expires_at=None, request=None) -> tuple[ApiToken, str]:
    """A new token for `user`; the string returned is the only copy of it."""
    with transaction.atomic():
        row, token = ApiToken.issue(user, name, expires_at=expires_at)
        trail.record(
            actor,
            trail.Change(
                "api_token.created",
                "api_token",
                row.token_id,
                after={"user": user.get_username(), "name": row.name, "expires_at": expires_at},
            ),
            request=request,
        )
    return row, token


def revoke_token(token: ApiToken, actor: trail.Actor, request=None) -> bool:
    """Revoke once; False when it already was."""
    now = timezone.now()
    with transaction.atomic():
        if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
            return False
        trail.record(
            actor,
            trail.Change(
                "api_token.revoked",
                "api_token",
                token.token_id,
                after={"user": token.user.get_username(), "name": token.name},
            ),
            request=request,
        )
    token.revoked_at = now
    return True


def create_user(username: str, password: str, role: str | None, actor: trail.Actor, request=None):
    """A new user. AccountRefused when the name is another user's spelt
    another way (accounts.validation.new_username)."""
    with transaction.atomic():
        username = validation.new_username(username)
        user = get_user_model().objects.create_user(username, password=password)
        roles.set_role(user, role)
        trail.record(actor, trail.Change("user.created", "user", username, after={"role": role}), request=request)
    return user


def change_role(user, role: str | None, actor: trail.Actor, request=None) -> bool:
    """Give `user` this role (None: none). False when nothing changed."""
    before = roles.role_of(user)
    if before == role:
        return False
    with transaction.atomic():
        roles.set_role(user, role)
        trail.record(
            actor,
            trail.Change(
                "user.role_changed", "user", user.get_username(), before={"role": before}, after={"role": role}
            ),
            request=request,
        )
    return True
