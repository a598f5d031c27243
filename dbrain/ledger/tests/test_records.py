"""Records: canonical JSON, validation, artifacts; keys and checkpoint parsing."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from dbrain.ledger import KINDS, KeyStore, LedgerError, LedgerParameterError, canonical_json, file_artifact, make_record
from dbrain.ledger.checkpoint import Checkpoint, VerifierKey, format_signed_note, parse_signed_note
from dbrain.ledger.records import parse_record
from dbrain.ledger.verify import verify_checkpoint


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()
    with pytest.raises(LedgerParameterError, match=r"record\.x is a floating-point number"):
        canonical_json({"x": 0.5})
    with pytest.raises(LedgerParameterError, match="non-string key"):
        canonical_json({1: 2})
    with pytest.raises(LedgerParameterError, match="set, which JSON cannot hold"):
        canonical_json({"x": {1}})


def test_make_record_fields_and_defaults(tmp_path):
    path = tmp_path / "a.edf"
    path.write_bytes(b"abc")
    art = file_artifact(path, "input")
    assert art == {"path": str(path.resolve()), "sha256": hashlib.sha256(b"abc").hexdigest(), "size": 3, "role": "input"}
    rec = make_record("recording-ingested", artifacts=[art], model_versions={"m": "1"})
    assert rec["content_hash"] == art["sha256"] and rec["v"] == 1
    assert rec["actor"] and rec["time"].endswith("Z") and rec["dbrain_version"]
    assert set(rec) == {
        "v",
        "kind",
        "content_hash",
        "actor",
        "time",
        "dbrain_version",
        "model_versions",
        "parents",
        "artifacts",
        "details",
    }
    assert set(KINDS) >= {"recording-ingested", "analysis-run", "annotation-changed", "report-signed", "consent-recorded"}
    data = canonical_json(rec)
    assert parse_record(data) == rec


@pytest.mark.parametrize(
    "change, match",
    [
        ({"kind": "analysis-ran"}, "Did you mean 'analysis-run'"),
        ({"content_hash": "ABC"}, "content_hash must be 64"),
        ({"time": "yesterday"}, "time must be UTC"),
        ({"actor": ""}, "actor must be a non-empty"),
        ({"parents": ["xyz"]}, "parents must be"),
        ({"model_versions": {"m": 1}}, "model_versions"),
        ({"artifacts": [{"path": "rel.edf", "sha256": "0" * 64, "size": 1, "role": "input"}]}, "absolute path"),
        ({"artifacts": [{"path": "/a"}]}, "exactly the fields"),
        ({"details": {"x": 1.5}}, "floating-point"),
        ({"v": 2}, "version 2 is not supported"),
        ({"extra": 1}, "unknown \\['extra'\\]"),
    ],
)
def test_invalid_records_are_refused(change, match):
    rec = {**make_record("consent-recorded", content_hash="0" * 64), **change}
    with pytest.raises(LedgerParameterError, match=match):
        from dbrain.ledger.records import validate_record

        validate_record(rec)


def test_parse_record_refuses_non_canonical_and_floats():
    rec = make_record("consent-recorded", content_hash="0" * 64)
    with pytest.raises(LedgerError, match="canonical"):
        parse_record(json.dumps(rec, indent=1).encode())
    with pytest.raises(LedgerError, match="floating-point"):
        parse_record(canonical_json(rec).replace(b'"details":{}', b'"details":{"x":1.0}'))
    with pytest.raises(LedgerError, match="not JSON"):
        parse_record(b"\xff")
    with pytest.raises(LedgerParameterError, match="content_hash is required"):
        make_record("consent-recorded")
    with pytest.raises(LedgerParameterError, match="not a file"):
        file_artifact("/nonexistent/x.edf", "input")


def test_keystore_rotation_and_concurrent_first_use(tmp_path):
    store = KeyStore(tmp_path / "keys")
    assert store.current(create=False) is None
    first = store.current()
    assert KeyStore(tmp_path / "keys").current().key_id == first.key_id  # loaded, not re-created
    old, new = store.rotate()
    assert old.key_id == first.key_id and store.current_id() == new.key_id
    assert set(store.public_keys()) == {first.key_id, new.key_id}
    with pytest.raises(LedgerError, match="current signing key"):
        store.destroy_private(new.key_id)
    store.destroy_private(first.key_id)
    with pytest.raises(LedgerError, match="not found"):
        KeyStore(tmp_path / "keys").load(first.key_id)
    (tmp_path / "keys" / f"{new.key_id}.key").write_bytes(b"junk")
    os.chmod(tmp_path / "keys" / f"{new.key_id}.key", 0o600)
    with pytest.raises(LedgerError, match="not a valid private key"):
        KeyStore(tmp_path / "keys").current()


def test_signed_note_parsing_errors():
    cp = Checkpoint("example.org/log", 3, b"\x01" * 32, 5)
    assert Checkpoint.parse_body(cp.body()) == cp
    with pytest.raises(LedgerError, match="4 lines"):
        Checkpoint.parse_body(b"a\n1\n")
    with pytest.raises(LedgerError, match="malformed"):
        Checkpoint.parse_body(b"a\nx\nAAAA\ntimestamp 1\n")
    with pytest.raises(LedgerError, match="no blank line"):
        parse_signed_note("abc\n")
    with pytest.raises(LedgerError, match="malformed signature line"):
        parse_signed_note("abc\n\n-- name xyz\n")
    with pytest.raises(LedgerError, match="no signature"):
        parse_signed_note("abc\n\n")
    with pytest.raises(LedgerError, match="not a verifier key"):
        VerifierKey.parse("nothing")
    with pytest.raises(LedgerError, match="does not match the key"):
        VerifierKey.parse("example.org/log+00000000+" + "AQ" + "A" * 42)
    note = format_signed_note(cp.body(), [("example.org/log", b"\x00" * 4, b"\x00" * 64)])
    vkey = VerifierKey("example.org/log", b"\x02" * 32)
    with pytest.raises(LedgerError, match="not signed by any trusted key"):
        verify_checkpoint(note, [vkey])
