"""Create the owner and app roles of the database (audit/db_roles.py).

Role names and passwords come from DATABASE_OWNER_URL (the owner) and
DATABASE_URL (the app), so the SQL matches what the processes log in as.
"""

import dj_database_url
import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit import db_roles


class Command(BaseCommand):
    help = (
        "Print (--print-sql) or apply (--apply --admin-url URL) the SQL that creates the owner role "
        "(DATABASE_OWNER_URL) and the app role (DATABASE_URL), which may only SELECT and INSERT audit entries."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--print-sql",
            action="store_true",
            help="print the SQL for psql; passwords as :'owner_password' and :'app_password' (psql -v)",
        )
        mode.add_argument(
            "--apply", action="store_true", help="run it through --admin-url (a superuser), passwords from the URLs"
        )
        parser.add_argument("--admin-url", help="postgres://… of a superuser (with --apply)")

    def handle(self, *args, **options):
        if not db_roles.has_owner():
            raise CommandError("set DATABASE_OWNER_URL (the owner role) beside DATABASE_URL (the app role)")
        owner, app = settings.DATABASES[db_roles.OWNER_ALIAS], settings.DATABASES["default"]
        if "postgresql" not in app["ENGINE"] or "postgresql" not in owner["ENGINE"]:
            raise CommandError("database roles need PostgreSQL in DATABASE_URL and DATABASE_OWNER_URL")
        if app["NAME"] != owner["NAME"] or not app["USER"] or app["USER"] == owner["USER"]:
            raise CommandError("DATABASE_URL and DATABASE_OWNER_URL must name one database and two different users")
        try:
            if options["print_sql"]:
                statements = db_roles.create_roles_sql(owner["USER"], app["USER"], owner["NAME"], None, None)
                self.stdout.write(db_roles.as_text(statements), ending="")
                return
            if not options["admin_url"]:
                raise CommandError("--apply needs --admin-url postgres://superuser@host/database")
            statements = db_roles.create_roles_sql(
                owner["USER"], app["USER"], owner["NAME"], owner["PASSWORD"] or None, app["PASSWORD"] or None
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not owner["PASSWORD"] or not app["PASSWORD"]:
            raise CommandError("--apply needs a password in DATABASE_URL and in DATABASE_OWNER_URL")
        admin = dj_database_url.parse(options["admin_url"])
        try:
            with psycopg.connect(
                host=admin["HOST"] or None,
                port=admin["PORT"] or None,
                user=admin["USER"] or None,
                password=admin["PASSWORD"] or None,
                dbname=owner["NAME"],
                autocommit=True,
            ) as conn:
                for statement in statements:
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise CommandError(f"applying the roles failed: {exc}") from exc
        self.stdout.write(f"roles ready: owner {owner['USER']}, app {app['USER']} (audit entries SELECT and INSERT)")
