"""`python3 manage.py <command>` as the README writes it, on a checkout where
`make run` ran: it finds the checkout's venv and `make run`'s dev keys; and
production still refuses to start without its keys."""

import os
import shutil
import subprocess
import sys

from django.conf import settings

SHOW = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
DEV_KEY = "dev-key-that-make-run-wrote-0123456789abcdefghijklmnop"


def manage(*args, var_dir, python=(sys.executable,), **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY", "STEWARD_ENCRYPTION_KEY", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    base.update({"STEWARD_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [*python, "manage.py", *args], cwd=settings.BASE_DIR, env=base, capture_output=True, text=True, timeout=60
    )


def with_dev_key(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o700)
    (var_dir / "secret_key").write_text(DEV_KEY)
    return var_dir


def test_a_python_without_django_runs_the_command_with_the_checkouts_venv(tmp_path):
    # -S: no site-packages, so no Django, like the system's python3.
    result = manage("shell", "-c", SHOW, var_dir=with_dev_key(tmp_path), python=(sys.executable, "-S"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", DEV_KEY]


def test_after_make_run_a_command_uses_its_dev_keys(tmp_path):
    result = manage("shell", "-c", SHOW, var_dir=with_dev_key(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", DEV_KEY]


def test_without_make_runs_dev_key_a_command_still_needs_the_production_keys(tmp_path):
    result = manage("check", var_dir=tmp_path / "empty")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "empty" / "secret_key").exists()


def test_debug_switched_off_refuses_the_dev_keys(tmp_path):
    result = manage("check", var_dir=with_dev_key(tmp_path), DEBUG="off")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_a_secret_key_that_is_set_wins_over_the_dev_key(tmp_path):
    result = manage(
        "shell",
        "-c",
        SHOW,
        var_dir=with_dev_key(tmp_path),
        SECRET_KEY="set-by-the-operator-0123456789",
        STEWARD_ENCRYPTION_KEY="dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA=",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["False", "set-by-the-operator-0123456789"]


def test_a_fresh_clone_without_a_venv_says_to_run_make_run_first(tmp_path):
    shutil.copy(settings.BASE_DIR / "manage.py", tmp_path / "manage.py")
    result = subprocess.run(
        [sys.executable, "-S", "manage.py", "check"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "run `make run` first" in result.stderr
