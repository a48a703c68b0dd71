"""Signed checkpoints of the audit trail, kept outside the database.

A checkpoint is a C2SP signed note (c2sp.org/signed-note, c2sp.org/
tlog-checkpoint): the origin line, the tree size in decimal, the base64
Merkle root (audit/merkle.py) over the first `size` entries, a blank line
and a signature line `— <key name> <base64(key id || Ed25519 signature)>`.
The key id is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 ||
public key). The signing key lives in a file only the signer reads
(STEWARD_AUDIT_SIGNING_KEY_FILE); the notes go to a folder the database's
administrators cannot write (STEWARD_AUDIT_CHECKPOINT_DIR), and to a witness
when one is set. A superuser who rewrites the chain with fresh hashes, cuts
its tail or restores an old backup cannot make the trail match the last
checkpoint again: `audit_verify --checkpoints DIR --public-key FILE`.

Keys use the note formats of Go's golang.org/x/mod/sumdb/note:
`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` and the verifier key
`<name>+<hex id>+<base64(0x01 || public key)>`.
"""

import base64
import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from audit import merkle, trail
from audit.models import AuditEntry, ChainHead

log = logging.getLogger(__name__)

ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that starts a signature line
KEY_NAME = re.compile(r"^[^\s+\u2014]+$")
FILE_NAME = re.compile(r"^checkpoint-(\d{8}T\d{12}Z)-(\d+)\.txt$")
MAX_NOTE_BYTES = 8192


class CheckpointError(Exception):
    """A checkpoint could not be written, read or trusted; says which and why."""


# --- keys -------------------------------------------------------------------


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Signer:
    name: str
    key: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return _raw_public(self.key.public_key())

    def verifier(self) -> "Verifier":
        return Verifier(self.name, self.public)


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    def text(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(ED25519 + self.public).decode()}"


def generate(name: str) -> tuple[str, str]:
    """A new key pair as (private key text, verifier key text)."""
    if not KEY_NAME.match(name):
        raise CheckpointError(f"{name!r} cannot name a key (no spaces, '+' or dashes)")
    signer = Signer(name, Ed25519PrivateKey.generate())
    seed = signer.key.private_bytes_raw()
    private = f"PRIVATE+KEY+{name}+{signer.verifier().id.hex()}+{base64.b64encode(ED25519 + seed).decode()}"
    return private, signer.verifier().text()


def _decode_key(text: str, prefix: str) -> tuple[str, bytes, str]:
    text = text.strip()
    if not text.startswith(prefix):
        raise CheckpointError("not a note key")
    # Split from the left only: base64 has '+' of its own.
    fields = text[len(prefix) :].split("+", 2)
    if len(fields) != 3:
        raise CheckpointError("not a note key")
    name, hex_id, encoded = fields
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise CheckpointError("not a note key: bad base64") from None
    if len(raw) != 33 or raw[:1] != ED25519:
        raise CheckpointError("not an Ed25519 note key")
    return name, raw[1:], hex_id


def load_signer(path) -> Signer:
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read the signing key {path}: {exc}") from None
    name, seed, hex_id = _decode_key(text, "PRIVATE+KEY+")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
    if signer.verifier().id.hex() != hex_id:
        raise CheckpointError(f"the signing key {path} does not match its key id")
    return signer


def load_verifier(path) -> Verifier:
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read the public key {path}: {exc}") from None
    name, public, hex_id = _decode_key(text, "")
    verifier = Verifier(name, public)
    if verifier.id.hex() != hex_id:
        raise CheckpointError(f"the public key {path} does not match its key id")
    return verifier


# --- notes ------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str
    name: str = ""  # its file's name

    @property
    def root_base64(self) -> str:
        return base64.b64encode(self.root).decode()

    @property
    def written_at(self) -> datetime | None:
        match = FILE_NAME.match(self.name)
        return datetime.strptime(match[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC) if match else None


def body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign(text: str, signer: Signer) -> str:
    signature = signer.key.sign(text.encode())
    line = base64.b64encode(key_id(signer.name, signer.public) + signature).decode()
    return f"{text}\n{DASH} {signer.name} {line}\n"


def parse(note: str, verifier: Verifier | None = None, name: str = "") -> Checkpoint:
    """A checkpoint from its note. With a verifier, one of the signature
    lines must be that key's and verify; without, it is only read (to show)."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not text:
        raise CheckpointError(f"{name or 'checkpoint'}: not a signed note")
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) < 3 or not lines[1].isdigit():
        raise CheckpointError(f"{name or 'checkpoint'}: not a checkpoint (origin, size, root)")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        root = b""
    if len(root) != 32:
        raise CheckpointError(f"{name or 'checkpoint'}: the root hash is not 32 bytes of base64")
    checkpoint = Checkpoint(lines[0], int(lines[1]), root, note, name)
    if verifier is None:
        return checkpoint
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != verifier.name:
            continue
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if raw[:4] != verifier.id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError(f"{name or 'checkpoint'}: the signature of {verifier.name} does not verify") from None
        return checkpoint
    raise CheckpointError(f"{name or 'checkpoint'}: no signature by {verifier.name}")


# --- the folder -------------------------------------------------------------


def read_dir(folder, verifier: Verifier | None = None) -> list[Checkpoint]:
    """The folder's checkpoints, oldest first (their names sort by time)."""
    try:
        names = sorted(n for n in os.listdir(folder) if FILE_NAME.match(n))
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint folder {folder}: {exc}") from None
    found = []
    for file_name in names:
        path = Path(folder) / file_name
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_NOTE_BYTES + 1)
            note = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{file_name}: cannot read: {exc}") from None
        if len(raw) > MAX_NOTE_BYTES:
            raise CheckpointError(f"{file_name}: too long for a checkpoint")
        found.append(parse(note, verifier, file_name))
    return found


def latest(folder=None) -> Checkpoint | None:
    """The newest checkpoint, read without its signature (for the pages); None
    when there is no folder or nothing in it."""
    folder = folder or settings.STEWARD_AUDIT_CHECKPOINT_DIR
    if not folder or not os.path.isdir(folder):  # the checkpointer makes it on its first round
        return None
    found = read_dir(folder)
    return found[-1] if found else None


def _write_new(folder: Path, file_name: str, note: str) -> None:
    """Write once, never over another file: O_EXCL, then fsync."""
    fd = os.open(folder / file_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(note)
        f.flush()
        os.fsync(f.fileno())


# --- the trail ----------------------------------------------------------------


def leaves_from_db(size: int) -> list[bytes]:
    """The leaves of the first `size` entries; CheckpointError when an entry
    is missing (a gap no checkpoint should paper over)."""
    leaves, expected = [], 1
    rows = AuditEntry.objects.filter(seq__lte=size).order_by("seq").values_list("seq", "hash")
    for seq, entry_hash in rows.iterator(chunk_size=5000):
        if seq != expected:
            raise CheckpointError(f"entry #{expected} is missing")
        leaves.append(merkle.leaf_hash(entry_hash))
        expected += 1
    if expected - 1 != size:
        raise CheckpointError(f"the trail has {expected - 1} entries, fewer than {size}")
    return leaves


def tree_size() -> int:
    head = ChainHead.objects.filter(pk=1).first()
    return head.seq if head else 0


def origin() -> str:
    return settings.STEWARD_AUDIT_ORIGIN


def write(folder=None, signer: Signer | None = None) -> tuple[Checkpoint, bool]:
    """Sign the trail as it is now and write the note to the folder (and
    the witness). Returns (checkpoint, written): an unchanged trail writes
    nothing. Refuses to sign a trail that no longer extends the last
    checkpoint, or whose new entries do not chain: signing it would bless
    the rewrite."""
    folder = Path(folder or settings.STEWARD_AUDIT_CHECKPOINT_DIR or "")
    if not str(folder) or str(folder) == ".":
        raise CheckpointError("set STEWARD_AUDIT_CHECKPOINT_DIR (a folder the database cannot write)")
    if signer is None:
        if not settings.STEWARD_AUDIT_SIGNING_KEY_FILE:
            raise CheckpointError("set STEWARD_AUDIT_SIGNING_KEY_FILE (manage.py audit_keygen makes one)")
        signer = load_signer(settings.STEWARD_AUDIT_SIGNING_KEY_FILE)
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_dir(folder, signer.verifier())
    last = previous[-1] if previous else None
    head = ChainHead.objects.filter(pk=1).first() or ChainHead(pk=1)
    size = head.seq
    if last and size < last.size:
        raise CheckpointError(
            f"{last.name}: covers {last.size} entries, the trail has {size} (truncated or rolled back)"
        )
    leaves = leaves_from_db(size)
    if last and merkle.root(leaves[: last.size]) != last.root:
        raise CheckpointError(f"{last.name}: the trail's first {last.size} entries no longer have its root")
    start = last.size if last else 0
    new = [
        {**trail.hashed_fields(e), "hash": e.hash}
        for e in AuditEntry.objects.filter(seq__gt=start, seq__lte=size).order_by("seq").iterator(chunk_size=2000)
    ]
    before = AuditEntry.objects.filter(seq=start).values_list("hash", flat=True).first() if start else trail.GENESIS
    result = trail.walk(new, head=(head.seq, head.hash), expected_seq=start + 1, expected_prev=before)
    if not result.ok:
        raise CheckpointError(f"not signing: entry #{result.broken_seq} {result.problem}")
    root = merkle.root(leaves)
    if last and last.size == size:
        return last, False
    note = sign(body(origin(), size, root), signer)
    file_name = f"checkpoint-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{size}.txt"
    _write_new(folder, file_name, note)
    checkpoint = parse(note, signer.verifier(), file_name)
    send_to_witness(checkpoint)
    return checkpoint, True


def send_to_witness(checkpoint: Checkpoint, url: str | None = None) -> bool:
    """POST the note to the witness (text/plain), so a copy lives off this
    machine. A witness that is down costs nothing but a warning: the note
    is in the folder, and the next one goes out again."""
    url = url if url is not None else settings.STEWARD_AUDIT_WITNESS_URL
    if not url:
        return False
    request = urllib.request.Request(
        url, data=checkpoint.note.encode(), method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read(1024)
        return True
    except (urllib.error.URLError, OSError) as exc:
        log.warning("audit witness %s refused checkpoint %s: %s", url, checkpoint.name, exc)
        return False


# --- verifying ----------------------------------------------------------------


@dataclass
class Finding:
    ok: bool
    checkpoints: int
    problem: str = ""


def verify(leaf_stream: Iterable[bytes], checkpoints: list[Checkpoint], expected_origin: str | None) -> Finding:
    """Check signed checkpoints (already signature-checked, oldest first)
    against the trail's leaves: the origin, sizes that never shrink, and the
    root of the trail at each size. Names the first checkpoint that fails."""
    for i, checkpoint in enumerate(checkpoints):
        if expected_origin and checkpoint.origin != expected_origin:
            return Finding(False, i, f"{checkpoint.name}: origin {checkpoint.origin!r}, expected {expected_origin!r}")
        if i and checkpoint.size < checkpoints[i - 1].size:
            return Finding(
                False,
                i,
                f"{checkpoint.name}: size {checkpoint.size} is smaller than {checkpoints[i - 1].size} before it",
            )
    count, roots = merkle.roots_at(leaf_stream, {c.size for c in checkpoints})
    for i, checkpoint in enumerate(checkpoints):
        if checkpoint.size > count:
            return Finding(
                False,
                i,
                f"{checkpoint.name}: covers {checkpoint.size} entries, the trail has only {count} "
                "(truncated or rolled back)",
            )
        if roots[checkpoint.size] != checkpoint.root:
            return Finding(
                False,
                i,
                f"{checkpoint.name}: the trail's first {checkpoint.size} entries have another root (rewritten)",
            )
    return Finding(True, len(checkpoints))
