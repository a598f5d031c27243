"""The command-line contract: outputs, exit codes, one-line errors, atomic results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pytest

from dbrain.events import EVENT_COLUMNS, read_events
from dbrain.io.tests._edfbuild import build_edf

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf"


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbrain", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_clean_failure(proc, match: str):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dbrain: ") and match in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


# --- corrupt inputs: each gives exit 2, one stderr line, no traceback, no output folder ------


def _good(tmp_path: Path) -> Path:
    fs = 128
    data = [np.sin(np.arange(fs * 4) / 5) * 20] * 3
    return build_edf(tmp_path / "good.edf", ["EEG Fp1-REF", "EEG F7-REF", "EEG T3-REF"], data, [fs] * 3)


def _corrupt(kind: str, tmp_path: Path) -> tuple[Path, str]:
    good = _good(tmp_path)
    raw = good.read_bytes()
    fs = 128
    bad = tmp_path / "bad.edf"
    if kind == "truncated":
        bad.write_bytes(raw[:-1000])
        return bad, "holds only"
    if kind == "wrong-header-length":
        build_edf(bad, ["EEG Cz-REF"], [np.zeros(fs * 2)], [fs], header_bytes_field=1024)
        return bad, "header-bytes field says 1024"
    if kind == "zero-bytes":
        bad.write_bytes(b"")
        return bad, "empty"
    if kind == "wrong-extension":
        bad = tmp_path / "bad.set"
        bad.write_bytes(raw)
        return bad, "cannot read 'bad.set'"
    if kind == "random-bytes":
        bad.write_bytes(np.random.default_rng(0).bytes(10_000))
        return bad, "not an EDF or BDF file"
    if kind == "more-samples-declared":
        build_edf(bad, ["EEG Cz-REF"], [np.zeros(fs * 2)], [fs], n_records_field=3600)
        return bad, "header declares 3600 data records"
    if kind == "non-ascii-labels":
        build_edf(bad, ["EEG Fp1-REF", "EEG Fp2-RÉF"], [np.zeros(fs * 2)] * 2, [fs, fs])
        return bad, "non-ASCII"
    if kind == "duplicate-channel-names":
        build_edf(bad, ["EEG Cz-REF", "EEG Cz-REF"], [np.zeros(fs * 2)] * 2, [fs, fs])
        return bad, "duplicate channel label"
    if kind == "directory":
        bad = tmp_path / "folder.edf"
        bad.mkdir()
        return bad, "is a directory"
    raise AssertionError(kind)


CORRUPT = [
    "truncated",
    "wrong-header-length",
    "zero-bytes",
    "wrong-extension",
    "random-bytes",
    "more-samples-declared",
    "non-ascii-labels",
    "duplicate-channel-names",
    "directory",
]


@pytest.mark.parametrize("kind", CORRUPT)
def test_analyze_corrupt_input(tmp_path, kind):
    bad, match = _corrupt(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "results"
    proc = run("analyze", bad, "--out", out)
    assert_clean_failure(proc, match)
    assert not out.exists(), "no output directory after a failed run"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no partial files left beside the output"


@pytest.mark.parametrize("kind", ["truncated", "random-bytes", "directory"])
def test_info_and_convert_corrupt_input(tmp_path, kind):
    bad, match = _corrupt(kind, tmp_path)
    assert_clean_failure(run("info", bad), match)
    out = tmp_path / "out.edf"
    assert_clean_failure(run("convert", bad, out), match)
    assert not out.exists()


def test_missing_file_and_bad_usage(tmp_path):
    assert_clean_failure(run("info", tmp_path / "nope.edf"), "no such file")
    proc = run("analyze", SAMPLE)  # --out missing
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run("analyze", SAMPLE, "--out", tmp_path / "o", "--only", "recordin")
    assert_clean_failure(proc, "Did you mean 'recording'")


# --- the main job ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    if not SAMPLE.exists():
        pytest.skip("bundled sample missing")
    out = tmp_path_factory.mktemp("analyze") / "sample"
    proc = run("analyze", SAMPLE, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_analyze_writes_all_outputs(analysed):
    names = sorted(p.name for p in analysed.iterdir())
    assert names == [
        "annotations.edf",
        "diagnosis.json",
        "events.tsv",
        "network.parquet",
        "pattern_prevalence.parquet",
        "patterns.parquet",
        "qeeg.parquet",
        "report.html",
        "report.pdf",
        "seizure_probability.parquet",
        "spikes.parquet",
        "summary.json",
        "viewer_trends.parquet",
    ]
    summary = json.loads((analysed / "summary.json").read_text())
    assert summary["recording"]["format"] == "EDF+C"
    assert summary["recording"]["n_channels"] == 20
    assert [s["name"] for s in summary["steps"]] == [
        "recording",
        "eeg_page",
        "seizures",
        "qeeg",
        "spikes",
        "patterns",
        "network",
        "norms",
        "diagnosis",
    ]
    assert summary["environment"]["packages"]["mne"] == mne.__version__
    assert len(summary["input"]["sha256"]) == 64
    events = read_events(analysed / "events.tsv")
    assert list(events.columns) == EVENT_COLUMNS
    # the expert annotation, and the seizure step's detection of that seizure (eventType "sz")
    expert = events[events["eventType"].str.startswith("Seizure")].reset_index(drop=True)
    assert expert.loc[0, "onset"] == pytest.approx(20.0) and expert.loc[0, "duration"] == pytest.approx(10.0)
    assert (events["eventType"] == "sz").sum() == 1
    ann = mne.read_annotations(analysed / "annotations.edf")
    assert sorted(ann.onset) == sorted(events["onset"])
    assert (analysed / "report.pdf").read_bytes().startswith(b"%PDF")
    html = (analysed / "report.html").read_text()
    for text in ("Channel mapping", "EEG page", "Fp1-F7", "T7"):
        assert text in html


def test_analyze_refuses_existing_output(analysed):
    proc = run("analyze", SAMPLE, "--out", analysed)
    assert_clean_failure(proc, "not empty")
    assert (analysed / "report.html").exists()


def test_analyze_skip_step(tmp_path):
    out = tmp_path / "o"
    proc = run("analyze", SAMPLE, "--out", out, "--skip", "eeg_page,qeeg,seizures,spikes,patterns,network,norms,diagnosis")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["steps"]] == ["recording"]
    assert not (out / "qeeg.parquet").exists()


def test_info_text_and_json():
    proc = run("info", SAMPLE)
    assert proc.returncode == 0, proc.stderr
    assert "EDF+C" in proc.stdout and "T3" in proc.stdout and "T7" in proc.stdout
    data = json.loads(run("info", SAMPLE, "--json").stdout)
    assert data["format"] == "EDF+C" and data["duration"] == 50.0 and data["n_annotations"] == 1
    assert {c["original"]: c["name"] for c in data["channels"]}["EEG T3-REF"] == "T7"


def test_convert_brainvision_to_edf(tmp_path, shared_data):
    src = shared_data / "formats/eeglab-sample-data/sample_data/test_data/testbva.vhdr"
    out = tmp_path / "bva.edf"
    proc = run("convert", src, out)
    assert proc.returncode == 0, proc.stderr
    raw = mne.io.read_raw_edf(out, verbose="error")
    orig = mne.io.read_raw_brainvision(src, verbose="error")
    assert len(raw.ch_names) == len(orig.ch_names)
    assert len(raw.annotations) == len(orig.annotations)


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("dbrain ")
