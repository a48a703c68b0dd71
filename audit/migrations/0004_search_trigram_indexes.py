"""Trigram indexes for the list's free-text search (`?q=`), on PostgreSQL
only (SQLite has no such index; its lists are small).

Django's `icontains` is `UPPER(col::text) LIKE UPPER('%text%')`, so each
index is on that very expression with `gin_trgm_ops`: a search of three
characters or more reads the index, not every row. pg_trgm is a trusted
extension: the database's owner may create it without being a superuser.
Built CONCURRENTLY (hence not atomic) so that writes go on meanwhile.
"""

from django.db import migrations

INDEXES = {
    "audit_auditentry_actor_trgm": ("audit_auditentry", "actor"),
    "audit_auditentry_object_id_trgm": ("audit_auditentry", "object_id"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        expression = f'(UPPER("{column}"::text)) gin_trgm_ops'
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0003_list_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
