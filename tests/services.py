"""Tests that need a service (PostgreSQL, Redis, Chromium) call `require()`.

Locally a missing service skips the test with the reason; in CI
(STEWARD_REQUIRE_SERVICES=1) it fails instead, so a green CI run can never
hide a skipped check.
"""

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection


def require(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("STEWARD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required here (STEWARD_REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"needs {what}")


def require_postgresql() -> None:
    require(connection.vendor == "postgresql", "PostgreSQL (set DATABASE_URL=postgres://...)")


def require_redis() -> None:
    require(settings.CELERY_BROKER_URL.startswith("redis://"), "Redis (set CELERY_BROKER_URL=redis://...)")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "Debian's chromium package (apt-get install chromium)")
    return path
