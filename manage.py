#!/usr/bin/env python3
"""Django's command-line utility for administrative tasks."""

import base64
import os
import secrets
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
# Commands that neither serve requests nor read a secret: they may run without
# the SECRET_KEY and STEWARD_ENCRYPTION_KEY production requires (throwaway
# keys, this process only). Everything else still refuses to start without them.
OFFLINE_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "collectstatic", "spectacular", "help"}
# Set while re-executing under the checkout's venv, so a venv without Django
# fails with Django's own message instead of re-executing forever.
REEXEC_MARK = "STEWARD_MANAGE_REEXEC"


def use_the_checkouts_venv() -> None:
    """`python3 manage.py ...` as the README writes it, run by a Python that
    lacks Django (the system's): run again with the interpreter of the
    `.venv` that `make run` created beside this file."""
    try:
        import django  # noqa: F401
    except ImportError:
        venv_python = BASE_DIR / ".venv" / "bin" / "python"
        if venv_python.exists() and not os.environ.get(REEXEC_MARK):
            os.environ[REEXEC_MARK] = "1"
            os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
        sys.exit(f"Django is not installed for {sys.executable}: run `make run` first (it creates .venv).")


def use_the_dev_keys_of_make_run() -> None:
    """After `make run`, commands in the same checkout find its dev mode: with
    no SECRET_KEY set, no DEBUG set, and the dev key `make run` generated in
    the var folder, this process runs as `make run` does (DEBUG on, the same
    key, so the same encryption key for secrets). Production is untouched: it
    has no dev key file, and DEBUG=off or a SECRET_KEY set turns this off."""
    if os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE") or "DEBUG" in os.environ:
        return
    var_dir = Path(os.environ.get("STEWARD_VAR_DIR") or BASE_DIR / "var")
    if (var_dir / "secret_key").is_file():
        os.environ["DEBUG"] = "1"


def main():
    use_the_checkouts_venv()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if len(sys.argv) > 1 and sys.argv[1] in OFFLINE_COMMANDS:
        # Not beside a NAME_FILE: settings refuse a secret given both ways.
        if not os.environ.get("SECRET_KEY_FILE"):
            os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        if not os.environ.get("STEWARD_ENCRYPTION_KEY_FILE"):
            os.environ.setdefault("STEWARD_ENCRYPTION_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    else:
        use_the_dev_keys_of_make_run()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
