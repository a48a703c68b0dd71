"""Secrets a source keeps at rest (its signing secret), encrypted with
STEWARD_ENCRYPTION_KEY (Fernet: AES-128-CBC + HMAC-SHA256).

A source's token is only hashed, but a signing secret must be read back in
clear to compute an HMAC, so it is encrypted instead.
"""

import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key)


def encrypt(plaintext: str) -> str:
    return _fernet(settings.STEWARD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str | None:
    """The plaintext, or None when it cannot be decrypted (the key changed)."""
    try:
        return _fernet(settings.STEWARD_ENCRYPTION_KEY).decrypt(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        log.error("a stored secret cannot be decrypted: was STEWARD_ENCRYPTION_KEY changed?")
        return None
