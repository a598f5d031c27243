"""``dbrain evaluate``: table, --json, --out, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from dbrain.events import make_events, write_events


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbrain", *map(str, args)], capture_output=True, text=True, timeout=300)


def assert_clean_failure(proc, match: str):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dbrain: ") and match in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def _tsv(path: Path, onsets, durations, duration=3600.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_events(make_events(onsets, durations, "sz", recording_duration=duration), path)


def _dataset(root: Path) -> tuple[Path, Path]:
    for sub, hit in (("01", True), ("02", False)):
        name = f"sub-{sub}/ses-01/eeg/sub-{sub}_ses-01_task-szMonitoring_run-01_events.tsv"
        _tsv(root / "ref" / name, [1000.0], [60.0])
        _tsv(root / "hyp" / name, [1010.0 if hit else 2000.0], [20.0])
    return root / "ref", root / "hyp"


def test_table(tmp_path):
    ref, hyp = _dataset(tmp_path)
    proc = run("evaluate", "--ref", ref, "--hyp", hyp)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Event scoring" in out and "Sample scoring" in out
    assert "sub-01" in out and "sub-02" in out and "mean of 2" in out
    event_mean = out.split("Event scoring")[1].splitlines()[4]
    assert event_mean.startswith("mean of 2") and "0.500" in event_mean


def test_json_and_csv(tmp_path):
    ref, hyp = _dataset(tmp_path)
    csv = tmp_path / "scores.csv"
    proc = run("evaluate", "--ref", ref, "--hyp", hyp, "--json", "--out", csv)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["summary"]["event"]["sensitivity"] == 0.5
    assert data["summary"]["event"]["n_subjects"] == 2
    assert {s["subject"] for s in data["subjects"]} == {"sub-01", "sub-02"}
    table = pd.read_csv(csv)
    assert set(table["level"]) == {"recording", "subject"} and set(table["scoring"]) == {"event", "sample"}
    assert len(table) == 8


def test_bad_input(tmp_path):
    good = _tsv(tmp_path / "good_events.tsv", [100.0], [50.0])
    assert_clean_failure(run("evaluate", "--ref", tmp_path / "missing.tsv", "--hyp", good), "does not exist")
    bad = tmp_path / "bad.tsv"
    bad.write_text("start\tstop\n1\t2\n")
    assert_clean_failure(run("evaluate", "--ref", bad, "--hyp", good), "no 'onset' column")
    nodur = tmp_path / "nodur.tsv"
    nodur.write_text("onset\tduration\teventType\n1\t2\tsz\n")
    assert_clean_failure(run("evaluate", "--ref", nodur, "--hyp", good), "no recordingDuration")
    ref, hyp = _dataset(tmp_path / "set")
    next(hyp.rglob("*_events.tsv")).unlink()
    assert_clean_failure(run("evaluate", "--ref", ref, "--hyp", hyp), "no hypothesis file of the same name")
    assert_clean_failure(run("evaluate", "--ref", ref, "--hyp", good), "both be files or both be folders")
    assert_clean_failure(run("evaluate", "--ref", good, "--hyp", good, "--out", tmp_path / "x.txt"), "--out must be a .csv")
    assert_clean_failure(run("evaluate", "--ref", good), "--hyp")


def test_missing_as_empty(tmp_path):
    ref, hyp = _dataset(tmp_path)
    next(hyp.rglob("sub-01*_events.tsv")).unlink()
    proc = run("evaluate", "--ref", ref, "--hyp", hyp, "--missing-as-empty", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["event"]["sensitivity"] == 0.0
