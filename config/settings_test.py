"""Settings for the test suite: the real settings plus what tests need.

`make test` exports throwaway keys; these defaults let plain `pytest` run too.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("STEWARD_ENCRYPTION_KEY", "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA=")
# A folder of this test run's own (database file, broker folder), inherited
# by the worker and web processes it starts: two runs at once never share one.
os.environ.setdefault("STEWARD_VAR_DIR", tempfile.mkdtemp(prefix="steward-test-"))

from config.settings import *
from config.settings import DATABASES, VAR_DIR
from core.env import env_list

# Tests connect as one role (tests/audit/test_db_roles.py makes an app role
# of its own); an owner alias would get a test database of its own.
DATABASES.pop("owner", None)
DATABASE_ROUTERS = []

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the worker and web processes of a test must see it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    # pytest-django empties tables with TRUNCATE; the audit trigger allows it
    # only in a session that says so, and only test settings say so.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c steward.allow_truncate=on"

# Notifications: test receivers listen on loopback, and retries come fast.
# A worker a test starts with STEWARD_NOTIFY_ALLOWED_NETWORKS="" has the defaults.
STEWARD_NOTIFY_ALLOWED_NETWORKS = env_list("STEWARD_NOTIFY_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
STEWARD_NOTIFY_BACKOFF_SECONDS = 1
STEWARD_NOTIFY_MAX_ATTEMPTS = 3
STEWARD_NOTIFY_TIMEOUT_SECONDS = 5
