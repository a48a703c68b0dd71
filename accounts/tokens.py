"""Bearer tokens shaped `<prefix>_<id>_<secret>`: the id finds the row, only a
SHA-256 of the secret is stored, and comparison is constant-time.

A fast hash is deliberate: the secret is 32 random base62 characters (190
bits), so a slow password hash would add nothing but latency to every webhook.
"""

import hashlib
import hmac
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 8
SECRET_LENGTH = 32


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(prefix: str) -> tuple[str, str, str]:
    """Return (token id, secret hash, the whole token to show once)."""
    token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
    return token_id, hash_secret(secret), f"{prefix}_{token_id}_{secret}"


def parse_token(token: str, prefix: str) -> tuple[str, str] | None:
    """Split a token into (id, secret), or None when it is not shaped right."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != prefix:
        return None
    token_id, secret = parts[1], parts[2]
    if len(token_id) != ID_LENGTH or len(secret) != SECRET_LENGTH:
        return None
    return token_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
