"""Rules for account input, shared by the user page and the services."""

import unicodedata

from django.contrib.auth import get_user_model

from core.errors import Refused


class AccountRefused(Refused, ValueError):
    """Input an account change cannot take; `field` names the input."""

    def __init__(self, message: str, field: str):
        super().__init__(message, field)


def canonical_username(username: str) -> str:
    """The form every spelling of one name shares: NFKC (what Django's login
    form does to what is typed), then case-folded. Full-width admin (U+FF41...)
    and "Admin" are "admin"."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def new_username(username: str) -> str:
    """The name a new user is stored under (NFKC-normalised, as the login form
    reads it). Refused when it is empty or when it is an existing user's name
    spelt another way: full-width admin or "ADMIN" must not shadow "admin" on a
    page, in the audit trail or in a throttle count."""
    name = unicodedata.normalize("NFKC", username or "").strip()
    if not name:
        raise AccountRefused("Give the user a name.", "username")
    if len(name) > 150:
        raise AccountRefused("A username has at most 150 characters.", "username")
    wanted = canonical_username(name)
    # Every name is compared in Python: the databases' case-insensitive
    # lookups disagree beyond ASCII (SQLite folds only A-Z). Users are few.
    for existing in get_user_model().objects.values_list("username", flat=True).iterator():
        if canonical_username(existing) == wanted:
            if existing == name:
                raise AccountRefused("A user with this name exists.", "username")
            raise AccountRefused(f"A user with this name exists (spelt {existing!r}).", "username")
    return name
