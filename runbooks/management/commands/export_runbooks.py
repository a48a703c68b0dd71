"""`manage.py export_runbooks DIR [SLUG...]`: write each runbook (its
current version) as DIR/<slug>/runbook.yaml plus its script, the form
import_runbooks reads back."""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from runbooks import manifest
from runbooks.models import Runbook


class Command(BaseCommand):
    help = "Export runbooks to DIR, one folder per runbook (runbook.yaml and the script)."

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path)
        parser.add_argument("slugs", nargs="*", help="only these runbooks (default: all)")

    def handle(self, *args, **options):
        runbooks = Runbook.objects.select_related("current_version").filter(current_version__isnull=False)
        if options["slugs"]:
            runbooks = runbooks.filter(slug__in=options["slugs"])
            missing = set(options["slugs"]) - {r.slug for r in runbooks}
            if missing:
                raise CommandError(f"no such runbook: {', '.join(sorted(missing))}")
        root = options["dir"]
        if root.exists() and not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        ours = [
            Path(app.path).resolve() for app in apps.get_app_configs() if settings.BASE_DIR in Path(app.path).parents
        ]
        refusal = manifest.export_refusal(root, ours)
        if refusal:
            raise CommandError(f"nothing exported: {refusal}")
        count = 0
        for runbook in runbooks.order_by("slug"):
            folder = manifest.export(runbook, root)
            self.stdout.write(f"{runbook.slug}: {folder}")
            count += 1
        self.stdout.write(f"exported {count} runbook(s) to {root}")
