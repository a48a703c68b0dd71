"""An entry's hash covers every one of its fields but the hash itself: a
change to any field, made where the app cannot see it, changes the hash, so
`audit_verify` names the entry. A field added to the model later fails the
first test until the hash covers it (or the test says why it may not)."""

import copy
import ipaddress
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from audit import trail
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db

# Changed in memory, one at a time, to a value it never had.
CHANGED = {
    "seq": lambda v: v + 1000,
    "at": lambda v: v + timedelta(microseconds=1),
    "actor_kind": lambda v: v + "x",
    "actor": lambda v: v + "x",
    "action": lambda v: v + "x",
    "object_type": lambda v: v + "x",
    "object_id": lambda v: v + "x",
    "before": lambda v: {**(v or {}), "added": 1},
    "after": lambda v: {**(v or {}), "added": 1},
    "request_id": lambda v: v + "x",
    "client_ip": lambda v: str(ipaddress.ip_address(v) + 1),
    "prev_hash": lambda v: "f" * 64 if v != "f" * 64 else "e" * 64,
}


@pytest.fixture
def entry():
    with transaction.atomic():
        trail.record_many(trail.SYSTEM, [trail.Change("thing.done", "thing", 1, before={"a": 1}, after={"a": 2})])
    entry = AuditEntry.objects.order_by("-seq").first()
    entry.request_id, entry.client_ip = "req-1", "192.0.2.7"  # fields a system entry leaves empty
    return entry


def test_the_hash_covers_every_field_of_the_model_but_itself():
    fields = {f.attname for f in AuditEntry._meta.concrete_fields} - {"hash"}
    assert fields == set(CHANGED), "a new audit field: cover it in the hash and in CHANGED"
    assert set(trail.hashed_fields(AuditEntry(seq=1, at=timezone.now(), prev_hash="0" * 64))) == fields


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_changing_any_one_field_changes_the_hash(entry, field):
    original = trail.entry_hash(entry)
    changed = copy.copy(entry)
    setattr(changed, field, CHANGED[field](getattr(entry, field)))
    assert getattr(changed, field) != getattr(entry, field)
    assert trail.entry_hash(changed) != original, f"the hash leaves out {field}"


def test_the_stored_hash_is_the_recomputed_one(entry):
    stored = AuditEntry.objects.get(seq=entry.seq)
    assert stored.hash == trail.entry_hash(stored)
