import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints


class Command(BaseCommand):
    help = (
        "Make the Ed25519 key pair that signs audit checkpoints: the private key (mode 0600, for "
        "STEWARD_AUDIT_SIGNING_KEY_FILE) and the public key that audit_verify --public-key reads."
    )

    def add_arguments(self, parser):
        parser.add_argument("private", help="where to write the private key (must not exist)")
        parser.add_argument("public", help="where to write the public (verifier) key (must not exist)")
        parser.add_argument("--name", help="the key's name (default: STEWARD_AUDIT_ORIGIN)")

    def handle(self, *args, **options):
        name = options["name"] or settings.STEWARD_AUDIT_ORIGIN
        try:
            private, public = checkpoints.generate(name)
        except checkpoints.CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        for path, text, mode in ((options["private"], private, 0o600), (options["public"], public, 0o644)):
            try:
                # O_EXCL: a key already there is never overwritten (its checkpoints would stop verifying).
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            except OSError as exc:
                raise CommandError(f"cannot create {path}: {exc}") from exc
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(text + "\n")
        self.stdout.write(f"key {name}: private {Path(options['private'])}, public {Path(options['public'])}")
        self.stdout.write(public)
