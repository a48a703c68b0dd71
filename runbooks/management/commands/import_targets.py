"""manage.py import_targets FILE: create or update targets from a YAML/JSON
list, or a Prometheus file_sd file (`targets` + `labels`), all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import trail
from core.errors import Refused
from runbooks import targets


class Command(BaseCommand):
    help = "Import targets (YAML/JSON list, or Prometheus file_sd) for ssh runbooks."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        try:
            text = Path(options["file"]).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from None
        try:
            created, updated = targets.import_inventory(targets.parse_inventory(text), trail.SYSTEM)
        except Refused as exc:
            problems = "; ".join(f"{field}: {message}" if field else message for field, message in exc.problems)
            raise CommandError(f"nothing imported: {problems}") from None
        self.stdout.write(f"{created} created, {updated} updated")
