"""``dbrain analyze`` records its input and outputs in the default ledger; ``--no-ledger`` does not."""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from dbrain.ledger import Ledger

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf"


def _flip(path: Path, pos: int) -> None:
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


def test_analyze_appends_and_verify_names_an_altered_output(tmp_path):
    from dbrain.analyze import analyze

    with Ledger() as ledger:
        ingest = ledger.record("recording-ingested", [SAMPLE], actor="tech1")
    out = analyze(SAMPLE, tmp_path / "res")
    entry = out.ledger_entry
    assert entry is not None and entry.index == 1
    rec = entry.record
    assert rec["kind"] == "analysis-run" and rec["actor"] == getpass.getuser()
    assert rec["parents"] == [ingest.leaf_hash.hex()]
    assert rec["model_versions"] == {s["name"]: str(s["version"]) for s in out.summary["steps"]}
    assert rec["dbrain_version"] == out.summary["dbrain_version"]
    by_path = {a["path"]: a for a in rec["artifacts"]}
    assert by_path[str(SAMPLE.resolve())]["sha256"] == out.summary["input"]["sha256"]
    assert by_path[str(SAMPLE.resolve())]["role"] == "input"
    files = sorted(p for p in out.out_dir.rglob("*") if p.is_file())
    assert {"report.html", "report.pdf", "summary.json", "events.tsv", "annotations.edf"} <= {p.name for p in files}
    for p in files:
        art = by_path[str(p.resolve())]
        assert art["role"] == "output" and art["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()

    with Ledger() as ledger:
        assert ledger.verify().ok
        report_html = (out.out_dir / "report.html").resolve()
        _flip(report_html, 100)
        result = ledger.verify()
        assert result.items() == [f"artifact {report_html}"]
        assert f"entry {entry.index}" in result.problems[0].message
        _flip(report_html, 100)
        assert ledger.verify().ok
        proof = ledger.inclusion_proof(entry.index)
        assert proof.verify()


def test_cli_analyze_ledger_and_no_ledger(tmp_path):
    env = {**os.environ, "DBRAIN_HOME": str(tmp_path / "home")}
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "dbrain", *map(str, a)], capture_output=True, text=True, env=env, timeout=300
    )
    proc = run("analyze", SAMPLE, "--out", tmp_path / "a", "--only", "recording", "--no-ledger")
    assert proc.returncode == 0, proc.stderr
    assert "ledger entry" not in proc.stdout
    proc = run("ledger", "verify")
    assert proc.returncode == 0 and "ledger OK: 0 entries" in proc.stdout
    proc = run("analyze", SAMPLE, "--out", tmp_path / "b", "--only", "recording")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ledger entry 0")
    _flip(tmp_path / "b" / "summary.json", 10)
    proc = run("ledger", "verify")
    assert proc.returncode == 3
    assert proc.stdout.startswith(
        f"ALTERED artifact {(tmp_path / 'b' / 'summary.json').resolve()}: was altered (entry 0, output)"
    )
