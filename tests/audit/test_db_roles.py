"""The app's own database role cannot change the audit trail: PostgreSQL
refuses it, whatever SQL it sends or setting it sets. The test makes an app
role the way `manage.py db_roles` does (the test connection is the owner of
the test database's tables), logs in as it and tries."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from psycopg import errors

from audit import db_roles, trail
from audit.models import AuditEntry
from tests.services import require_postgresql

ROOT = Path(__file__).resolve().parents[2]


def append(n):
    with transaction.atomic():
        trail.record_many(trail.SYSTEM, [trail.Change("thing.done", "thing", i) for i in range(n)])


@pytest.fixture
def app_role(transactional_db):
    """A fresh login role with the app's grants; dropped afterwards (roles
    belong to the whole server, which other test runs share)."""
    require_postgresql()
    name, password = f"steward_app_test_{secrets.token_hex(4)}", secrets.token_hex(16)
    owner = connection.settings_dict["USER"] or connection.cursor().connection.info.user
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s', [password])
        for statement in db_roles.grant_sql(owner, name, database):
            cursor.execute(statement.as_string(None))
    try:
        yield name, password
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public REVOKE ALL ON TABLES FROM "{name}"'
            )
            cursor.execute(
                f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public REVOKE ALL ON SEQUENCES FROM "{name}"'
            )
            cursor.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{name}"')
            cursor.execute(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{name}"')
            cursor.execute(f'REVOKE ALL ON SCHEMA public FROM "{name}"')
            cursor.execute(f'REVOKE ALL ON DATABASE "{database}" FROM "{name}"')
            cursor.execute(f'DROP ROLE "{name}"')


def connect_as(role):
    name, password = role
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, dbname=s["NAME"], user=name, password=password
    )


REFUSED = [
    "UPDATE audit_auditentry SET action = 'forged'",
    "DELETE FROM audit_auditentry",
    "TRUNCATE audit_auditentry",
    # The test settings' escape: any role may SET it; it helps none but the owner.
    ("SET steward.allow_truncate = on", "TRUNCATE audit_auditentry"),
    "ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete",
    "ALTER TABLE audit_auditentry DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_entry_no_update_delete ON audit_auditentry",
    "CREATE OR REPLACE FUNCTION steward_audit_append_only() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ "
    "LANGUAGE plpgsql",
    "ALTER TABLE audit_auditentry OWNER TO CURRENT_USER",
    "CREATE TABLE public.steward_app_owned (x int)",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_postgresql_refuses_the_app_role_changing_the_audit_trail(app_role, statement):
    append(3)
    with connect_as(app_role) as conn, pytest.raises(errors.InsufficientPrivilege):
        for part in (statement,) if isinstance(statement, str) else statement:
            conn.execute(part)
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["thing.done"] * 3
    assert trail.verify().ok


def test_the_app_role_appends_through_the_trail_and_verifies(app_role):
    """As the app role, in a process of its own with production settings:
    an entry goes in through trail.record() and the chain verifies."""
    append(2)
    name, password = app_role
    s = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{name}:{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        "SECRET_KEY": "test-only",
        "STEWARD_ENCRYPTION_KEY": "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA=",
    }
    env.pop("DATABASE_OWNER_URL", None)
    script = (
        "import django; django.setup()\n"
        "from django.db import connection, transaction\n"
        "from audit import trail\n"
        "with transaction.atomic():\n"
        "    trail.record(trail.SYSTEM, trail.Change('thing.appended', 'thing', 1))\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SELECT current_user')\n"
        "    print(c.fetchone()[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [name]
    verify = subprocess.run(
        [sys.executable, "manage.py", "audit_verify"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.strip() == "ok 3 entries"
    assert AuditEntry.objects.order_by("-seq").values_list("action", flat=True).first() == "thing.appended"


def test_the_owner_still_empties_tables_for_the_tests(transactional_db):
    """pytest-django's flush relies on the escape; it must keep working for
    the tables' owner (the test connection)."""
    require_postgresql()
    append(1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL steward.allow_truncate = on")
        cursor.execute("TRUNCATE audit_auditentry")
    assert not AuditEntry.objects.exists()


def test_db_roles_sql_revokes_changes_to_audit_entries():
    out = db_roles.as_text(db_roles.create_roles_sql("steward_owner", "steward_app", "steward", None, None))
    assert "PASSWORD :'app_password'" in out and "PASSWORD :'owner_password'" in out
    assert 'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "audit_auditentry" FROM "steward_app"' in out
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "steward_owner"' in out
    with pytest.raises(ValueError):
        db_roles.create_roles_sql("steward_owner", 'x"; DROP', "steward", None, None)


def test_db_roles_without_an_owner_url_says_what_to_set():
    with pytest.raises(CommandError, match="DATABASE_OWNER_URL"):
        call_command("db_roles", "--print-sql")
