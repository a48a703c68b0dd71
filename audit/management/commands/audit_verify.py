import json

from django.core.management.base import BaseCommand

from audit import trail


class Command(BaseCommand):
    help = "Walk the audit chain: exit 0 and 'ok N entries' when intact, else exit 1 naming the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", help="verify an export (JSON lines from /api/v1/audit/export/) instead of the database"
        )

    def handle(self, *args, **options):
        result = self._verify_file(options["file"]) if options["file"] else trail.verify()
        if result.ok:
            self.stdout.write(f"ok {result.count} entries")
            return
        self.stderr.write(f"broken at entry #{result.broken_seq}: {result.problem}")
        raise SystemExit(1)

    def _verify_file(self, path):
        with open(path, encoding="utf-8") as f:
            try:
                return trail.walk(json.loads(line) for line in f if line.strip())
            except json.JSONDecodeError as exc:
                return trail.Verification(False, 0, None, f"not JSON lines: {exc}")
