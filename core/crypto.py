"""Encryption of secrets at rest (runbook secrets, sources' signing secrets): Fernet (AES-128-CBC + HMAC-SHA256) keys
from STEWARD_ENCRYPTION_KEY, which may hold several comma-separated keys.

The first key encrypts; every key decrypts. That is how a key is rotated:
put the new key first and the old one after it, run
`python manage.py rotate_secrets` (re-encrypts every value with the new key),
then drop the old key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """No key of STEWARD_ENCRYPTION_KEY decrypts the value."""


def keys(setting: str) -> list[str]:
    return [key.strip() for key in setting.split(",") if key.strip()]


@lru_cache(maxsize=4)
def _multi_fernet(setting: str) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys(setting)])


def _current() -> MultiFernet:
    return _multi_fernet(settings.STEWARD_ENCRYPTION_KEY)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        raise DecryptionError("no key of STEWARD_ENCRYPTION_KEY decrypts it (was a key removed?)") from None


def rotate(ciphertext: str) -> str:
    """The same value encrypted with the first key."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        raise DecryptionError("no key of STEWARD_ENCRYPTION_KEY decrypts it (was a key removed?)") from None
