"""Signed checkpoints hold the trail to what it was: a superuser who
rewrites every entry with fresh hashes, cuts the tail or restores an old
backup passes the chain walk, and `audit_verify --checkpoints` names the
checkpoint the trail no longer matches. The proofs are checked with an
implementation of RFC 9162's verification written here, not the app's."""

import base64
import hashlib
import http.server
import json
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.db import connection, transaction

from audit import trail
from audit.models import AuditEntry, ChainHead
from tests.factories import api_token, make_user

pytestmark = pytest.mark.django_db


def append(n, action="thing.done"):
    with transaction.atomic():
        trail.record_many(trail.SYSTEM, [trail.Change(action, "thing", i, after={"i": i}) for i in range(n)])


@pytest.fixture
def keys(tmp_path, settings):
    private, public = tmp_path / "signing.key", tmp_path / "signing.pub"
    call_command("audit_keygen", str(private), str(public), "--name", "steward.test/audit")
    settings.STEWARD_AUDIT_SIGNING_KEY_FILE = str(private)
    settings.STEWARD_AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    settings.STEWARD_AUDIT_ORIGIN = "steward.test/audit"
    settings.STEWARD_AUDIT_WITNESS_URL = ""
    return public, tmp_path / "checkpoints"


def checkpoint(capsys):
    call_command("audit_checkpoint")
    return capsys.readouterr().out


def verify(keys, capsys, *extra):
    public, folder = keys
    try:
        call_command("audit_verify", "--checkpoints", str(folder), "--public-key", str(public), *extra)
    except SystemExit as exit_info:
        return exit_info.code, capsys.readouterr()
    return 0, capsys.readouterr()


def notes(folder):
    return sorted(p for p in folder.iterdir())


def _raw(sql, params=()):
    """As a database superuser would: past the app and the trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_no_update_delete")


def rewrite_consistently(from_seq, action="forged"):
    """Change entry `from_seq` and rehash it and every later one, head too:
    the chain walk cannot tell."""
    prev = AuditEntry.objects.filter(seq=from_seq - 1).values_list("hash", flat=True).first() or trail.GENESIS
    for entry in AuditEntry.objects.filter(seq__gte=from_seq).order_by("seq"):
        if entry.seq == from_seq:
            entry.action = action
        entry.prev_hash = prev
        entry.hash = prev = trail.entry_hash(entry)
        _raw(
            "UPDATE audit_auditentry SET action = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            [entry.action, entry.prev_hash, entry.hash, entry.seq],
        )
    ChainHead.objects.filter(pk=1).update(hash=prev)


def cut_to(size):
    """Remove the entries after `size` and move the head back to it."""
    _raw("DELETE FROM audit_auditentry WHERE seq > %s", [size])
    last = AuditEntry.objects.get(seq=size)
    ChainHead.objects.filter(pk=1).update(seq=size, hash=last.hash)


def test_a_checkpoint_is_a_c2sp_signed_note_by_the_key(keys, capsys):
    append(3)
    assert "wrote" in checkpoint(capsys)
    [path] = notes(keys[1])
    text = path.read_text()
    body, signature_line = text.split("\n\n")
    origin, size, root = body.split("\n")
    assert (origin, size) == ("steward.test/audit", "3")
    assert len(base64.b64decode(root)) == 32
    # The signature line and the key id, from the signed-note spec.
    dash, name, sig = signature_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "steward.test/audit")
    vkey_name, vkey_id, vkey = keys[0].read_text().strip().split("+", 2)
    public = base64.b64decode(vkey)
    assert public[0] == 1 and vkey_name == name
    key_id = hashlib.sha256(name.encode() + b"\n" + public).digest()[:4]
    assert key_id.hex() == vkey_id
    raw = base64.b64decode(sig)
    assert raw[:4] == key_id
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(raw[4:], (body + "\n").encode())
    # Nothing new: no second note. A grown trail: one more.
    assert "unchanged" in checkpoint(capsys)
    append(1)
    checkpoint(capsys)
    assert len(notes(keys[1])) == 2
    code, out = verify(keys, capsys)
    assert code == 0, out.err
    assert out.out.splitlines() == ["ok 4 entries", "ok 2 checkpoints"]


def test_a_consistent_rewrite_by_a_superuser_is_caught_by_the_checkpoint(keys, capsys):
    append(5)
    checkpoint(capsys)
    [first] = notes(keys[1])
    rewrite_consistently(2)
    call_command("audit_verify")  # the chain alone: intact
    assert capsys.readouterr().out.strip() == "ok 5 entries"
    code, out = verify(keys, capsys)
    assert code == 1
    assert first.name in out.err and "another root" in out.err
    # The checkpointer will not bless the rewrite either.
    with pytest.raises(SystemExit):
        call_command("audit_checkpoint")
    assert "no longer have its root" in capsys.readouterr().err


def test_a_cut_tail_is_caught_by_the_checkpoint(keys, capsys):
    append(3)
    checkpoint(capsys)
    append(3)
    checkpoint(capsys)
    second = notes(keys[1])[1]
    cut_to(4)
    call_command("audit_verify")
    assert capsys.readouterr().out.strip() == "ok 4 entries"
    code, out = verify(keys, capsys)
    assert code == 1 and second.name in out.err and "truncated or rolled back" in out.err


def test_a_restored_older_backup_is_caught_even_after_it_grows_again(keys, capsys):
    append(3)
    checkpoint(capsys)
    append(2)
    checkpoint(capsys)
    later = notes(keys[1])[1]
    cut_to(3)  # the backup of when there were 3
    append(3, action="after.restore")  # and life goes on: 6 entries, other ones
    call_command("audit_verify")
    assert capsys.readouterr().out.strip() == "ok 6 entries"
    code, out = verify(keys, capsys)
    assert code == 1 and later.name in out.err and "another root" in out.err


def test_an_export_verifies_offline_against_the_checkpoints(keys, capsys, tmp_path):
    append(4)
    checkpoint(capsys)
    export = tmp_path / "audit.jsonl"
    export.write_text("".join(trail.export_lines()))
    code, out = verify(keys, capsys, "--file", str(export))
    assert code == 0, out.err
    # The export rewritten consistently (fresh hashes): the chain holds, the checkpoint does not.
    records = [json.loads(line) for line in export.read_text().splitlines()]
    prev = trail.GENESIS
    for record in records:
        if record["seq"] == 2:
            record["action"] = "forged"
        record["prev_hash"] = prev
        record["hash"] = prev = trail.hash_of({k: v for k, v in record.items() if k != "hash"})
    export.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, out = verify(keys, capsys, "--file", str(export))
    assert code == 1 and notes(keys[1])[0].name in out.err


def test_a_checkpoint_signed_by_another_key_is_refused(keys, capsys, tmp_path, settings):
    append(2)
    call_command(
        "audit_keygen", str(tmp_path / "other.key"), str(tmp_path / "other.pub"), "--name", "steward.test/audit"
    )
    settings.STEWARD_AUDIT_SIGNING_KEY_FILE = str(tmp_path / "other.key")
    checkpoint(capsys)
    code, out = verify(keys, capsys)
    assert code == 1 and "no signature by steward.test/audit" in out.err


def test_each_new_checkpoint_goes_to_the_witness(keys, capsys, settings):
    received = []

    class Witness(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.headers["Content-Type"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Witness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.STEWARD_AUDIT_WITNESS_URL = f"http://127.0.0.1:{server.server_port}/add-checkpoint"
        append(2)
        checkpoint(capsys)
    finally:
        server.shutdown()
        server.server_close()
    [note] = notes(keys[1])
    assert received == [("text/plain; charset=utf-8", note.read_bytes())]


# --- proofs, checked with RFC 9162's own algorithms ---------------------------


def H(data):
    return hashlib.sha256(data).digest()


def mth(leaves):
    """RFC 9162 2.1.1, written out again."""
    if not leaves:
        return H(b"")
    if len(leaves) == 1:
        return H(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return H(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def verify_inclusion(leaf_index, tree_size, leaf, path, root):
    """RFC 9162 2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = H(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = H(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = H(b"\x01" + c + fr), H(b"\x01" + c + sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = H(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


@pytest.fixture
def api(client):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_token(make_user('viewer'))}"
    return client


def test_inclusion_proofs_verify_against_the_checkpoint_root(api, keys, capsys):
    append(13)
    checkpoint(capsys)
    [note] = notes(keys[1])
    size, root = note.read_text().split("\n")[1:3]
    hashes = [bytes.fromhex(h) for h in AuditEntry.objects.order_by("seq").values_list("hash", flat=True)]
    assert base64.b64encode(mth(hashes)).decode() == root
    for seq in range(1, 14):
        answer = api.get(f"/api/v1/audit/{seq}/proof/?size={size}")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["root"] == root and body["tree_size"] == 13
        leaf = H(b"\x00" + hashes[seq - 1])
        path = [bytes.fromhex(p) for p in body["proof"]]
        assert verify_inclusion(seq - 1, 13, leaf, path, base64.b64decode(root))
        assert not verify_inclusion(seq % 13, 13, leaf, path, base64.b64decode(root))
    # Smaller trees than the whole trail, without a slash too.
    body = api.get("/api/v1/audit/3/proof?size=5").json()
    assert verify_inclusion(2, 5, H(b"\x00" + hashes[2]), [bytes.fromhex(p) for p in body["proof"]], mth(hashes[:5]))


def test_consistency_proofs_verify_between_every_pair_of_sizes(api):
    append(11)
    hashes = [bytes.fromhex(h) for h in AuditEntry.objects.order_by("seq").values_list("hash", flat=True)]
    for second in range(1, 12):
        for first in range(1, second + 1):
            answer = api.get(f"/api/v1/audit/consistency/?from={first}&to={second}")
            assert answer.status_code == 200, answer.content
            body = answer.json()
            a, b = mth(hashes[:first]), mth(hashes[:second])
            assert base64.b64decode(body["first_root"]) == a and base64.b64decode(body["second_root"]) == b
            path = [bytes.fromhex(p) for p in body["proof"]]
            assert verify_consistency(first, second, a, b, path), (first, second)
            if first < second:
                assert not verify_consistency(first, second, mth(hashes[1 : first + 1]), b, path)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/audit/consistency/?from=0&to=3", 400),
        ("/api/v1/audit/consistency/?from=x", 400),
        ("/api/v1/audit/consistency/", 400),
        ("/api/v1/audit/2/proof/?size=-1", 400),
        ("/api/v1/audit/2/proof/?size=0", 400),
        ("/api/v1/audit/2/proof/?size=99999999999999999999999", 400),
        # Well-formed sizes that name no tree holding the entry: as an unknown seq.
        ("/api/v1/audit/consistency/?from=3&to=2", 404),
        ("/api/v1/audit/consistency/?from=1&to=99", 404),
        ("/api/v1/audit/2/proof/?size=1", 404),
        ("/api/v1/audit/2/proof/?size=99", 404),
    ],
)
def test_bad_proof_requests_are_a_4xx_with_a_detail(api, path, status):
    append(3)
    answer = api.get(path)
    assert answer.status_code == status and answer.json()["detail"]


def test_proofs_need_a_login(client):
    append(2)
    assert client.get("/api/v1/audit/1/proof/").status_code in (401, 403)
    assert client.get("/api/v1/audit/checkpoints/").status_code in (401, 403)


def test_checkpoints_are_listed_newest_first(api, keys, capsys):
    append(2)
    checkpoint(capsys)
    append(1)
    checkpoint(capsys)
    body = api.get("/api/v1/audit/checkpoints/").json()
    assert [c["size"] for c in body["results"]] == [3, 2]
    assert body["results"][0]["note"] == notes(keys[1])[1].read_text()
    schema = api.get("/api/schema/?format=json").json()
    assert {"/api/v1/audit/checkpoints/", "/api/v1/audit/consistency/", "/api/v1/audit/{seq}/proof/"} <= set(
        schema["paths"]
    )


def test_the_audit_page_shows_the_latest_checkpoint(client, keys, capsys):
    client.force_login(make_user("viewer"))
    page = client.get("/audit/").content.decode()
    assert "No signed checkpoint yet" in page
    append(2)
    checkpoint(capsys)
    append(1)
    checkpoint(capsys)
    latest = notes(keys[1])[-1]
    page = client.get("/audit/").content.decode()
    assert "Latest signed checkpoint: <strong>3</strong> entries" in page
    assert latest.name in page and latest.read_text().split("\n")[2] in page
