"""evaluate(): pairing files, subjects, SzCORE's aggregation, real SzCORE-layout annotations, errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dbrain.errors import EventsError, ParameterError
from dbrain.evaluate import EvaluationResult, evaluate
from dbrain.events import make_events, read_events, write_events

FIXTURES = "annotations/epilepsy2bids-fixtures"


def _write(path: Path, pairs, duration, event_type="sz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if pairs:
        events = make_events([p[0] for p in pairs], [p[1] for p in pairs], event_type, recording_duration=duration)
    else:  # a seizure-free recording: one background row, as epilepsy2bids writes
        events = make_events([0.0], [duration], "bckg", recording_duration=duration)
    return write_events(events, path)


def _bids(sub: str, run: int) -> str:
    return f"sub-{sub}/ses-01/eeg/sub-{sub}_ses-01_task-szMonitoring_run-{run:02d}_events.tsv"


# --- the aggregation convention, computed independently with timescoring -------------------


def _szcore_dataset(ref_root: Path, hyp_root: Path) -> dict:
    """SzCORE's dataset convention rebuilt from timescoring's objects (per-subject sums, then nanmean)."""
    scoring = pytest.importorskip("timescoring.scoring")
    from timescoring.annotations import Annotation

    def mask(path):
        ev = read_events(path)
        m = np.zeros(int(ev["recordingDuration"].dropna().iloc[0]), dtype=bool)
        for row in ev.itertuples(index=False):
            if str(row.eventType).startswith("sz"):
                m[int(row.onset) : int(row.onset + row.duration)] = True
        return m

    subjects: dict[str, dict[str, list]] = {}
    for ref_file in sorted(ref_root.rglob("*_events.tsv")):
        rel = ref_file.relative_to(ref_root)
        ref = Annotation(mask(ref_file), 1)
        hyp = Annotation(mask(hyp_root / rel), 1)
        entry = subjects.setdefault(rel.parts[0], {"event": [], "sample": []})
        entry["event"].append(scoring.EventScoring(ref, hyp))
        entry["sample"].append(scoring.SampleScoring(ref, hyp))
    out = {}
    for kind in ("event", "sample"):
        per_subject = []
        for entry in subjects.values():
            scores = entry[kind]
            total = scoring._Scoring()
            total.fs = scores[0].fs
            total.numSamples = sum(s.numSamples for s in scores)
            total.tp = sum(s.tp for s in scores)
            total.fp = sum(s.fp for s in scores)
            total.refTrue = sum(s.refTrue for s in scores)
            total.computeScores()
            per_subject.append(total)
        for metric in ("sensitivity", "precision", "f1", "fpRate"):
            values = np.array([getattr(s, metric) for s in per_subject], dtype=float)
            values = values[np.isfinite(values)]
            out[(kind, metric)] = (values.mean(), values.std()) if values.size else (math.nan, math.nan)
    return out


def _assert_matches_szcore(result: EvaluationResult, ref_root: Path, hyp_root: Path) -> None:
    expected = _szcore_dataset(ref_root, hyp_root)
    for (kind, metric), (mean, std) in expected.items():
        ours = "fp_per_24h" if metric == "fpRate" else metric
        got_mean, got_std = result.summary.loc[kind, ours], result.summary.loc[kind, f"{ours}_std"]
        assert got_mean == pytest.approx(mean, rel=1e-12, nan_ok=True), (kind, metric)
        assert got_std == pytest.approx(std, rel=1e-12, abs=1e-12, nan_ok=True), (kind, metric)


def _random_dataset(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    ref_root, hyp_root = tmp_path / "ref", tmp_path / "hyp"
    for s in range(rng.integers(1, 5)):
        for run in range(1, rng.integers(2, 5)):
            duration = float(rng.choice([1800, 3600, 7200]))
            ref = [(float(rng.uniform(0, duration - 200)), float(rng.uniform(10, 400))) for _ in range(rng.integers(0, 4))]
            hyp = [
                (max(0.0, o + float(rng.normal(0, 60))), d * float(rng.uniform(0.2, 1.3))) for o, d in ref if rng.random() < 0.7
            ]
            hyp += [(float(rng.uniform(0, duration)), float(rng.exponential(20))) for _ in range(rng.integers(0, 4))]
            _write(ref_root / _bids(f"{s:02d}", run), ref, duration)
            _write(hyp_root / _bids(f"{s:02d}", run), hyp, duration)
    return ref_root, hyp_root


@pytest.mark.parametrize("seed", range(15))
def test_dataset_aggregation_matches_szcore_convention(tmp_path, seed):
    ref_root, hyp_root = _random_dataset(tmp_path, seed)
    result = evaluate(ref_root, hyp_root)
    _assert_matches_szcore(result, ref_root, hyp_root)
    # per-subject counts are sums over the subject's recordings
    rec = result.recordings.groupby(["scoring", "subject"])[["tp", "fp", "n_ref", "duration"]].sum()
    sub = result.subjects.set_index(["scoring", "subject"])[["tp", "fp", "n_ref", "duration"]]
    pd.testing.assert_frame_equal(rec.sort_index(), sub.sort_index(), check_dtype=False)


def test_subject_average_is_not_pooled(tmp_path):
    ref_root, hyp_root = tmp_path / "ref", tmp_path / "hyp"
    # sub-01: 1 of 1 seizure found; sub-02: 0 of 3 found (in three recordings)
    _write(ref_root / _bids("01", 1), [(1000, 60)], 3600)
    _write(hyp_root / _bids("01", 1), [(1010, 20)], 3600)
    for run in (1, 2, 3):
        _write(ref_root / _bids("02", run), [(1000, 60)], 3600)
        _write(hyp_root / _bids("02", run), [], 3600)
    result = evaluate(ref_root, hyp_root)
    event = result.summary.loc["event"]
    assert event["sensitivity"] == 0.5 and event["sensitivity_std"] == 0.5
    assert event["sensitivity_pooled"] == 0.25
    assert event["n_subjects"] == 2 and event["n_recordings"] == 4
    subj = result.subjects.query("scoring == 'event'").set_index("subject")
    assert subj.loc["sub-02", "n_recordings"] == 3 and subj.loc["sub-02", "n_ref"] == 3
    assert math.isnan(subj.loc["sub-02", "precision"])  # no detection at all: undefined, left out of the mean
    assert event["precision"] == 1.0


# --- real SzCORE-layout annotations (epilepsy2bids test fixtures) ----------------------------


def _chbmit_to_szcore(summary: Path, sub: str, out_root: Path) -> int:
    """Write one SzCORE events TSV per recording listed in a CHB-MIT ``chbNN-summary.txt``."""
    text = summary.read_text()
    n = 0
    for block in text.split("File Name: ")[1:]:
        start = re.search(r"File Start Time: (\d+):(\d+):(\d+)", block)
        end = re.search(r"File End Time: (\d+):(\d+):(\d+)", block)
        if not (start and end):
            continue
        t0 = sum(int(x) * f for x, f in zip(start.groups(), (3600, 60, 1), strict=True))
        t1 = sum(int(x) * f for x, f in zip(end.groups(), (3600, 60, 1), strict=True))
        duration = float((t1 - t0) % 86400)
        onsets = [int(x) for x in re.findall(r"Seizure(?: \d+)? Start Time: *(\d+)", block)]
        offsets = [int(x) for x in re.findall(r"Seizure(?: \d+)? End Time: *(\d+)", block)]
        run = int(re.search(r"_(\d+)\+?\.edf", block).group(1))
        _write(out_root / _bids(sub, run), [(a, b - a) for a, b in zip(onsets, offsets, strict=True)], duration)
        n += 1
    return n


@pytest.fixture
def chbmit(shared_data, tmp_path):
    folder = shared_data / FIXTURES / "tests" / "data" / "chbmit"
    if not folder.is_dir():
        pytest.skip(f"epilepsy2bids fixtures not found at {folder}")
    ref_root = tmp_path / "ref"
    n = sum(_chbmit_to_szcore(folder / f"chb{s}" / f"chb{s}-summary.txt", s, ref_root) for s in ("05", "08"))
    return ref_root, n


def test_chbmit_annotations_against_szcore(chbmit, tmp_path):
    """Real CHB-MIT seizure times (chb05, chb08) in SzCORE layout; detections simulated around them."""
    ref_root, n = chbmit
    assert n == 59
    rng = np.random.default_rng(0)
    hyp_root = tmp_path / "hyp"
    for ref_file in sorted(ref_root.rglob("*_events.tsv")):
        ref = read_events(ref_file)
        duration = float(ref["recordingDuration"].iloc[0])
        sz = ref[ref["eventType"] == "sz"]
        hyp = [
            (max(0.0, o + float(rng.normal(0, 40))), d)
            for o, d in zip(sz["onset"], sz["duration"], strict=True)
            if rng.random() < 0.8
        ]
        hyp += [(float(rng.uniform(0, duration - 30)), float(rng.uniform(2, 30))) for _ in range(rng.poisson(0.5))]
        _write(hyp_root / ref_file.relative_to(ref_root), hyp, duration)
    result = evaluate(ref_root, hyp_root)
    _assert_matches_szcore(result, ref_root, hyp_root)
    assert set(result.subjects["subject"]) == {"sub-05", "sub-08"}
    assert result.summary.loc["event", "n_recordings"] == 59
    perfect = evaluate(ref_root, ref_root)
    for kind in ("event", "sample"):
        assert perfect.summary.loc[kind, "sensitivity"] == 1.0 and perfect.summary.loc[kind, "precision"] == 1.0
        assert perfect.summary.loc[kind, "fp_per_24h"] == 0.0


def test_szcore_sample_tsv(shared_data, tmp_path):
    sample = shared_data / FIXTURES / "tests" / "sample.tsv"
    if not sample.is_file():
        pytest.skip(f"SzCORE sample TSV not found at {sample}")
    result = evaluate(sample, sample)
    event = result.recordings.query("scoring == 'event'").iloc[0]
    # 36.89+200.32 s and 304.56+121.14 s are < 90 s apart: merged (389 s), then split at 5 min; plus 1023.45 s.
    assert (event["n_ref"], event["tp"], event["fp"], event["duration"]) == (3, 3, 0, 3600.0)
    samples = result.recordings.query("scoring == 'sample'").iloc[0]
    assert samples["n_ref"] == (237 - 36) + (425 - 304) + (1047 - 1023)
    empty = tmp_path / "hyp.tsv"
    empty.write_text("onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n")
    missed = evaluate(sample, empty).summary.loc["event"]
    assert missed["sensitivity"] == 0.0 and math.isnan(missed["precision"])


# --- pairing and errors ----------------------------------------------------------------------


def test_pairs_by_file_name_when_folders_differ(tmp_path):
    _write(tmp_path / "ref" / _bids("01", 1), [(100, 50)], 3600)
    _write(tmp_path / "hyp" / "flat" / Path(_bids("01", 1)).name, [(100, 50)], 3600)
    result = evaluate(tmp_path / "ref", tmp_path / "hyp")
    assert result.summary.loc["event", "sensitivity"] == 1.0
    assert result.recordings["subject"].unique().tolist() == ["sub-01"]


def test_simulated_events_file_scores(tmp_path):
    """The ground truth that `dbrain simulate` writes is a valid reference (eventType 'sz', with spikes ignored)."""
    duration = 1800.0
    truth = make_events([100, 400, 800, 900], [45, 0.3, 60, 2], ["sz", "spike", "sz", "eyeblink"], recording_duration=duration)
    path = write_events(truth, tmp_path / "sim_events.tsv")
    result = evaluate(path, path)
    assert result.recordings.query("scoring == 'event'")["n_ref"].item() == 2


def test_missing_hypothesis(tmp_path):
    _write(tmp_path / "ref" / _bids("01", 1), [(100, 50)], 3600)
    _write(tmp_path / "ref" / _bids("01", 2), [(100, 50)], 3600)
    _write(tmp_path / "hyp" / _bids("01", 1), [(100, 50)], 3600)
    with pytest.raises(EventsError, match="1 reference file.*no hypothesis.*run-02"):
        evaluate(tmp_path / "ref", tmp_path / "hyp")
    result = evaluate(tmp_path / "ref", tmp_path / "hyp", missing="empty")
    assert result.summary.loc["event", "sensitivity"] == 0.5
    assert result.recordings["hyp_file"].eq("").sum() == 2  # event and sample rows of run-02


def test_extra_hypothesis(tmp_path):
    _write(tmp_path / "ref" / _bids("01", 1), [(100, 50)], 3600)
    _write(tmp_path / "hyp" / _bids("01", 1), [(100, 50)], 3600)
    _write(tmp_path / "hyp" / _bids("01", 7), [(100, 50)], 3600)
    with pytest.raises(EventsError, match="hypothesis file.*no reference.*run-07"):
        evaluate(tmp_path / "ref", tmp_path / "hyp")


def test_nothing_pairs(tmp_path):
    _write(tmp_path / "ref" / "a_events.tsv", [(100, 50)], 3600)
    _write(tmp_path / "hyp" / "b_events.tsv", [(100, 50)], 3600)
    with pytest.raises(EventsError, match="no hypothesis file pairs"):
        evaluate(tmp_path / "ref", tmp_path / "hyp", missing="empty")


def test_bad_inputs(tmp_path):
    good = _write(tmp_path / "good_events.tsv", [(100, 50)], 3600)
    with pytest.raises(EventsError, match="does not exist"):
        evaluate(tmp_path / "nope.tsv", good)
    no_cols = tmp_path / "nocols.tsv"
    no_cols.write_text("start\tstop\n1\t2\n")
    with pytest.raises(EventsError, match="no 'onset' column"):
        evaluate(no_cols, good)
    no_duration = tmp_path / "nodur.tsv"
    no_duration.write_text("onset\tduration\teventType\n100\t50\tsz\n")
    with pytest.raises(EventsError, match="no recordingDuration"):
        evaluate(no_duration, good)
    other = _write(tmp_path / "long_events.tsv", [(100, 50)], 7200)
    with pytest.raises(EventsError, match="7200 s but its reference.*3600 s"):
        evaluate(good, other)
    with pytest.raises(ParameterError, match="both be files or both be folders"):
        evaluate(good, tmp_path)
    with pytest.raises(ParameterError, match="'missing'"):
        evaluate(good, good, missing="skip")
    with pytest.raises(ParameterError, match="max_duration"):
        evaluate(good, good, max_duration=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EventsError, match="holds no .tsv"):
        evaluate(tmp_path / "empty", tmp_path / "empty")


def test_to_dict_is_json_ready(tmp_path):
    import json

    good = _write(tmp_path / "good_events.tsv", [(100, 50)], 3600)
    empty = _write(tmp_path / "empty_events.tsv", [], 3600)
    data = evaluate(good, empty).to_dict()
    text = json.dumps(data, allow_nan=False)  # nan became null
    assert json.loads(text)["summary"]["event"]["precision"] is None
    assert data["parameters"]["tolerance_before"] == 30.0
