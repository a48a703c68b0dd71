from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts import tokens

API_TOKEN_PREFIX = "stw"


class ApiToken(models.Model):
    """A named API credential of one user; only the secret's hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({API_TOKEN_PREFIX}_{self.token_id}_…)"

    @classmethod
    def issue(cls, user, name: str, expires_at=None) -> tuple["ApiToken", str]:
        """Create a token; the returned string is the only copy of the secret."""
        token_id, secret_hash, token = tokens.new_token(API_TOKEN_PREFIX)
        row = cls.objects.create(
            user=user, name=name, token_id=token_id, secret_hash=secret_hash, expires_at=expires_at
        )
        return row, token

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
