from django.core.management.base import BaseCommand

from audit import trail


class Command(BaseCommand):
    help = "Walk the audit chain: exit 0 and 'ok N entries' when intact, else exit 1."

    def handle(self, *args, **options):
        result = trail.verify()
        if result.ok:
            self.stdout.write(f"ok {result.count} entries")
            return
        self.stderr.write(f"broken at entry #{result.broken_seq}: {result.problem}")
        raise SystemExit(1)
