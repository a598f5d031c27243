"""The ledger on every backend (memory, SQLite, PostgreSQL): one conformance suite.

Appends, idempotence, proofs (checked with the independent reference in
test_hashing), signed heads, key rotation, receipts, forks, and tampering:
one byte of every kind of stored artifact and of every kind of ledger row is
changed, and ``verify`` must fail and name the item.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap

import pytest

from dbrain.ledger import KeyStore, Ledger, LedgerError, LedgerParameterError, make_record, sha256_file, verify_receipt
from dbrain.ledger.checkpoint import Checkpoint, VerifierKey, parse_signed_note
from dbrain.ledger.hashing import leaf_hash
from dbrain.ledger.storage import EntryRow
from dbrain.ledger.verify import verify_signature

from ._helpers import delete_row, flip, read_row, tamper
from .test_hashing import mth, naive_root_from_path, naive_roots_from_proof, path, proof


def rec(i: int, **kw) -> dict:
    kw.setdefault("actor", "alice")
    return make_record("consent-recorded", content_hash=f"{i:064x}", details={"n": i}, **kw)


def fill(ledger: Ledger, batches=(1, 1, 3, 1, 5, 2, 8, 1)) -> list:
    """Append records in batches of the given sizes (each batch one signed head)."""
    entries, i = [], 0
    for size in batches:
        entries += ledger.append_many([rec(i + j) for j in range(size)])
        i += size
    return entries


# --- appending and reading ----------------------------------------------------------------


def test_append_sign_and_read(ledger):
    entries = fill(ledger)
    assert [e.index for e in entries] == list(range(22)) and all(e.appended for e in entries)
    assert len(ledger) == 22
    heads = ledger.heads()
    assert [h.tree_size for h in heads] == [1, 2, 5, 6, 11, 13, 21, 22]
    data = [e.data for e in ledger.entries()]
    for head in heads:
        assert head.root_hash == mth(data[: head.tree_size])
        pub = {k.name: k for k in ledger.verifier_keys()}[ledger.origin].public_key
        assert verify_signature(pub, head.checkpoint.body(), head.signature)
    e = ledger.entry(7)
    assert e.record["details"] == {"n": 7} and e.leaf_hash == leaf_hash(e.data)
    assert [x.index for x in ledger.find(content_hash=f"{7:064x}")] == [7]
    assert len(ledger.find(kind="consent-recorded", limit=3)) == 3
    report = ledger.verify()
    assert report.ok, report.problems
    assert (report.n_entries, report.n_heads) == (22, 8)


def test_duplicates_return_the_existing_entry(ledger):
    fill(ledger, (3,))
    again = ledger.append(rec(1, time=ledger.entry(1).record["time"]))
    assert again.index == 1 and not again.appended
    assert len(ledger) == 3 and len(ledger.heads()) == 1  # nothing new, no new head
    twice = ledger.append_many([rec(99, time="2026-01-01T00:00:00.000000Z")] * 2)
    assert [e.index for e in twice] == [3, 3] and [e.appended for e in twice] == [True, False]


def test_parents_must_exist(ledger):
    first = ledger.append(rec(0))
    child = ledger.append(rec(1, parents=[first.leaf_hash.hex()]))
    assert child.record["parents"] == [first.leaf_hash.hex()]
    with pytest.raises(LedgerParameterError, match="is not an entry"):
        ledger.append(rec(2, parents=["ab" * 32]))
    assert ledger.verify().ok


def test_reopen_and_concurrent_instances(make_ledger):
    a = make_ledger()
    fill(a, (4,))
    b = make_ledger()
    assert b.origin == a.origin and len(b) == 4
    b.append(rec(100))
    a.append(rec(101))  # a's cached frontier is stale: it must notice
    b.append_many([rec(102), rec(103)])
    assert len(a) == 8
    assert a.verify().ok


def test_proofs_against_the_reference(ledger):
    fill(ledger)
    data = [e.data for e in ledger.entries()]
    hashes = [leaf_hash(d) for d in data]
    sizes = [h.tree_size for h in ledger.heads()]
    for size in sizes:
        root = mth(data[:size])
        for m in range(size):
            p = ledger.inclusion_proof(m, size)
            assert p.root == root and p.leaf_hash == hashes[m]
            assert list(p.hashes) == path(m, data[:size])
            assert naive_root_from_path(m, size, hashes[m], list(p.hashes)) == root
        for old in [0, *[s for s in sizes if s <= size]]:
            c = ledger.consistency_proof(old, size)
            assert list(c.hashes) == proof(old, data[:size])
            assert c.new_root == root and c.old_root == mth(data[:old])
            if 0 < old < size:
                assert naive_roots_from_proof(old, size, list(c.hashes), c.old_root) == (c.old_root, root)
            assert c.verify()


def test_proof_errors(ledger):
    with pytest.raises(LedgerParameterError, match="empty"):
        ledger.inclusion_proof(0)
    fill(ledger, (2, 3))
    with pytest.raises(LedgerParameterError, match="no signed tree head at size 4"):
        ledger.inclusion_proof(0, 4)
    with pytest.raises(LedgerParameterError, match="not in the tree of size 2"):
        ledger.inclusion_proof(2, 2)
    with pytest.raises(LedgerParameterError, match="between 0 and 5"):
        ledger.consistency_proof(6)
    with pytest.raises(LedgerParameterError, match="no entry 9"):
        ledger.entry(9)


def test_receipt_verifies_without_the_ledger(ledger):
    fill(ledger, (5, 2))
    receipt = ledger.receipt(3)
    checkpoint = verify_receipt(receipt, receipt["verifier_keys"])
    assert checkpoint.size == 7 and checkpoint.origin == ledger.origin
    other = VerifierKey(ledger.origin, KeyStore(ledger.keys.directory.parent / "other").current().public_bytes)
    with pytest.raises(LedgerError, match="not signed by any trusted key"):
        verify_receipt(receipt, [other])
    bad = {
        **receipt,
        "entry": {**receipt["entry"], "data": base64.b64encode(flip(base64.b64decode(receipt["entry"]["data"]))).decode()},
    }
    with pytest.raises(LedgerError, match="does not hash to its leaf hash"):
        verify_receipt(bad, receipt["verifier_keys"])
    bad = {**receipt, "inclusion_proof": {**receipt["inclusion_proof"], "hashes": receipt["inclusion_proof"]["hashes"][::-1]}}
    with pytest.raises(LedgerError, match="does not lead to the checkpoint"):
        verify_receipt(bad, receipt["verifier_keys"])


def test_checkpoint_is_a_c2sp_signed_note(ledger):
    fill(ledger, (3,))
    note = ledger.checkpoint()
    lines = note.split("\n")
    assert lines[0] == ledger.origin and lines[1] == "3" and lines[3].startswith("timestamp ") and lines[4] == ""
    assert lines[5].startswith("\u2014 " + ledger.origin + " ")
    body, sigs = parse_signed_note(note)
    ((name, key_hash, sig),) = sigs
    vkey = ledger.verifier_keys()[0]
    assert key_hash == vkey.key_hash and verify_signature(vkey.public_key, body, sig)
    assert Checkpoint.parse_body(body).root == ledger.head().root_hash
    assert VerifierKey.parse(str(vkey)) == vkey


# --- keys ----------------------------------------------------------------------------------


def test_key_rotation_old_heads_still_verify(ledger):
    fill(ledger, (2, 2))
    old_id = ledger.keys.current_id()
    entry = ledger.rotate_key(destroy_old=True)
    new_id = ledger.keys.current_id()
    assert new_id != old_id and entry.record["kind"] == "key-rotated"
    assert not (ledger.keys.directory / f"{old_id}.key").exists() and (ledger.keys.directory / f"{old_id}.pub").exists()
    ledger.append(rec(50))
    heads = ledger.heads()
    assert [h.key_id for h in heads] == [old_id, old_id, new_id, new_id]
    with ledger.storage.read() as r:
        keys = {k.key_id: k for k in r.keys()}
    assert keys[old_id].retired is not None and keys[new_id].retired is None
    report = ledger.verify()
    assert report.ok, report.problems
    # a receipt of an entry signed before the rotation verifies with the old public key
    receipt = ledger.receipt(1, 2)
    assert verify_receipt(receipt, receipt["verifier_keys"]).size == 2
    # pinning only the new key flags the heads the old key signed
    report = ledger.verify(trusted_keys=[VerifierKey(ledger.origin, keys[new_id].public_key)])
    assert report.items() == ["tree head 2", "tree head 4"]


def test_first_key_is_created_with_private_permissions(ledger):
    ledger.append(rec(0))
    key_id = ledger.keys.current_id()
    key_file = ledger.keys.directory / f"{key_id}.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert ledger.keys.directory.stat().st_mode & 0o777 == 0o700
    key_file.chmod(0o644)
    with pytest.raises(LedgerError, match="chmod 600"):
        KeyStore(ledger.keys.directory).current()


# --- tampering with the ledger's own rows ----------------------------------------------------


ROW_TAMPERS = {
    # id: (table, key (index into the filled log), column, expected item, expected words)
    "entry-data": ("ledger_entries", 7, "data", "entry 7", "data was altered"),
    "entry-leaf-hash": ("ledger_entries", 7, "leaf_hash", "entry 7", "stored leaf hash was altered"),
    "entry-kind": ("ledger_entries", 7, "kind", "entry 7", "kind"),
    "entry-content-hash": ("ledger_entries", 7, "content_hash", "entry 7", "content_hash"),
    "node-hash": ("ledger_nodes", (2, 1), "hash", "ledger_nodes level 2 index 1", "recomputed from entries 4..7"),
    "head-root": ("ledger_heads", 13, "root_hash", "tree head 13", "root hash"),
    "head-signature": ("ledger_heads", 13, "signature", "tree head 13", "signature"),
    "head-timestamp": ("ledger_heads", 13, "timestamp_ms", "tree head 13", "signature"),
    "head-key-id": ("ledger_heads", 13, "key_id", "tree head 13", "not a (valid) row of ledger_keys"),
    "head-size": ("ledger_heads", 22, "tree_size", "tree head 23", "signs a tree of 23 entries"),
    "key-public-key": ("ledger_keys", None, "public_key", "ledger_keys key", "does not match the key id"),
    "meta-origin": ("ledger_meta", "origin", "value", "ledger_meta origin", "origin"),
}


@pytest.mark.parametrize("case", list(ROW_TAMPERS))
def test_tampered_ledger_row_is_named(case, make_ledger):
    table, key, column, item, words = ROW_TAMPERS[case]
    ledger = make_ledger()
    fill(ledger)
    assert ledger.verify().ok
    if table == "ledger_keys":
        key = ledger.keys.current_id()
        item = f"{item} {key}"
    tamper(ledger, table, key, column)
    report = make_ledger().verify()  # a fresh instance: nothing cached from before the change
    assert not report.ok
    assert item in report.items(), report.problems
    assert any(p.item == item and words in p.message for p in report.problems), report.problems


def test_every_byte_of_an_entry_is_protected(make_ledger):
    ledger = make_ledger()
    fill(ledger, (3, 2))
    size = len(read_row(ledger, "ledger_entries", 3)["data"])
    for pos in range(0, size, 7):
        tamper(ledger, "ledger_entries", 3, "data", lambda v, pos=pos: flip(v, pos))
        report = make_ledger().verify(check_files=False)
        assert "entry 3" in report.items(), (pos, report.problems)
        tamper(ledger, "ledger_entries", 3, "data", lambda v, pos=pos: flip(v, pos))  # flip back
    assert make_ledger().verify().ok


def test_deleted_and_added_rows_are_named(make_ledger):
    ledger = make_ledger()
    fill(ledger)
    delete_row(ledger, "ledger_entries", 21)
    report = make_ledger().verify()
    assert any(p.item == "tree head 22" and "signs a tree of 22 entries" in p.message for p in report.problems)


def test_row_added_behind_the_latest_head_is_named(make_ledger):
    ledger = make_ledger()
    fill(ledger)
    data = make_record("consent-recorded", content_hash="f" * 64, actor="mallory")
    from dbrain.ledger import canonical_json

    raw = canonical_json(data)
    with ledger.storage.write() as w:
        w.insert_entries([EntryRow(22, leaf_hash(raw), "consent-recorded", "f" * 64, raw)])
    assert make_ledger().verify().items() == ["entries 22..22"]
    with pytest.raises(LedgerError, match="refused the write|already holds"):
        make_ledger().append(rec(99))


def test_deleted_middle_entry_and_node_are_named(make_ledger):
    ledger = make_ledger()
    fill(ledger)
    delete_row(ledger, "ledger_entries", 4)
    delete_row(ledger, "ledger_nodes", (1, 8))
    items = make_ledger().verify().items()
    assert "entry 4" in items and "ledger_nodes level 1 index 8" in items


def test_deleted_latest_head_leaves_entries_uncovered(make_ledger):
    ledger = make_ledger()
    fill(ledger)
    delete_row(ledger, "ledger_heads", 22)
    assert "entries 21..21" in make_ledger().verify().items()


def test_append_refuses_a_damaged_tree(make_ledger):
    ledger = make_ledger()
    fill(ledger, (4, 4))
    tamper(ledger, "ledger_nodes", (3, 0), "hash")
    with pytest.raises(LedgerError, match="does not match the latest signed head"):
        make_ledger().append(rec(77))
    tamper(ledger, "ledger_nodes", (3, 0), "hash")  # back as it was
    tamper(ledger, "ledger_nodes", (2, 1), "hash")
    with pytest.raises(LedgerError, match="does not prove"):
        make_ledger().inclusion_proof(2)
    with pytest.raises(LedgerError, match="does not prove"):
        make_ledger().consistency_proof(4)


# --- tampering with stored artifacts ----------------------------------------------------------


ARTIFACTS = {
    "recording": ("recording-ingested", "input", "p1.edf", b"0       X X X X" + bytes(range(256)) * 8),
    "result": ("analysis-run", "output", "events.tsv", b"onset\tduration\teventType\n12.0\t30.0\tsz\n"),
    "report": ("report-signed", "report", "report.html", b"<html><body>EEG report: seizure at 12 s</body></html>\n"),
}


@pytest.mark.parametrize("kind", list(ARTIFACTS))
def test_altered_artifact_is_named(kind, ledger, tmp_path):
    record_kind, role, name, content = ARTIFACTS[kind]
    path = tmp_path / name
    path.write_bytes(content)
    ledger.append(rec(0))
    entry = ledger.record(record_kind, [path], role=role, actor="tech1")
    ledger.append(rec(1))
    assert ledger.verify().ok
    expected = sha256_file(path)
    for pos in (0, len(content) // 2, len(content) - 1):
        path.write_bytes(flip(content, pos))
        report = ledger.verify()
        item = f"artifact {path.resolve()}"
        assert report.items() == [item], report.problems
        msg = report.problems[0].message
        assert f"entry {entry.index}" in msg and expected in msg and sha256_file(path) in msg
    path.unlink()
    report = ledger.verify()
    assert report.items() == [f"artifact {path.resolve()}"] and "missing" in report.problems[0].message
    assert ledger.verify(check_files=False).ok


def test_rewritten_file_recorded_again_supersedes(ledger, tmp_path):
    path = tmp_path / "report.html"
    path.write_text("v1")
    ledger.record("report-signed", [path], role="report")
    path.write_text("v2")
    assert not ledger.verify().ok
    ledger.record("report-signed", [path], role="report")
    report = ledger.verify()
    assert report.ok and report.n_superseded == 1


# --- forks: an outside witness's checkpoint ------------------------------------------------------


def test_witness_checkpoint_detects_a_rewritten_history(make_ledger):
    ledger = make_ledger()
    fill(ledger, (3, 3))
    witness = ledger.checkpoint()
    assert ledger.verify(checkpoints=[witness]).ok
    fill(ledger, (2,))
    assert ledger.verify(checkpoints=[("witness.txt", witness)]).ok  # the log grew: still consistent
    # someone with database and key access rewrites the log from entry 0 and re-signs it
    for i in range(8):
        delete_row(ledger, "ledger_entries", i)
    for size in (3, 6, 8):
        delete_row(ledger, "ledger_heads", size)
    for level, idx in [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0)]:
        delete_row(ledger, "ledger_nodes", (level, idx))
    forged = make_ledger()
    forged.append_many([rec(i + 1000) for i in range(8)])
    assert forged.verify().ok  # internally consistent: only a witness can tell
    report = forged.verify(checkpoints=[("witness.txt", witness)])
    assert report.items() == ["checkpoint witness.txt"] and "forked" in report.problems[0].message


def test_witness_checkpoint_detects_truncation_and_bad_signature(make_ledger):
    ledger = make_ledger()
    fill(ledger, (3, 3))
    witness = ledger.checkpoint()
    root = ledger.head().root_hash
    delete_row(ledger, "ledger_entries", 5)
    delete_row(ledger, "ledger_heads", 6)
    report = make_ledger().verify(checkpoints=[witness])
    assert any(p.item == "checkpoint #1" and "entries were removed" in p.message for p in report.problems)
    forged = witness.replace(base64.b64encode(root).decode(), base64.b64encode(b"\x00" * 32).decode())
    report = ledger.verify(checkpoints=[forged])
    assert any(p.item == "checkpoint #1" and "invalid" in p.message for p in report.problems)


# --- concurrency (real processes on the SQL backends) -------------------------------------------


def test_concurrent_processes_append_safely(backend_url, tmp_path):
    if backend_url == "memory://":
        pytest.skip("memory storage lives in one process")
    keys = tmp_path / "keys"
    KeyStore(keys).current()
    Ledger(backend_url, keys=keys).close()  # create the tables before the race
    script = textwrap.dedent(
        f"""
        import sys
        from dbrain.ledger import Ledger, make_record
        w = int(sys.argv[1])
        with Ledger({backend_url!r}, keys={str(keys)!r}) as ledger:
            for i in range(15):
                ledger.append(make_record("consent-recorded", content_hash=f"{{w * 1000 + i:064x}}"))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w)], stderr=subprocess.PIPE, text=True) for w in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with Ledger(backend_url, keys=keys) as ledger:
        assert len(ledger) == 45 and len(ledger.heads()) == 45
        assert ledger.verify().ok
