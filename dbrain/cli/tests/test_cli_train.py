"""`dbrain train seizures` on a tiny SzCORE-layout BIDS dataset, and `dbrain analyze --seizure-model`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dbrain.cli.tests.test_cli import SAMPLE, assert_clean_failure, run
from dbrain.events import read_events, write_events
from dbrain.simulate import write_simulated_edf


@pytest.fixture(scope="module")
def bids(tmp_path_factory):
    """Two subjects, one 6-minute recording each with two seizures, as epilepsy2bids lays them out."""
    root = tmp_path_factory.mktemp("bids")
    for k, subject in enumerate(("01", "02")):
        eeg = root / f"sub-{subject}" / "ses-01" / "eeg"
        eeg.mkdir(parents=True)
        stem = f"sub-{subject}_ses-01_task-szMonitoring_run-00"
        edf, truth = write_simulated_edf(eeg / f"{stem}_eeg.edf", "6min", sfreq=128, seizures=2, artifacts=True, seed=4100 + k)
        events = read_events(truth)
        sz = events[events["eventType"] == "sz"].assign(channels="n/a", confidence=float("nan"))
        write_events(sz.reset_index(drop=True), eeg / f"{stem}_events.tsv")
        truth.unlink()  # only BIDS files in the dataset
    return root


def test_train_then_analyze_with_the_model(bids, tmp_path):
    model = tmp_path / "model"
    proc = run("train", "seizures", bids, "--out", model, "--folds", "2", "--rounds", "30")
    assert proc.returncode == 0, proc.stderr
    assert "trained on 2 recordings, 2 subjects, 4 seizures" in proc.stdout
    assert "2-fold subject-grouped CV" in proc.stdout
    assert {p.name for p in model.iterdir()} == {"model.txt", "model.json", "metrics.json", "MODEL_CARD.md"}
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["cross_validation"]["grouped_by"] == "subject"
    assert metrics["cross_validation"]["recordings_scored"] == 2
    assert "cross-validation grouped by subject" in (model / "MODEL_CARD.md").read_text()

    rec = next(bids.glob("sub-01/ses-01/eeg/*_eeg.edf"))
    out = tmp_path / "out"
    proc = run("analyze", rec, "--out", out, "--only", "recording,seizures", "--seizure-model", model, "--no-ledger")
    assert proc.returncode == 0, proc.stderr
    prob = pd.read_parquet(out / "seizure_probability.parquet")
    assert list(prob.columns) == ["time", "probability", "smoothed"] and len(prob) == 360
    summary = json.loads((out / "summary.json").read_text())
    step = next(s for s in summary["steps"] if s["name"] == "seizures")
    assert step["params"]["model"] == str(model) and step["summary"]["computed"]
    events = read_events(out / "events.tsv")
    assert (events["eventType"] == "sz").sum() == step["summary"]["n_seizures"]
    html = (out / "report.html").read_text()
    assert "Seizure detection" in html and "Seizure probability" in html


def test_analyze_writes_seizure_outputs_with_the_shipped_model(tmp_path, bids):
    rec = next(bids.glob("sub-02/ses-01/eeg/*_eeg.edf"))
    out = tmp_path / "out"
    proc = run("analyze", rec, "--out", out, "--only", "recording,seizures", "--seizure-sensitivity", "high", "--no-ledger")
    assert proc.returncode == 0, proc.stderr
    truth = pd.read_csv(next(bids.glob("sub-02/ses-01/eeg/*_events.tsv")), sep="\t")
    events = read_events(out / "events.tsv")
    found = events[events["eventType"] == "sz"]
    assert len(found) == len(truth)  # both seizures of this unseen recording, nothing else
    assert (out / "annotations.edf").stat().st_size > 0 and (out / "seizure_probability.parquet").exists()


def test_train_errors(tmp_path, bids):
    assert_clean_failure(run("train", "seizures", tmp_path, "--out", tmp_path / "m"), "no BIDS EEG recordings")
    assert_clean_failure(run("train", "seizures", tmp_path / "nope", "--out", tmp_path / "m"), "is not a folder")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    assert_clean_failure(run("train", "seizures", bids, "--out", full), "is not empty")
    rec = next(bids.glob("sub-01/ses-01/eeg/*_eeg.edf"))
    assert_clean_failure(run("analyze", rec, "--out", tmp_path / "o", "--seizure-model", tmp_path), "not a seizure model folder")
    assert_clean_failure(run("analyze", rec, "--out", tmp_path / "o", "--seizure-sensitivity", "max"), "sensitivity")
    # dbrain train spikes (issue 18): a missing folder, a folder without events files, a full output folder.
    assert_clean_failure(run("train", "spikes", tmp_path / "nope", "--out", tmp_path / "m"), "is not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_failure(run("train", "spikes", empty, "--out", tmp_path / "m"), "_events.tsv")
    # The BIDS seizure recordings have seizure events and no spike row: not known to be spike-free, so skipped.
    assert_clean_failure(run("train", "spikes", bids, "--out", tmp_path / "m", "--simulated", "0"), "no recording without")
    assert_clean_failure(run("train", "spikes", bids, "--out", full), "is not empty")


def test_analyze_spike_sensitivity(tmp_path):
    """--spike-sensitivity reaches the spikes step (recorded in summary.json); a bad preset is one line, exit 2."""
    out = tmp_path / "o"
    proc = run("analyze", SAMPLE, "--out", out, "--only", "recording,spikes", "--spike-sensitivity", "high", "--no-ledger")
    assert proc.returncode == 0, proc.stderr
    steps = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["steps"]}
    assert steps["spikes"]["params"]["sensitivity"] == "high"
    assert_clean_failure(run("analyze", SAMPLE, "--out", tmp_path / "p", "--spike-sensitivity", "max"), "sensitivity")
