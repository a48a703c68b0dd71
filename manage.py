#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import base64
import os
import secrets
import sys

# Commands that neither serve requests nor read a secret: they may run without
# the SECRET_KEY and STEWARD_ENCRYPTION_KEY production requires (throwaway
# keys, this process only). Everything else still refuses to start without them.
OFFLINE_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "collectstatic", "spectacular", "help"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if len(sys.argv) > 1 and sys.argv[1] in OFFLINE_COMMANDS:
        # Not beside a NAME_FILE: settings refuse a secret given both ways.
        if not os.environ.get("SECRET_KEY_FILE"):
            os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        if not os.environ.get("STEWARD_ENCRYPTION_KEY_FILE"):
            os.environ.setdefault("STEWARD_ENCRYPTION_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
