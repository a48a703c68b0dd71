"""Several statements in one round trip: `insert` for new rows of several
models, `query` for a few reads (and locks) in a row.

On PostgreSQL the inserts become one statement (`WITH a AS (INSERT ...),
b AS (INSERT ...) <last statement>`): a webhook's events, executions, dedup
entries and audit entries reach the database at once instead of one
`bulk_create` each, which matters while the request holds the audit chain's
head. Foreign keys are checked at commit (Django creates them DEFERRABLE
INITIALLY DEFERRED), so the order of the parts does not matter. Other
databases get one `bulk_create` per model, the same rows.

The SQL and its parameters come from Django's own insert compiler, so each
value is converted exactly as `bulk_create` would convert it.
"""

from django.db import connection
from django.db.models import AutoField
from django.db.models.sql import InsertQuery


def insert(parts, then: tuple[str, list] | None = None) -> None:
    """`parts`: (model, unsaved objects) pairs, inserted in that order;
    `then`: one more statement (SQL, params) to run with them."""
    parts = [(model, list(objs)) for model, objs in parts if objs]
    if connection.vendor != "postgresql":
        for model, objs in parts:
            model._default_manager.bulk_create(objs)
        if then:
            with connection.cursor() as cursor:
                cursor.execute(*then)
        return
    ctes, params = [], []
    for model, objs in parts:
        sql, values = _insert_sql(model, objs)
        ctes.append(f"w{len(ctes)} AS ({sql})")
        params += values
    last, last_params = then or ("SELECT 1", [])
    if ctes:
        last, params = f"WITH {', '.join(ctes)} {last}", params + list(last_params)
    else:
        params = list(last_params)
    with connection.cursor() as cursor:
        cursor.execute(last, params)
    for _, objs in parts:
        for obj in objs:
            obj._state.adding, obj._state.db = False, connection.alias


def _insert_sql(model, objs) -> tuple[str, list]:
    """What `bulk_create(objs)` would send, without RETURNING."""
    opts = model._meta
    for obj in objs:
        if not obj._is_pk_set():
            obj.pk = opts.pk.get_pk_value_on_save(obj)
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    fields = [f for f in opts.concrete_fields if not f.generated]
    if any(not obj._is_pk_set() for obj in objs):
        # An auto-incremented key: the database numbers the rows.
        if not all(not obj._is_pk_set() for obj in objs):
            raise ValueError("batch.insert: give every object of a model a primary key, or none")
        fields = [f for f in fields if not isinstance(f, AutoField)]
    query = InsertQuery(model)
    query.insert_values(fields, objs, raw=False)
    [(sql, values)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(values)


def query(statements) -> list[list[tuple]]:
    """Run `statements`, (SQL, params) pairs, in order, and return the rows
    of each. On PostgreSQL with client-side binding (Django's default) they
    go as one multi-statement query: one round trip, each statement still
    with its own snapshot, so a read after a lock sees what the lock's
    previous holder committed."""
    statements = list(statements)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or connection.settings_dict["OPTIONS"].get("server_side_binding"):
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
            return results
        sql = "; ".join(sql for sql, _ in statements)
        cursor.execute(sql, [p for _, params in statements for p in params])
        results = [cursor.fetchall()]
        while cursor.nextset():
            results.append(cursor.fetchall())
        return results
