"""`manage.py import_runbooks DIR`: create or update the runbooks of DIR
(one folder per runbook, see runbooks/manifest.py). All or nothing: any
invalid folder stops the import before anything is written."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import trail
from runbooks import manifest


class Command(BaseCommand):
    help = "Import runbooks from DIR: one folder per runbook with a runbook.yaml and its script."

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="check every folder and print what would change; write nothing"
        )

    def handle(self, *args, **options):
        try:
            entries = manifest.read(options["dir"])
        except manifest.ManifestError as exc:
            problems = "\n".join(f"  {p}" for p in exc.problems)
            raise CommandError(f"nothing imported: {len(exc.problems)} problem(s)\n{problems}") from None
        if options["dry_run"]:
            # The same decisions the import makes (manifest.planned), written nowhere.
            report = manifest.plan(entries)
            for slug, what in report:
                self.stdout.write(f"{slug}: {what}")
            changing = sum(1 for _, what in report if what != "unchanged")
            self.stdout.write(f"dry run: {len(report)} runbook(s) valid, {changing} would change; nothing written")
            return
        try:
            report = manifest.import_entries(entries, trail.Actor("system", "import_runbooks"))
        except manifest.ManifestError as exc:
            problems = "\n".join(f"  {p}" for p in exc.problems)
            raise CommandError(f"nothing imported: {len(exc.problems)} problem(s)\n{problems}") from None
        for slug, what in report:
            self.stdout.write(f"{slug}: {what}")
        changed = sum(1 for _, what in report if what != "unchanged")
        self.stdout.write(f"imported {len(report)} runbook(s), {changed} changed")
