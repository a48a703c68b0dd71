"""Append entries to the audit chain and verify it.

Call `record()` inside the transaction that makes the change, so the change
and its audit entry commit together or not at all.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from audit.models import AuditEntry, ChainHead
from core import batch
from core.clients import client_address

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    kind: str  # user, token, source, system
    name: str


SYSTEM = Actor("system", "steward")


def user_actor(user) -> Actor:
    return Actor("user", user.get_username())


def source_actor(source) -> Actor:
    return Actor("source", source.slug)


@dataclass
class Change:
    action: str
    object_type: str
    object_id: Any
    before: Any = None
    after: Any = None


@dataclass
class RequestInfo:
    request_id: str = ""
    client_ip: str | None = None


def _jsonable(value):
    """What a JSONField gives back after a round trip, so hashes recompute."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def hashed_fields(entry: AuditEntry) -> dict:
    """What an entry's hash covers; also one line of an export."""
    return {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor_kind": entry.actor_kind,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "prev_hash": entry.prev_hash,
    }


def hash_of(fields: dict) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of `fields`."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def entry_hash(entry: AuditEntry) -> str:
    return hash_of(hashed_fields(entry))


def request_info(request) -> RequestInfo:
    if request is None:
        return RequestInfo()
    return RequestInfo(
        request_id=request.headers.get("X-Request-Id", "")[:64],
        client_ip=client_address(request) or None,
    )


def record(actor: Actor, *changes: Change, request=None) -> None:
    record_many(actor, changes, request=request)


def record_many(actor: Actor, changes: Iterable[Change], request=None, rows=(), head=None) -> None:
    """Append the changes to the chain. `rows`, (model, unsaved objects)
    pairs, are inserted in the same round trip as the entries (the change
    they record), so the chain's head stays locked as briefly as possible.
    `head`: the rows of `lock_head()` when the caller already ran it in this
    transaction (with other statements, in one round trip)."""
    changes = list(changes)
    if not changes:
        batch.insert(rows)
        return
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must run inside the transaction that makes the change")
    info = request_info(request)
    # Everything that needs no head is built before the head is locked.
    now = timezone.now()
    entries = [
        AuditEntry(
            at=now,
            actor_kind=actor.kind,
            actor=actor.name[:150],
            action=change.action,
            object_type=change.object_type,
            object_id=str(change.object_id),
            before=_jsonable(change.before),
            after=_jsonable(change.after),
            request_id=info.request_id,
            client_ip=info.client_ip,
        )
        for change in changes
    ]
    seq, last_hash = _locked_head(head)
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, last_hash
        entry.hash = last_hash = entry_hash(entry)
    head = (f"UPDATE {ChainHead._meta.db_table} SET seq = %s, hash = %s WHERE id = 1", [seq, last_hash])
    batch.insert([*rows, (AuditEntry, entries)], then=head)


def lock_head() -> tuple[str, list]:
    """The statement that reads the head and locks it until the transaction
    ends (SQLite has no row locks: its transactions hold the write lock from BEGIN)."""
    lock = "" if connection.vendor == "sqlite" else " FOR UPDATE"
    return f"SELECT seq, hash FROM {ChainHead._meta.db_table} WHERE id = 1{lock}", []


def _locked_head(rows=None) -> tuple[int, str]:
    """The head's (seq, hash), locked."""
    if rows is None:
        [rows] = batch.query([lock_head()])
    if not rows:
        # The migration creates the head; this keeps a flushed test database working too.
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        return head.seq, head.hash
    return rows[0]


@dataclass
class Verification:
    ok: bool
    count: int
    broken_seq: int | None = None
    problem: str = ""


@dataclass
class Progress:
    """Where a walk of the chain in the database stands. It covers the
    entries up to the head as it was when the walk began (`head_seq`,
    `head_hash`); entries appended meanwhile wait for the next walk."""

    head_seq: int
    head_hash: str
    checked: int = 0  # entries 1..checked link and match their hashes
    last_hash: str = GENESIS  # the hash of entry #checked
    broken_seq: int | None = None
    problem: str = ""

    @property
    def done(self) -> bool:
        return self.broken_seq is not None or self.checked >= self.head_seq

    def verification(self) -> Verification:
        return Verification(self.broken_seq is None, self.checked, self.broken_seq, self.problem)


def begin() -> Progress:
    """A walk of the chain up to its head now."""
    # The last entry before the head: entries past the head mean the head
    # was moved back (read first, so a concurrent append, which moves both
    # in one transaction, can only make the head look further ahead).
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    head = ChainHead.objects.filter(pk=1).first() or ChainHead(pk=1)
    progress = Progress(head.seq, head.hash)
    if last > head.seq:
        progress.broken_seq, progress.problem = head.seq + 1, "entries after the head of the chain"
    return progress


def step(progress: Progress, chunk_size: int = 2000) -> Progress:
    """Check the next `chunk_size` entries (one short query, no transaction
    held open between chunks) and return where the walk stands."""
    if progress.done:
        return progress
    end = min(progress.head_seq, progress.checked + chunk_size)
    entries = AuditEntry.objects.filter(seq__gt=progress.checked, seq__lte=end).order_by("seq")
    records = [{**hashed_fields(e), "hash": e.hash} for e in entries]
    result = walk(records, expected_seq=progress.checked + 1, expected_prev=progress.last_hash)
    checked = progress.checked + result.count
    last_hash = records[result.count - 1]["hash"] if result.count else progress.last_hash
    new = Progress(progress.head_seq, progress.head_hash, checked, last_hash)
    if not result.ok:
        new.broken_seq, new.problem = result.broken_seq, result.problem
    elif checked < end:  # the entries ran out before the head's
        later = AuditEntry.objects.filter(seq__gt=end, seq__lte=progress.head_seq).exists()
        new.broken_seq = checked + 1
        new.problem = f"entry #{checked + 1} is missing" if later else "entries after the last one are missing"
    elif checked == progress.head_seq and last_hash != progress.head_hash:
        new.broken_seq, new.problem = checked + 1, "entries after the last one are missing"
    return new


def verify(chunk_size: int = 2000) -> Verification:
    """Walk the whole chain in the database, chunk by chunk; report the
    first broken entry."""
    progress = begin()
    while not progress.done:
        progress = step(progress, chunk_size)
    return progress.verification()


def walk(
    records, head: tuple[int, str] | None = None, expected_seq: int = 1, expected_prev: str = GENESIS
) -> Verification:
    """Check a sequence of exported entries (dicts with the hashed fields and
    "hash"): numbered from `expected_seq` (1) without a gap, each linking to
    the one before, each hash matching its content. `head`, when known, is
    the last entry's (seq, hash) as the database records it, which catches
    removed last entries. `count` is how many records passed."""
    count = 0
    for record in records:
        if not isinstance(record, dict):
            return Verification(False, count, expected_seq, "not an audit entry")
        seq = record.get("seq")
        if seq != expected_seq:
            return Verification(False, count, expected_seq, f"entry #{expected_seq} is missing")
        if record.get("prev_hash") != expected_prev:
            return Verification(False, count, seq, "does not link to the previous entry")
        fields = {k: v for k, v in record.items() if k != "hash"}
        if hash_of(fields) != record.get("hash"):
            return Verification(False, count, seq, "content does not match its hash")
        expected_prev, expected_seq, count = record["hash"], expected_seq + 1, count + 1
    if head is not None and (head[0] != expected_seq - 1 or head[1] != expected_prev):
        return Verification(False, count, expected_seq, "entries after the last one are missing")
    return Verification(True, count)


def export_lines(chunk_size: int = 2000):
    """The whole trail as JSON lines, oldest first: `audit_verify --file`
    checks such a file without the database."""
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk_size):
        yield json.dumps({**hashed_fields(entry), "hash": entry.hash}, sort_keys=True, ensure_ascii=False) + "\n"
