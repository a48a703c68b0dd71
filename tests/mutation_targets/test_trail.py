"""The audit trail as an auditor reads it: who an entry names, the export
an offline check takes, and what the chunked verification reports.

Written for the mutants `make mutate` found surviving in audit/trail.py.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from audit import trail
from audit.models import AuditEntry
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def append(n: int, actor=trail.SYSTEM, **change):
    for i in range(n):
        with transaction.atomic():
            trail.record(actor, trail.Change(change.get("action", "thing.done"), "thing", i, after={"i": i, "ö": "ü"}))


def test_a_person_is_named_by_username_and_a_source_by_slug():
    user = get_user_model().objects.create_user("alice")
    source, _ = make_source("am-audit")  # audited itself, as the system
    made = AuditEntry.objects.order_by("seq").last().seq
    append(1, trail.user_actor(user))
    append(1, trail.source_actor(source))
    assert trail.user_actor(user) == trail.Actor("user", "alice")
    assert trail.source_actor(source) == trail.Actor("source", "am-audit")
    assert list(AuditEntry.objects.filter(seq__gt=made).order_by("seq").values_list("actor_kind", "actor")) == [
        ("user", "alice"),
        ("source", "am-audit"),
    ]


def test_the_export_is_one_sorted_json_line_per_entry_oldest_first_and_checks_offline():
    append(5)
    lines = list(trail.export_lines(chunk_size=2))
    assert len(lines) == 5 and all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    # keys sorted, text kept as text (not \\u escapes), the hash included
    assert lines[0] == json.dumps(records[0], sort_keys=True, ensure_ascii=False) + "\n"
    assert '"ö": "ü"' in lines[0]
    assert records[-1]["hash"] == AuditEntry.objects.get(seq=5).hash
    assert trail.walk(records, head=(5, records[-1]["hash"])) == trail.Verification(True, 5)


def test_a_walk_in_small_chunks_checks_every_entry():
    append(7)
    assert trail.verify(chunk_size=2) == trail.Verification(True, 7)
    assert trail.verify(chunk_size=7) == trail.Verification(True, 7)
    assert trail.verify() == trail.Verification(True, 7)


def test_a_finished_walk_is_not_walked_again():
    append(2)
    progress = trail.step(trail.begin(), chunk_size=10)
    assert progress.done and progress.checked == 2
    assert trail.step(progress, chunk_size=10) is progress


def test_an_empty_trail_verifies():
    assert trail.verify() == trail.Verification(True, 0)


def test_an_export_with_something_else_than_an_entry_is_refused_in_words():
    assert trail.walk(["not a dict"]) == trail.Verification(False, 0, 1, "not an audit entry")


def test_a_reordered_export_names_the_missing_entry():
    append(3)
    records = [json.loads(line) for line in trail.export_lines()]
    result = trail.walk([records[0], records[2]])
    assert result == trail.Verification(False, 1, 2, "entry #2 is missing")


def test_an_export_cut_short_is_caught_by_the_head():
    append(3)
    records = [json.loads(line) for line in trail.export_lines()]
    head = (3, records[-1]["hash"])
    assert trail.walk(records[:2], head=head) == trail.Verification(
        False, 2, 3, "entries after the last one are missing"
    )
