"""Two PostgreSQL roles, so the audit trail holds against the app itself.

The owner role owns every table and runs the migrations; the app role (web,
worker, beat) owns nothing. It may read and write the other tables, but the
audit entries only SELECT and INSERT: PostgreSQL refuses its UPDATE, DELETE
and TRUNCATE by privilege, before any trigger runs, and a role that owns no
table cannot disable, drop or replace the trigger either. No setting the app
can SET turns that off (the test-only `steward.allow_truncate` counts only
for the tables' owner, see migration 0006).

`DATABASE_OWNER_URL` names the owner; `manage.py migrate` then connects as
the owner (OwnerRouter sends every query there while it runs) and grants the
app role its privileges afterwards. `manage.py db_roles` prints or applies
the SQL that creates both roles.
"""

import contextlib
import re

from django.conf import settings
from django.db import connections
from psycopg import sql

OWNER_ALIAS = "owner"
# Tables the app role may only read and append to. A migration that adds
# another append-only table adds it here (the grants after migrate revoke).
APPEND_ONLY_TABLES = ("audit_auditentry",)
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_as_owner = False


class OwnerRouter:
    """While `migrate` runs as the owner, every query goes there, RunPython
    steps included (they write with the default manager)."""

    def db_for_read(self, model, **hints):
        return OWNER_ALIAS if _as_owner else None

    db_for_write = db_for_read


@contextlib.contextmanager
def as_owner():
    global _as_owner
    previous, _as_owner = _as_owner, True
    try:
        yield
    finally:
        _as_owner = previous


def has_owner() -> bool:
    return OWNER_ALIAS in settings.DATABASES


def role_name(name: str) -> str:
    if not ROLE_NAME.match(name or ""):
        raise ValueError(f"{name!r} is not a role name Steward uses (lower-case letters, digits, _)")
    return name


def _q(statement: str, **parts) -> sql.Composed:
    return sql.SQL(statement).format(**parts)


def grant_sql(owner: str, app: str, database: str) -> list[sql.Composable]:
    """What the app role may do, as the owner grants it; idempotent, run
    after every migrate. Default privileges cover tables that later
    migrations create; the append-only tables lose UPDATE and DELETE."""
    o, a = sql.Identifier(role_name(owner)), sql.Identifier(role_name(app))
    statements = [
        _q("GRANT CONNECT ON DATABASE {db} TO {a}", db=sql.Identifier(database), a=a),
        _q("GRANT USAGE ON SCHEMA public TO {a}", a=a),
        _q("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {a}", a=a),
        _q("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {a}", a=a),
        _q(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}",
            o=o,
            a=a,
        ),
        _q("ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {a}", o=o, a=a),
    ]
    for table in APPEND_ONLY_TABLES:
        # Before the first migrate the table is not there yet; migrate runs this again.
        statements.append(
            _q(
                "DO $$ BEGIN IF to_regclass({name}) IS NOT NULL THEN "
                "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {t} FROM {a}; END IF; END $$",
                name=sql.Literal(f"public.{table}"),
                t=sql.Identifier(table),
                a=a,
            )
        )
    return statements


def create_roles_sql(
    owner: str, app: str, database: str, owner_password: str | None, app_password: str | None
) -> list[sql.Composable]:
    """What a superuser runs once (again is harmless): both roles, the
    database and its tables handed to the owner, then the app's grants.
    A password of None becomes a psql variable (`:'owner_password'`)."""
    role_name(owner), role_name(app)
    o, db = sql.Identifier(owner), sql.Identifier(database)

    def password(value, variable):
        return sql.Literal(value) if value is not None else sql.SQL(f":'{variable}'")

    statements = []
    for name, value, variable in ((owner, owner_password, "owner_password"), (app, app_password, "app_password")):
        role = sql.Identifier(name)
        # CREATE ROLE has no IF NOT EXISTS; creating then altering keeps it idempotent.
        statements.append(
            _q(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {n}) "
                "THEN CREATE ROLE {r}; END IF; END $$",
                n=sql.Literal(name),
                r=role,
            )
        )
        statements.append(
            _q(
                "ALTER ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {p}",
                r=role,
                p=password(value, variable),
            )
        )
    statements += [
        _q("ALTER DATABASE {db} OWNER TO {o}", db=db, o=o),
        _q("GRANT USAGE, CREATE ON SCHEMA public TO {o}", o=o),
        # The app role creates nothing: were it to own a table, it could
        # write there whatever it liked (PostgreSQL < 15 lets PUBLIC create).
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
        # Tables an earlier single-role deployment created belong to the owner now.
        _q(
            "DO $$ DECLARE t record; BEGIN "
            "FOR t IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
            "AND pg_get_userbyid(c.relowner) <> {n} LOOP "
            "EXECUTE format('ALTER %s %I OWNER TO %I', "
            "CASE t.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' "
            "ELSE 'TABLE' END, t.relname, {n}); "
            "END LOOP; END $$",
            n=sql.Literal(owner),
        ),
    ]
    return statements + grant_sql(owner, app, database)


def as_text(statements) -> str:
    return "".join(s.as_string(None) + ";\n" for s in statements)


def app_role_of(owner_alias: str = OWNER_ALIAS) -> tuple[str, str, str] | None:
    """(owner, app, database) when the app connects as a role of its own."""
    if not has_owner():
        return None
    app, owner = settings.DATABASES["default"], settings.DATABASES[owner_alias]
    if app["ENGINE"] != owner["ENGINE"] or "postgresql" not in app["ENGINE"]:
        return None
    if not app.get("USER") or app.get("USER") == owner.get("USER"):
        return None
    return owner["USER"], app["USER"], owner["NAME"]


def grant_app_role() -> str | None:
    """Run the grants as the owner; return the app role's name, or None
    when there is no separate app role."""
    roles = app_role_of()
    if roles is None:
        return None
    owner, app, database = roles
    with connections[OWNER_ALIAS].cursor() as cursor:
        for statement in grant_sql(owner, app, database):
            cursor.execute(statement.as_string(None))
    return app
