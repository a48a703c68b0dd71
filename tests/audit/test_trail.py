"""The audit trail: appended with every change, chained, refusing edits."""

import itertools

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit import trail
from audit.models import AppendOnlyError, AuditEntry
from tests.factories import make_runbook
from tests.services import require_postgresql

pytestmark = pytest.mark.django_db


def append(n):
    with transaction.atomic():
        trail.record_many(
            trail.SYSTEM, [trail.Change("thing.done", "thing", i, after={"i": i, "ü": "ß"}) for i in range(n)]
        )


def test_entries_chain_and_verify(capsys):
    append(5)
    make_runbook()
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    call_command("audit_verify")
    assert capsys.readouterr().out.strip() == f"ok {len(entries)} entries"


def test_the_app_cannot_update_or_delete_an_entry():
    append(1)
    entry = AuditEntry.objects.get()
    entry.action = "forged"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError):
        trail.record(trail.SYSTEM, trail.Change("x", "y", 1))


def _tamper(sql, params):
    """Change the table behind the app's back, as an attacker with SQL would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_no_update_delete")


def test_audit_verify_names_the_first_changed_entry(capsys):
    append(6)
    _tamper("UPDATE audit_auditentry SET action = %s WHERE seq = %s", ["forged", 4])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify")
    assert exit_info.value.code == 1
    assert "#4" in capsys.readouterr().err


def test_audit_verify_notices_a_removed_entry(capsys):
    append(6)
    _tamper("DELETE FROM audit_auditentry WHERE seq = %s", [3])
    result = trail.verify()
    assert not result.ok and result.broken_seq == 3


def test_audit_verify_notices_removed_last_entries():
    append(4)
    _tamper("DELETE FROM audit_auditentry WHERE seq = %s", [4])
    result = trail.verify()
    assert not result.ok and result.broken_seq == 4


def test_postgresql_refuses_update_and_delete_even_with_raw_sql():
    require_postgresql()
    append(2)
    from django.db import DatabaseError

    for sql in ("UPDATE audit_auditentry SET action = 'forged'", "DELETE FROM audit_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.filter(action="thing.done").count() == 2


def test_postgresql_refuses_truncate_without_the_test_only_setting():
    require_postgresql()
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL steward.allow_truncate = off")
        cursor.execute("TRUNCATE audit_auditentry")
