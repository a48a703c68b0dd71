"""`migrate` as the owner role when DATABASE_OWNER_URL is set, then the app
role's grants (audit/db_roles.py). Without it, Django's migrate as it is."""

from django.core.management.commands import migrate

from audit import db_roles


class Command(migrate.Command):
    def handle(self, *args, **options):
        if not db_roles.has_owner() or options["database"] != "default":
            return super().handle(*args, **options)
        options["database"] = db_roles.OWNER_ALIAS
        with db_roles.as_owner():
            super().handle(*args, **options)
            app = db_roles.grant_app_role()
        if app and options["verbosity"] >= 1:
            self.stdout.write(f"Granted the app role {app}: audit entries SELECT and INSERT only.")
