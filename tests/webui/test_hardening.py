"""Headers and defences a security review checks first."""

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_pages_carry_a_content_security_policy_without_inline_script(client, user):
    client.force_login(user)
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    nonce = re.search(r"'nonce-([^']+)'", directives["style-src"]).group(1)
    assert f'<meta name="csp-nonce" content="{nonce}">' in response.content.decode()
    assert directives["frame-ancestors"] == "'none'" and response["X-Frame-Options"] == "DENY"


def test_the_csrf_and_session_cookies_are_http_only(client, user):
    response = client.post("/accounts/login/", {"username": "oncall", "password": "correct-horse-battery"})
    assert response.cookies["sessionid"]["httponly"]
    assert settings.CSRF_COOKIE_HTTPONLY


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_repeated_failed_logins_lock_the_account_for_a_while(client, user, fresh_cache):
    for _ in range(settings.STEWARD_LOGIN_FAILURES):
        assert client.post("/accounts/login/", {"username": "oncall", "password": "wrong"}).status_code == 200
    locked = client.post("/accounts/login/", {"username": "oncall", "password": "correct-horse-battery"})
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    # Another address guessing the same account is refused too; the limit is per user as well.
    other = client.post("/accounts/login/", {"username": "OnCall", "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 429


def test_a_success_before_the_limit_clears_the_users_count(client, user, fresh_cache):
    for _ in range(settings.STEWARD_LOGIN_FAILURES - 1):
        client.post("/accounts/login/", {"username": "oncall", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    ok = client.post(
        "/accounts/login/", {"username": "oncall", "password": "correct-horse-battery"}, REMOTE_ADDR="10.0.0.2"
    )
    assert ok.status_code == 302


def test_check_deploy_is_clean_with_https_on():
    # The environment of a deployment: none of the test run's own switches.
    skip = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "STEWARD_HTTPS": "on",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "steward.example.com",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_keys():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["STEWARD_ENCRYPTION_KEY"] = "not-a-fernet-key"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "Fernet key" in result.stderr
