"""DRF authentication by `Authorization: Bearer stw_<id>_<secret>`."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts import tokens
from accounts.models import API_TOKEN_PREFIX, ApiToken
from audit import trail

# Recording every use would turn each API read into a write; a minute is
# precise enough for "last used".
_LAST_USED_PRECISION = timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        parsed = tokens.parse_token(credentials.strip(), API_TOKEN_PREFIX)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        token_id, secret = parsed
        row = ApiToken.objects.select_related("user").filter(token_id=token_id).first()
        if row is None or not tokens.secret_matches(secret, row.secret_hash):
            raise exceptions.AuthenticationFailed("Invalid API token.")
        now = timezone.now()
        if not row.is_usable(now) or not row.user.is_active:
            raise exceptions.AuthenticationFailed("API token expired or revoked.")
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        return row.user, row

    def authenticate_header(self, request):
        return self.keyword


def actor_of(request) -> trail.Actor:
    """Who did it, for the audit trail: a user's session or one of their tokens."""
    if isinstance(getattr(request, "auth", None), ApiToken):
        return trail.Actor("token", f"{request.user.get_username()}:{request.auth.token_id}")
    return trail.user_actor(request.user)
