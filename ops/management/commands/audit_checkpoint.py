"""Sign the audit trail now, or every STEWARD_AUDIT_CHECKPOINT_SECONDS
(`--every`): the one process that reads the signing key. Not a worker's
agent thread like the sweep: runbooks share the workers' machines, and the
key must not be where a runbook could read it (docs/architecture.md)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from audit import checkpoints


class Command(BaseCommand):
    help = "Write a signed checkpoint of the audit trail (C2SP signed note) to STEWARD_AUDIT_CHECKPOINT_DIR."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=int,
            nargs="?",
            const=-1,
            metavar="SECONDS",
            help="keep going, one checkpoint each SECONDS while the trail grows "
            "(default STEWARD_AUDIT_CHECKPOINT_SECONDS); stops on SIGTERM or Ctrl-C",
        )

    def handle(self, *args, **options):
        every = options["every"]
        if every is None:
            if not self.once():
                raise SystemExit(1)
            return
        seconds = settings.STEWARD_AUDIT_CHECKPOINT_SECONDS if every == -1 else every
        if seconds < 1:
            raise CommandError("--every takes a number of seconds, at least 1")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.is_set():
            self.once()
            close_old_connections()
            stop.wait(seconds)

    def once(self) -> bool:
        try:
            checkpoint, written = checkpoints.write()
        except (checkpoints.CheckpointError, DatabaseError) as exc:
            # Said on every round until it is fixed; the loop goes on.
            self.stderr.write(f"no checkpoint: {exc}")
            return False
        verb = "wrote" if written else "unchanged since"
        self.stdout.write(f"{verb} {checkpoint.name}: {checkpoint.size} entries, root {checkpoint.root_base64}")
        self.stdout.flush()
        return True
