"""Steward settings: every knob is an environment variable with a safe default.

With nothing set, Steward runs on SQLite and Celery's filesystem broker under
`var/` (see the contract's environment table). Production sets DATABASE_URL,
CELERY_BROKER_URL, CACHE_URL, SECRET_KEY and STEWARD_ENCRYPTION_KEY; each of
these (and EMAIL_HOST_PASSWORD) may come from a file instead, named by
NAME_FILE (core/env.py: env_secret).
"""

import base64
import hashlib
import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE as CSP_NONCE
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured

from core.env import (
    env_bool,
    env_choice,
    env_header,
    env_int,
    env_list,
    env_networks,
    env_range,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Runtime state of the embedded default (database, broker folder, dev key).
# Mode 0700: it may hold the dev secret key and the SQLite database.
VAR_DIR = Path(env_str("STEWARD_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _dev_secret_key() -> str:
    """A key generated once per checkout and kept in var/, for DEBUG only."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _dev_secret_key()

STEWARD_ENCRYPTION_KEY = env_secret("STEWARD_ENCRYPTION_KEY")
if STEWARD_ENCRYPTION_KEY:
    # One key, or several comma-separated during a rotation (the first
    # encrypts; see core/crypto.py). Refuse a key Fernet cannot use now,
    # not at the first secret saved.
    for _key in STEWARD_ENCRYPTION_KEY.split(","):
        try:
            if len(base64.urlsafe_b64decode(_key.strip().encode())) != 32:
                raise ValueError
        except ValueError:
            raise ImproperlyConfigured(
                "STEWARD_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each)."
            ) from None
elif not DEBUG:
    raise ImproperlyConfigured("STEWARD_ENCRYPTION_KEY must be set when DEBUG is off.")
else:
    # Dev only: a Fernet-shaped key derived from the dev secret key.
    STEWARD_ENCRYPTION_KEY = base64.urlsafe_b64encode(
        hashlib.sha256(("steward-encryption:" + SECRET_KEY).encode()).digest()
    ).decode()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")

# No django.contrib.admin: its saves bypass the domain functions and the
# audit trail; the pages and the API manage users, roles and tokens.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_htmx",
    "template_partials",
    "accounts",
    "audit",
    "events",
    "runbooks",
    "gates",
    "notifications",
    "ops",
    "webui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# The API and the webhook accept paths with and without a trailing slash
# themselves; a redirect would lose a POST body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webui.context.containment",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'steward.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one writer writes; IMMEDIATE takes the write
    # lock at BEGIN, so two writers queue instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# The owner role: `migrate` runs as it, then grants the app role
# (DATABASE_URL) what it may do; the app role may only read and append to
# the audit trail (audit/db_roles.py). Only the migrate step needs this.
if env_secret("DATABASE_OWNER_URL"):
    DATABASES["owner"] = dj_database_url.parse(env_secret("DATABASE_OWNER_URL"))
    DATABASE_ROUTERS = ["audit.db_roles.OwnerRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, throttles, dedup keys: shared by every process) -----

# JSON, never pickle (core/caches.py): whoever can write to Redis or to the
# cache table must not be able to run code in Steward by planting a value.
# A password goes in the URL: redis://:PASSWORD@host:6379/1 (AUTH) or
# redis://USER:PASSWORD@host:6379/1 (an ACL user), percent-encoded
# (Django splits LOCATION at "," and ";", so those must be %2C and %3B).
CACHE_URL = env_secret("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "core.caches.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {"serializer": "core.caches.JSONSerializer"},
        }
    }
elif CACHE_URL:
    raise ImproperlyConfigured("CACHE_URL must be a redis:// URL (or unset for the database)")
else:
    # Room for a day of webhook delivery ids: past MAX_ENTRIES the database
    # cache culls a third of its keys at random. Redis is the better home.
    CACHES = {
        "default": {
            "BACKEND": "core.caches.DatabaseCache",
            "LOCATION": "steward_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Auth and sessions --------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)

STEWARD_HTTPS = env_bool("STEWARD_HTTPS", False)
if STEWARD_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("STEWARD_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz answers load balancers on plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]

# --- Hardening ------------------------------------------------------------------

# The CSRF token reaches htmx through the page (hx-headers), never through
# JavaScript reading the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A Content-Security-Policy without inline script or eval: every script is a
# vendored file. Styles are files too, except the <style> elements CodeMirror
# creates, which carry the page's nonce (webui/static/webui/editor.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF, CSP_NONCE],
        "img-src": [CSP_SELF, "data:"],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_SELF],
        "form-action": [CSP_SELF],
        "frame-ancestors": [CSP_NONE],
    }
}
# Login throttling (accounts/throttle.py): this many failed logins for one
# username, or from one address, within the window lock further attempts
# until the window has passed. Counted in the shared cache.
STEWARD_LOGIN_FAILURES = env_int("STEWARD_LOGIN_FAILURES", 5)
STEWARD_LOGIN_WINDOW_SECONDS = env_int("STEWARD_LOGIN_WINDOW_SECONDS", 15 * 60)
# The client's address behind a reverse proxy, whose own address is
# REMOTE_ADDR (login throttling, the audit trail, /metrics; core/clients.py): only
# when the direct peer is in STEWARD_TRUSTED_PROXIES is this header read, and
# then its right-most address that is not a trusted proxy is the client's. A
# header sent by anyone else is ignored, so it cannot be spoofed.
STEWARD_TRUSTED_PROXY_HEADER = env_header("STEWARD_TRUSTED_PROXY_HEADER")
STEWARD_TRUSTED_PROXIES = env_networks("STEWARD_TRUSTED_PROXIES")
if bool(STEWARD_TRUSTED_PROXY_HEADER) != bool(STEWARD_TRUSTED_PROXIES):
    raise ImproperlyConfigured(
        "STEWARD_TRUSTED_PROXY_HEADER and STEWARD_TRUSTED_PROXIES go together: "
        "the header names the client only when a trusted proxy sent it."
    )

# --- Internationalization -----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (vendored under webui/static, served by WhiteNoise) ---------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True

# --- REST API -----------------------------------------------------------------

REST_FRAMEWORK = {
    # Token and session only: Basic would swallow a webhook's credentials.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API view asks accounts.roles what the user's role may do (reads
    # need the viewer role; a user with no role gets 403).
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "core.drf.CursorPagination",
    # django-filter FilterSets; also gives the cursor paginator its `?ordering=`.
    "DEFAULT_FILTER_BACKENDS": ["core.filtering.FilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.drf.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Steward API",
    "DESCRIPTION": "Runbooks, their runs, sources, bindings, schedules and the audit trail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The docs page's assets come from drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.add_error_responses",
        "core.openapi.add_component_rules",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SourceKindEnum": ["alertmanager", "generic", "grafana", "pagerduty", "sns"],
        "RunbookKindEnum": "runbooks.models.RunbookVersion.Kind",
        "ChannelKindEnum": "notifications.models.Kind",
    },
}

# --- Celery -------------------------------------------------------------------

# With a password: redis://USER:PASSWORD@host:6379/0 (percent-encoded).
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Our subclass writes each message whole before it appears (core/broker.py).
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"
    # kombu reads data_folder_in and writes data_folder_out: one folder for both.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    (BROKER_DIR / "queue").mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "processed").mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
else:
    # Short timeouts and one quick retry: a broker outage must not stall a
    # webhook (the rows are committed; the sweep sends them later). Without
    # max_retries a publish to a stopped Redis takes ~6 s.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        "visibility_timeout": 6 * 3600,
    }
# JSON only, for tasks, results, events and remote control alike: a message
# planted in the broker must not be able to make a worker unpickle it.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_EVENT_SERIALIZER = "json"
# No result backend: tasks store no results (the row is the result).
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "steward"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Steward ------------------------------------------------------------------

# Reliability (see ops/sweep.py and ops/worker_agent.py).
STEWARD_HEARTBEAT_SECONDS = env_int("STEWARD_HEARTBEAT_SECONDS", 5)
# A running execution silent this long is marked lost.
STEWARD_LOST_AFTER_SECONDS = env_int("STEWARD_LOST_AFTER_SECONDS", 30)
# A queued execution published this long ago and not started is sent again.
STEWARD_REQUEUE_AFTER_SECONDS = env_int("STEWARD_REQUEUE_AFTER_SECONDS", 60)
STEWARD_SWEEP_SECONDS = env_int("STEWARD_SWEEP_SECONDS", 5)
# On SIGTERM a worker lets running runbooks go on this long, then stops them.
STEWARD_SHUTDOWN_GRACE_SECONDS = env_int("STEWARD_SHUTDOWN_GRACE_SECONDS", 30)
# /healthz wants a worker seen within this many seconds.
STEWARD_WORKER_SEEN_SECONDS = env_int("STEWARD_WORKER_SEEN_SECONDS", 60)
# /metrics without an API token only from these networks.
STEWARD_METRICS_ALLOW = env_list("STEWARD_METRICS_ALLOW", "127.0.0.1/32,::1/128")

# The user all runbooks share when a root worker has no UID pool
# (STEWARD_RUNBOOK_UIDS empty); with the pool, each run has a UID of its own.
STEWARD_RUNBOOK_USER = env_str("STEWARD_RUNBOOK_USER", "nobody")
# Largest webhook body accepted (bytes); larger answers 413.
STEWARD_WEBHOOK_MAX_BYTES = env_int("STEWARD_WEBHOOK_MAX_BYTES", 1024 * 1024)
# Most alerts one webhook request may carry (every kind); more answers 413,
# so one huge group cannot hold the web tier for seconds.
STEWARD_WEBHOOK_MAX_ALERTS = env_int("STEWARD_WEBHOOK_MAX_ALERTS", 1000, minimum=1)
# Public base URL used in printed webhook URLs and snippets.
STEWARD_BASE_URL = env_str("STEWARD_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Runbook sandbox and secrets
# Resource limits of every runbook process (runbooks/runners/sandbox.py); 0
# turns one off. CPU time is the runbook's own timeout plus this margin, a
# backstop for a process that escapes the wall-clock timeout.
STEWARD_RUNBOOK_CPU_MARGIN_SECONDS = env_int("STEWARD_RUNBOOK_CPU_MARGIN_SECONDS", 10)
STEWARD_RUNBOOK_MAX_ADDRESS_SPACE_BYTES = env_int("STEWARD_RUNBOOK_MAX_ADDRESS_SPACE_BYTES", 1024**3)
STEWARD_RUNBOOK_MAX_FILE_BYTES = env_int("STEWARD_RUNBOOK_MAX_FILE_BYTES", 256 * 1024**2)
STEWARD_RUNBOOK_MAX_OPEN_FILES = env_int("STEWARD_RUNBOOK_MAX_OPEN_FILES", 1024)
# RLIMIT_NPROC counts every process of a UID: with a UID per run (a root
# worker's pool) it is a per-run ceiling; applied only when the worker
# switches users (a worker's own UID counts the worker too).
STEWARD_RUNBOOK_MAX_PROCESSES = env_int("STEWARD_RUNBOOK_MAX_PROCESSES", 512)
STEWARD_RUNBOOK_MAX_OUTPUT_BYTES = env_int("STEWARD_RUNBOOK_MAX_OUTPUT_BYTES", 10 * 1024**2)
# Folders a runbook may neither read nor write (Landlock, where the kernel has
# it), on top of the checkout (BASE_DIR) and VAR_DIR, which are always hidden.
STEWARD_RUNBOOK_HIDDEN_PATHS = env_list("STEWARD_RUNBOOK_HIDDEN_PATHS", "")
# Containment (runbooks/runners/namespaces.py). `namespaces`: each run in its
# own bubblewrap sandbox, and a worker that cannot make one refuses to
# start; `process` opts out (a banner on every page says runbooks are not
# contained).
STEWARD_SANDBOX = env_choice("STEWARD_SANDBOX", "namespaces", ("namespaces", "process"))
# The bwrap binary; empty: the system's (/usr/bin/bwrap, Debian package bubblewrap).
STEWARD_BWRAP = env_str("STEWARD_BWRAP", "")
# A root worker runs each runbook as a UID of its own from this range, taken
# with a lock file per UID in STEWARD_RUNBOOK_UID_LOCK_DIR (root-only), so
# every worker process on the machine shares one pool. Empty: all runs as
# STEWARD_RUNBOOK_USER.
STEWARD_RUNBOOK_UIDS = env_range("STEWARD_RUNBOOK_UIDS", "62000-62999")
STEWARD_RUNBOOK_UID_LOCK_DIR = env_str("STEWARD_RUNBOOK_UID_LOCK_DIR", "/run/steward/uids")
# The size of each run's private /tmp, /var/tmp and /dev/shm (MiB).
STEWARD_RUNBOOK_TMP_MB = env_int("STEWARD_RUNBOOK_TMP_MB", 256)
# A Python runbook's requirements (runbooks/environments.py): resolved with
# uv when saved, installed into an environment per (lock, interpreter) in
# STEWARD_ENV_DIR on each worker host. Packages come from the index (empty:
# uv's default, the public one), an extra index, or, when
# STEWARD_WHEELHOUSE names a folder of wheels, from it alone (--no-index:
# for sites without a route out).
STEWARD_PACKAGE_INDEX_URL = env_str("STEWARD_PACKAGE_INDEX_URL", "")
STEWARD_EXTRA_INDEX_URL = env_str("STEWARD_EXTRA_INDEX_URL", "")
STEWARD_WHEELHOUSE = env_str("STEWARD_WHEELHOUSE", "")
# A root worker runs each runbook as a UID of its own, which must read the
# environments: var/ is private (0700), so a root process defaults to a
# shared cache folder; any other runs runbooks as itself and keeps them in var/.
_ENV_DIR_DEFAULT = "/var/cache/steward/envs" if os.geteuid() == 0 else str(VAR_DIR / "envs")
STEWARD_ENV_DIR = Path(env_str("STEWARD_ENV_DIR", _ENV_DIR_DEFAULT)).resolve()
STEWARD_ENV_CACHE_MB = env_int("STEWARD_ENV_CACHE_MB", 2048)
# How long one resolve (at save) or one build (before a run) may take.
STEWARD_ENV_RESOLVE_SECONDS = env_int("STEWARD_ENV_RESOLVE_SECONDS", 120)
STEWARD_ENV_BUILD_SECONDS = env_int("STEWARD_ENV_BUILD_SECONDS", 600)
# Networks no egress runbook may reach, beside the control plane (broker,
# cache, database, the web app's address), loopback, link-local, metadata
# and this host's own addresses, which are always refused.
STEWARD_EGRESS_DENY = env_networks("STEWARD_EGRESS_DENY", "")
# A delegated cgroup v2 folder the worker may make a cgroup per run in
# (memory.max, pids.max, cgroup.kill); empty or a cgroup v1 host: rlimits only.
STEWARD_RUNBOOK_CGROUP = env_str("STEWARD_RUNBOOK_CGROUP", "")
# The largest script a person may upload in the browser (bytes).
STEWARD_RUNBOOK_UPLOAD_MAX_BYTES = env_int("STEWARD_RUNBOOK_UPLOAD_MAX_BYTES", 256 * 1024)

# --- Roles and approvals
# An execution awaiting approval that nobody approves or rejects within this
# many seconds is rejected ("approval expired") by the workers' sweep.
STEWARD_APPROVAL_TIMEOUT_SECONDS = env_int("STEWARD_APPROVAL_TIMEOUT_SECONDS", 3600)
# What one template (a binding's parameter, a concurrency key) may take to
# render, and the most it may write (core/templating.py); past either, that
# binding's run fails with the reason.
STEWARD_TEMPLATE_TIME_LIMIT_MS = env_int("STEWARD_TEMPLATE_TIME_LIMIT_MS", 100, minimum=1)
STEWARD_TEMPLATE_MAX_OUTPUT = env_int("STEWARD_TEMPLATE_MAX_OUTPUT", 64 * 1024, minimum=1)

# --- Notifications (notifications/)
# A failed delivery is tried again after STEWARD_NOTIFY_BACKOFF_SECONDS,
# doubling each attempt (at most STEWARD_NOTIFY_MAX_BACKOFF_SECONDS), until
# STEWARD_NOTIFY_MAX_ATTEMPTS attempts in all.
STEWARD_NOTIFY_MAX_ATTEMPTS = env_int("STEWARD_NOTIFY_MAX_ATTEMPTS", 5)
STEWARD_NOTIFY_BACKOFF_SECONDS = env_int("STEWARD_NOTIFY_BACKOFF_SECONDS", 30)
STEWARD_NOTIFY_MAX_BACKOFF_SECONDS = env_int("STEWARD_NOTIFY_MAX_BACKOFF_SECONDS", 3600)
STEWARD_NOTIFY_TIMEOUT_SECONDS = env_int("STEWARD_NOTIFY_TIMEOUT_SECONDS", 10)
# Networks notifications may reach although they are not public (loopback,
# private, link-local...), as CIDRs; plain http:// is allowed only to these.
STEWARD_NOTIFY_ALLOWED_NETWORKS = env_list("STEWARD_NOTIFY_ALLOWED_NETWORKS", "")
# The queue of the delivery tasks: a worker of its own (-Q notifications)
# keeps messages from waiting behind long runbooks.
STEWARD_NOTIFY_QUEUE = env_str("STEWARD_NOTIFY_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
STEWARD_PAGERDUTY_EVENTS_URL = env_str("STEWARD_PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
# Email channels send through Django's email backend.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "steward@localhost")

# --- Signed audit checkpoints (audit/checkpoints.py) ----------------------------
# The Ed25519 key (manage.py audit_keygen) only the checkpointer reads, never a
# worker: runbooks share the workers' machines.
STEWARD_AUDIT_SIGNING_KEY_FILE = env_str("STEWARD_AUDIT_SIGNING_KEY_FILE")
# Where the signed notes go: a folder the database's administrators cannot write.
STEWARD_AUDIT_CHECKPOINT_DIR = env_str("STEWARD_AUDIT_CHECKPOINT_DIR")
# How often `audit_checkpoint --every` signs the trail while it grows.
STEWARD_AUDIT_CHECKPOINT_SECONDS = env_int("STEWARD_AUDIT_CHECKPOINT_SECONDS", 60, minimum=1)
# Optional: each new checkpoint is also POSTed here (text/plain), off this machine.
STEWARD_AUDIT_WITNESS_URL = env_str("STEWARD_AUDIT_WITNESS_URL")
# The first line of every checkpoint: one per deployment.
STEWARD_AUDIT_ORIGIN = env_str("STEWARD_AUDIT_ORIGIN") or (
    STEWARD_BASE_URL.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0] + "/audit"
)
