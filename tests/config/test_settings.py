"""Settings are read strictly and written once."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.env import env_header, env_networks

SETTINGS_FILE = Path(settings.BASE_DIR) / "config" / "settings.py"


def test_no_key_of_a_settings_dict_is_assigned_twice():
    """A later `REST_FRAMEWORK["X"] = ...` silently wins over the literal's
    "X": a reader of the literal sees the wrong value in force."""
    tree = ast.parse(SETTINGS_FILE.read_text())
    literal_keys, twice = {}, []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
                    literal_keys[target.id] = set(keys)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value in literal_keys.get(target.value.id, ())
                ):
                    twice.append(f"{target.value.id}[{target.slice.value!r}] (line {node.lineno})")
    assert not twice


def test_the_api_asks_the_roles_for_every_request():
    assert settings.REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] == ["accounts.permissions.RolePermission"]


def test_trusted_proxies_are_cidrs_and_the_header_a_header_name(monkeypatch):
    monkeypatch.setenv("X_PROXIES", "10.0.0.0/8, 192.0.2.1,::1")
    assert [str(n) for n in env_networks("X_PROXIES")] == ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]
    monkeypatch.setenv("X_PROXIES", "10.0.0.0/8,lb.internal")
    with pytest.raises(ImproperlyConfigured, match="lb\\.internal"):
        env_networks("X_PROXIES")
    monkeypatch.setenv("X_HEADER", "X-Forwarded-For")
    assert env_header("X_HEADER") == "X-Forwarded-For"
    monkeypatch.setenv("X_HEADER", "X-Forwarded-For: 1.2.3.4")
    with pytest.raises(ImproperlyConfigured, match="HTTP header name"):
        env_header("X_HEADER")


def test_a_proxy_header_without_trusted_proxies_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != "STEWARD_TRUSTED_PROXIES"}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "STEWARD_TRUSTED_PROXY_HEADER": "X-Forwarded-For"})
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "go together" in result.stderr
