"""``dbrain ledger …``: outputs, exit codes (0 ok, 2 bad input, 3 tampering found), one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dbrain.cli import main
from dbrain.ledger import Ledger, verify_checkpoint, verify_receipt

from ._helpers import tamper


def cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "p1.edf"
    path.write_bytes(b"0       " + bytes(range(256)) * 4)
    return path


def test_append_show_prove_verify_default_ledger(capsys, recording, tmp_path):
    code, out, _ = cli(capsys, "ledger", "append", "recording-ingested", recording, "--actor", "tech1")
    assert code == 0 and out.startswith("appended as entry 0 (leaf ")
    leaf = out.split("leaf ")[1].split(")")[0]
    code, out, _ = cli(
        capsys, "ledger", "append", "analysis-run", recording, "--parent", leaf, "--model", "seizure=1.2", "--detail", "site=A"
    )
    assert code == 0 and "entry 1" in out
    # the default ledger is the data centre's database under DBRAIN_HOME
    assert (tmp_path.parent / os.environ["DBRAIN_HOME"]).joinpath("dbrain.sqlite").exists()

    code, out, _ = cli(capsys, "ledger", "show")
    assert code == 0 and "recording-ingested" in out and "analysis-run" in out and "2 entries" in out
    code, out, _ = cli(capsys, "ledger", "show", "1")
    rec = json.loads(out)
    assert rec["model_versions"] == {"seizure": "1.2"} and rec["details"] == {"site": "A"} and rec["parents"] == [leaf]
    code, out, _ = cli(capsys, "ledger", "show", "--json", "--kind", "analysis-run")
    assert [e["index"] for e in json.loads(out)["entries"]] == [1]

    code, out, _ = cli(capsys, "ledger", "prove", "0")
    receipt = json.loads(out)
    assert code == 0 and verify_receipt(receipt, receipt["verifier_keys"]).size == 2
    code, out, _ = cli(capsys, "ledger", "prove", "--consistency", "1")
    assert code == 0 and json.loads(out)["consistency_proof"]["old_size"] == 1

    note = tmp_path / "cp.txt"
    code, out, _ = cli(capsys, "ledger", "export-checkpoint", "--out", note)
    assert code == 0 and verify_checkpoint(note.read_text(), receipt["verifier_keys"]).size == 2
    code, out, _ = cli(capsys, "ledger", "keys")
    assert code == 0 and "current" in out and receipt["verifier_keys"][0] in out

    code, out, err = cli(capsys, "ledger", "verify", "--checkpoint", note)
    assert code == 0 and out.startswith("ledger OK: 2 entries") and err == ""
    code, out, _ = cli(capsys, "ledger", "verify", "--json")
    assert json.loads(out)["ok"] is True

    code, out, _ = cli(capsys, "ledger", "rotate-key")
    assert code == 0 and "new signing key" in out
    code, out, _ = cli(capsys, "ledger", "verify")
    assert code == 0


def test_verify_exit_code_3_names_what_was_altered(capsys, recording):
    cli(capsys, "ledger", "append", "recording-ingested", recording)
    cli(capsys, "ledger", "append", "consent-recorded", "--content-hash", "A" * 64)
    data = bytearray(recording.read_bytes())
    data[100] ^= 1
    recording.write_bytes(bytes(data))
    code, out, err = cli(capsys, "ledger", "verify")
    assert code == 3
    assert out.splitlines() == [out.splitlines()[0]] and out.startswith(
        f"ALTERED artifact {recording.resolve()}: was altered (entry 0"
    )
    assert err.startswith("dbrain: ledger verification FAILED: 1 problem") and len(err.splitlines()) == 1
    code, out, err = cli(capsys, "ledger", "verify", "--no-files")
    assert code == 0
    with Ledger() as ledger:
        tamper(ledger, "ledger_entries", 1, "data")
    code, out, err = cli(capsys, "ledger", "verify", "--no-files")
    assert code == 3 and "ALTERED entry 1:" in out and "ALTERED tree head 2:" in out


@pytest.mark.parametrize(
    "args, match",
    [
        (["append", "recording-ingestd", "x"], "Did you mean 'recording-ingested'"),
        (["append", "consent-recorded"], "content_hash is required"),
        (["append", "consent-recorded", "--content-hash", "xyz"], "content_hash must be 64"),
        (["append", "consent-recorded", "--content-hash", "a" * 64, "--model", "nover"], "--model takes NAME=VALUE"),
        (["show", "5"], "no entry 5: the ledger has 0 entries"),
        (["prove"], "give either an entry INDEX or --consistency"),
        (["prove", "0"], "the ledger is empty"),
        (["export-checkpoint"], "the ledger is empty"),
        (["verify", "--checkpoint", "/nonexistent/cp.txt"], "cannot read checkpoint"),
        (["verify", "--db", "mysql://u@h/db"], "must be SQLite or PostgreSQL"),
        (["show", "--db", "sqlite:////dev/null/sub/x.sqlite"], "cannot"),
        (["bogus"], "No such command"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, match):
    code, out, err = cli(capsys, "ledger", *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbrain: ") and match in lines[0], err
    assert "Traceback" not in err


def test_subprocess_contract(tmp_path):
    env = {**os.environ, "DBRAIN_HOME": str(tmp_path / "home")}
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "dbrain", "ledger", *a], capture_output=True, text=True, env=env, timeout=120
    )
    proc = run("append", "consent-recorded", "--content-hash", "0" * 64)
    assert proc.returncode == 0, proc.stderr
    proc = run("verify")
    assert proc.returncode == 0 and "ledger OK: 1 entries" in proc.stdout
    proc = run("show", "7")
    assert proc.returncode == 2 and proc.stderr.strip() == "dbrain: no entry 7: the ledger has 1 entries (0..0)"
