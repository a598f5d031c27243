"""Rhythmic and periodic patterns: the learned classifier, the definitions, events, the IIIC development segments, PLEDs."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.detect._pattern_model import PatternClassifier, apply_definitions
from dbrain.detect._pattern_sim import SIM_CHANNELS, simulate_pattern
from dbrain.detect.patterns import (
    FEATURE_COLUMNS,
    PATTERN_CLASSES,
    class_probabilities,
    classify_patterns,
    classify_segment,
    pattern_windows,
    plot_pattern_timeline,
)
from dbrain.errors import ParameterError, RecordingError

NAMES = "Fp1 F3 C3 P3 F7 T7 P7 O1 Fz Cz Pz Fp2 F4 C4 P4 F8 T8 P8 O2".split()
LEFT = {"Fp1", "F3", "C3", "P3", "F7", "T7", "P7", "O1"}
RIGHT = {"Fp2", "F4", "C4", "P4", "F8", "T8", "P8", "O2"}
SF = 200.0


def _background(rng, n):
    """Alpha-range activity and noise: no delta dominance."""
    t = np.arange(n) / SF
    phase = rng.uniform(0, 2 * np.pi, (len(NAMES), 1))
    return 15 * np.sin(2 * np.pi * 9.5 * t + phase) + 6 * rng.standard_normal((len(NAMES), n))


def _weights(side: str) -> np.ndarray:
    """Field of a pattern: a temporal maximum on one side, or generalised with a frontal maximum."""
    if side == "both":  # generalised, frontally predominant (a common average keeps the gradient)
        w = [1.0 if n.startswith(("Fp", "F")) else 0.5 if n.startswith(("C", "T")) else 0.2 for n in NAMES]
    else:
        core = {"left": {"F7", "T7", "P7"}, "right": {"F8", "T8", "P8"}}[side]
        near = LEFT - core if side == "left" else RIGHT - core
        w = [1.0 if n in core else 0.5 if n in near else 0.0 for n in NAMES]
    return np.array(w)[:, None]


def _discharges(n, rate, width=0.2):
    """A train of sharp biphasic discharges (negative sharp wave then a smaller positive phase) at ``rate`` Hz."""
    x = np.zeros(n)
    k = int(width * SF)
    shape = -(np.sin(np.pi * np.arange(k) / k) ** 3)
    shape = np.concatenate([shape, 0.4 * np.sin(np.pi * np.arange(2 * k) / (2 * k))])
    for start in np.arange(0.3, n / SF - 0.5, 1.0 / rate):
        i = int(start * SF)
        x[i : i + shape.size] += shape
    return x


def _segment(kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(50 * SF)
    t = np.arange(n) / SF
    x = _background(rng, n)
    if kind == "grda":
        x += 70 * _weights("both") * np.sin(2 * np.pi * 2.0 * t)
    elif kind == "lrda":
        x += 70 * _weights("left") * np.sin(2 * np.pi * 1.5 * t)
    elif kind == "gpd":
        x += 150 * _weights("both") * _discharges(n, 1.0)
    elif kind == "lpd":
        x += 150 * _weights("right") * _discharges(n, 1.0)
    elif kind == "seizure":  # rhythmic 3 Hz discharges starting at 20 s and growing: evolution
        ramp = np.clip((t - 20.0) / 2.0, 0, 1)
        x += 200 * ramp * _weights("right") * _discharges(n, 3.0, width=0.08)
    return x


SIM_NAMES = [{"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}.get(c, c) for c in SIM_CHANNELS]


def _windows(x, names=NAMES):
    return pattern_windows(mne.io.RawArray(x * 1e-6, mne.create_info(list(names), SF, "eeg"), verbose="error"))


@pytest.fixture(scope="module")
def toy_classifier():
    """A classifier fitted on this file's clean synthetic segments (to test the event logic, not the model)."""
    parts = []
    for kind in ["grda", "lrda", "gpd", "lpd", "other"]:
        for seed in (10, 11, 12, 13, 14, 15):
            x = _segment(kind, seed)
            if seed % 2:  # background first, the pattern from 20 s: its onset window grows (evolution feature)
                x[:, : int(20 * SF)] = _segment("other", seed)[:, : int(20 * SF)]
            w = _windows(x)
            w["label"] = [kind if (seed % 2 == 0 or k >= 2) else "other" for k in range(len(w))]
            parts.append(w)
    data = pd.concat(parts, ignore_index=True)
    return PatternClassifier(C=10.0).fit(data, data["label"])


@pytest.mark.parametrize(("varied", "least"), [(False, 0.6), (True, 0.45)])
def test_shipped_model_on_held_out_simulated_patterns(varied, least):
    # Seeds 7100-7102 are in neither the training (6000-6039) nor the reported check (7000-7019). The varied forms
    # (amplitude scaled, several forms per class) are harder: metrics.json reports 0.66 (basic) and 0.56 (varied).
    rows = []
    for kind in PATTERN_CLASSES:
        for seed in (7100, 7101, 7102):
            w = _windows(simulate_pattern(kind, seed=seed, varied=varied)[0], SIM_NAMES).iloc[1:]
            rows.append(pd.DataFrame({"kind": kind, "label": PatternClassifier().predict(w)}))
    got = pd.concat(rows)
    recall = (got["kind"] == got["label"]).groupby(got["kind"]).mean()
    assert (got["kind"] == got["label"]).mean() >= least, recall.to_dict()
    assert (recall >= 0.25).all(), recall.to_dict()


def test_fit_predict_and_save(tmp_path, toy_classifier):
    w = _windows(_segment("lrda", 20))
    p = toy_classifier.predict_proba(w)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert list(p.columns) == list(PATTERN_CLASSES)
    assert (toy_classifier.predict(w) == "lrda").mean() >= 0.6
    path = toy_classifier.save(tmp_path / "m.json")
    again = PatternClassifier(path).predict_proba(w)
    pd.testing.assert_frame_equal(p, again)
    assert (p["seizure"] < 1e-6).all()  # a class absent from training is never predicted
    with pytest.raises(ParameterError, match="labels"):
        PatternClassifier().fit(w, ["spike"] * len(w))
    with pytest.raises(ParameterError, match="not fitted"):
        PatternClassifier().save(tmp_path / "x.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ParameterError, match="not a dbrain pattern model"):
        PatternClassifier(tmp_path / "bad.json").predict(w)


def test_definition_fast_periodic_discharges_are_a_seizure():
    # ACNS 2021: periodic discharges at >= 2.5 Hz (averaged over the 10 s window) are an electrographic seizure.
    w = pd.DataFrame({"n_discharges": [30, 20, 30, 30], "interval_cv": [0.2, 0.2, 0.2, 1.2], "duration": 10.0})
    for c in FEATURE_COLUMNS:
        if c not in w:
            w[c] = 1.0
    p = pd.DataFrame([[0.1, 0.7, 0.1, 0.05, 0.05, 0.0], [0.1, 0.7, 0.1, 0.05, 0.05, 0.0], [0.1, 0.05, 0.05, 0.7, 0.1, 0.0],
                      [0.1, 0.7, 0.1, 0.05, 0.05, 0.0]], columns=list(PATTERN_CLASSES))  # fmt: skip
    q = apply_definitions(p, w)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    # 3 Hz regular LPD -> seizure; 2 Hz LPD stays; rhythmic delta is not discharges; an irregular train is no train
    assert q.idxmax(axis=1).tolist() == ["seizure", "lpd", "lrda", "lpd"]
    assert q["seizure"].iloc[0] == pytest.approx(0.9)


def test_class_probabilities_sum_to_one():
    w = _windows(_segment("gpd", 1))
    p = class_probabilities(w)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_simulated_normal_eeg_with_blinks_has_no_pattern_events(seed):
    # 10 min of simulated background with eye blinks (Fp1/Fp2, ~0.4 s, isolated), muscle, pops and 10 spikes.
    from dbrain.simulate import simulate_eeg

    raw, _ = simulate_eeg(600, spikes=10, artifacts=True, seed=seed, verbose="error")
    res = classify_patterns(raw)
    labels = res.windows["label"]
    assert len(res.events) == 0, labels.value_counts().to_dict()
    assert (labels == "other").mean() >= 0.8, labels.value_counts().to_dict()
    assert not (labels == "seizure").any()


def _reference_features(x, sfreq, names):
    """The per-window features as first written (one window at a time), to pin the vectorised version."""
    from scipy import signal, stats

    f, p = signal.welch(x, sfreq, nperseg=min(x.shape[1], int(5 * sfreq)), noverlap=int(3.75 * sfreq), axis=-1)
    band = (f >= 0.5) & (f <= 20.0)
    power = p[:, band].sum(axis=1) + 1e-12
    top = np.argsort(-power)[:6]
    delta = (f >= 0.5) & (f < 4.0)
    spec = p[top][:, delta].mean(axis=0)
    lp = power[[i for i, n in enumerate(names) if n in LEFT]].mean()
    rp = power[[i for i, n in enumerate(names) if n in RIGHT]].mean()
    lo, hi = max(1, int(sfreq / 8)), min(x.shape[1] - 1, int(2 * sfreq))
    ac = []
    for c in top:
        y = x[c] - x[c].mean()
        r = signal.correlate(y, y, mode="full", method="fft")[y.size - 1 :]
        ac.append(float(r[lo:hi].max() / (r[0] + 1e-12)))
    return {
        "frequency": float(f[delta][np.argmax(spec)]),
        "delta_share": float(p[:, delta].sum(axis=1).mean() / power.mean()),
        "kurtosis": float(np.mean(stats.kurtosis(x[top], axis=-1))),
        "lateralisation": float((lp - rp) / (lp + rp)),
        "amplitude": float(x[top].std(axis=1).mean()),
        "rhythmicity": float(np.mean(ac)),
        "channels": ",".join(names[i] for i in top[:3]),
    }


def test_vectorised_window_features_equal_the_per_window_computation():
    from scipy import signal

    from dbrain.detect.patterns import _window_features

    kinds = ["grda", "lpd", "other", "seizure", "gpd"]
    x = np.concatenate([_segment(k, seed=i)[:, : int(20 * SF)] for i, k in enumerate(kinds)], axis=1)
    x = x - x.mean(axis=0)  # common average
    x = signal.sosfiltfilt(signal.butter(4, (0.5, 20.0), "bandpass", fs=SF, output="sos"), x, axis=-1)
    n = int(10 * SF)
    batch = x.reshape(len(NAMES), -1, n).transpose(1, 0, 2)
    got = _window_features(batch, SF, NAMES)
    for k in range(batch.shape[0]):
        ref = _reference_features(batch[k], SF, NAMES)
        assert got["channels"].iloc[k] == ref.pop("channels")
        for name, value in ref.items():
            assert got[name].iloc[k] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_persistence_rule_for_events(toy_classifier):
    # 20 s background, 10 s of right LPDs (one window), 20 s background.
    rng = np.random.default_rng(5)
    x = _background(rng, int(50 * SF))
    x[:, int(20 * SF) : int(30 * SF)] += 120 * _weights("right") * _discharges(int(10 * SF), 1.0)  # evolution < 2
    raw = mne.io.RawArray(x * 1e-6, mne.create_info(NAMES, SF, "eeg"), verbose="error")
    res = classify_patterns(raw, classifier=toy_classifier)
    assert res.windows["label"].tolist() == ["other", "other", "lpd", "other", "other"]
    assert len(res.events) == 0  # one window alone does not show persistence
    once = classify_patterns(raw, min_windows=1, classifier=toy_classifier)
    assert once.events["eventType"].tolist() == ["lpd"] and once.events["onset"].iloc[0] == 20.0
    with pytest.raises(ParameterError, match="min_windows"):
        classify_patterns(raw, min_windows=0)


def test_long_recording_windows_events_and_prevalence(toy_classifier):
    # 20 s of background, 30 s of right LPDs, 20 s of background, then the whole thing as one recording.
    rng = np.random.default_rng(3)
    n = int(70 * SF)
    x = _background(rng, n)
    lpd = 150 * _weights("right") * _discharges(int(30 * SF), 1.0)
    x[:, int(20 * SF) : int(50 * SF)] += lpd
    raw = mne.io.RawArray(x * 1e-6, mne.create_info(NAMES, SF, "eeg"), verbose="error")
    res = classify_patterns(raw, chunk_duration=30.0, classifier=toy_classifier)  # several chunks
    assert res.windows["label"].tolist() == ["other", "other", "lpd", "lpd", "lpd", "other", "other"]
    assert len(res.events) == 1
    ev = res.events.iloc[0]
    assert ev["eventType"] == "lpd" and ev["onset"] == 20.0 and ev["duration"] == 30.0 and 0.5 <= ev["confidence"] <= 1
    prev = res.prevalence()
    assert prev["lpd"].iloc[0] == pytest.approx(100 * 3 / 7)
    np.testing.assert_allclose(prev[list(PATTERN_CLASSES)].sum(axis=1), 100.0)
    # Chunking does not change the result (beyond filter-edge effects of the 5 s padding).
    again = classify_patterns(raw, chunk_duration=600.0, classifier=toy_classifier)
    pd.testing.assert_frame_equal(res.windows, again.windows, rtol=1e-3)  # filter edges differ by < 0.1 %
    fig = plot_pattern_timeline(res, title="t")
    assert len(fig.axes) == 2
    # In a report the axis is clock time, as every other figure's (not "time from recording start (s)")
    import datetime as dt

    fig = plot_pattern_timeline(res, title="t", clock=(dt.datetime(2020, 1, 1, 23, 59, 40), True))
    axis = fig.axes[1]
    assert axis.get_xlabel().startswith("clock time (recording started 2020-01-01 23:59:40")
    labels = [t.get_text() for t in axis.get_xticklabels()]
    assert labels[0] == "D1 23:59:40" and "D2 00:00:00" in labels


def test_bad_input():
    with pytest.raises(ParameterError, match="rows"):
        classify_segment(np.zeros((3, 1000)), SF, NAMES)
    raw = mne.io.RawArray(np.zeros((19, 40 * 30)), mne.create_info(NAMES, 40.0, "eeg"), verbose="error")
    with pytest.raises(RecordingError, match="50 Hz"):
        classify_patterns(raw)
    raw = mne.io.RawArray(np.zeros((19, 200 * 5)), mne.create_info(NAMES, SF, "eeg"), verbose="error")
    with pytest.raises(RecordingError, match="shorter"):
        classify_patterns(raw)
    with pytest.raises(ParameterError, match="window"):
        classify_patterns(raw, window=1.0)


def test_iiic_development_segments(shared_data):
    # The shipped model was trained on these 12 segments: its in-sample result is a development figure and must be at
    # least the leave-one-segment-out result that docs/patterns.md reports (metrics.json, scripts/train_pattern_model.py).
    import json

    from dbrain.detect._pattern_model import DEFAULT_PATTERN_MODEL

    sio = pytest.importorskip("scipy.io")
    folder = shared_data / "patterns" / "iiic-dev"
    loso = json.loads((DEFAULT_PATTERN_MODEL.parent / "metrics.json").read_text())["leave_one_segment_out"]
    correct = 0
    for path in sorted(folder.glob("*.mat")):
        row = classify_segment(sio.loadmat(path)["seg"][:19], 200.0, NAMES)
        np.testing.assert_allclose(row[list(PATTERN_CLASSES)].astype(float).sum(), 1.0)
        correct += path.stem.split("_")[0].lower().replace("sz", "seizure") == row["label"]
    assert correct >= loso["correct"] >= 6


def test_pled_example_is_periodic(shared_data):
    sio = pytest.importorskip("scipy.io")
    mat = sio.loadmat(shared_data / "spikes" / "pled-example" / "PLED_example_20sec_epoch.mat")
    x = np.ravel(mat["x"]).astype(float)
    raw = mne.io.RawArray(x[None] * 1e-6, mne.create_info(["C3"], float(np.ravel(mat["Fs"])[0]), "eeg"), verbose="error")
    res = classify_patterns(raw)
    w = res.windows
    # One channel: periodic discharges, but no lateralisation can be told.
    assert w["label"].isin(["lpd", "gpd"]).all(), w[list(PATTERN_CLASSES)]
    assert (w["side"] == "unknown").all()
    assert w["frequency"].between(0.5, 2.5).all()
    # Real periodic discharges show the ACNS evidence (a regular train recurring at its period): still one event.
    assert res.events["eventType"].isin(["lpd", "gpd"]).tolist() == [True]


def test_filter_threads_do_not_change_windows(monkeypatch):
    rng = np.random.default_rng(4)
    x = _background(rng, int(60 * SF))
    x[:, int(20 * SF) :] += 150 * _weights("right") * _discharges(int(40 * SF), 1.0)
    raw = mne.io.RawArray(x * 1e-6, mne.create_info(NAMES, SF, "eeg"), verbose="error")
    monkeypatch.setenv("DBRAIN_FILTER_THREADS", "1")
    one = classify_patterns(raw).windows
    monkeypatch.setenv("DBRAIN_FILTER_THREADS", "2")
    two = classify_patterns(raw).windows
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_symmetry_feature_tells_generalised_from_lateralised():
    # ACNS: generalised = bilateral and synchronous. Homologous electrodes correlate for GRDA, not for LRDA; the
    # measure is a correlation, so it does not change with the amplitude.
    sym = {}
    for kind in ("grda", "lrda"):
        x = _segment(kind, seed=3)
        sym[kind] = _windows(x)["symmetry"].to_numpy()
        np.testing.assert_allclose(_windows(5 * x)["symmetry"].to_numpy(), sym[kind], atol=1e-9)
    assert sym["grda"].min() > 0.5 > sym["lrda"].max(), sym
    one_side = _windows(_segment("grda", seed=3)[[NAMES.index(c) for c in sorted(LEFT)]], sorted(LEFT))
    assert one_side["symmetry"].isna().all()  # no homologous pair: unknown, the model sees the neutral value


def test_simulator_forms():
    from dbrain.detect._pattern_sim import SIM_CLASSES

    forms = {k: {simulate_pattern(k, seed=s)[1]["form"] for s in range(40)} for k in ("seizure", "other")}
    assert forms["seizure"] == {"fast", "rda_evolving", "spike_wave", "pd_evolving"}
    assert forms["other"] == {"background", "slowing", "artifact"}
    for kind in SIM_CLASSES:
        a, info = simulate_pattern(kind, seed=7, varied=False)
        b, _ = simulate_pattern(kind, seed=7, varied=False)
        assert np.array_equal(a, b) and info["form"] == kind and a.shape == (19, 10000)
        assert not np.array_equal(a, simulate_pattern(kind, seed=7)[0])
    with pytest.raises(ValueError, match="kind"):
        simulate_pattern("bird", seed=1)


def test_real_normal_child_eeg_has_no_acute_pattern_event(shared_data):
    # Issue 17 (clinical safety): 120 s of a healthy control child (ADHD-set control v112, not used in pattern training)
    # gave an LPD event (0.94) and a GPD event with the v2 probabilities alone. The patterns step's events (classifier
    # then reconcile_windows; a seizure-detector event could only remove pattern windows) must be none.
    from dbrain.channels import normalize_label
    from dbrain.detect import reconcile_windows

    z = np.load(shared_data / "developmental" / "adhd-children" / "adhd_children_128hz.npz")
    names = [normalize_label(str(c)).name for c in z["channels"]]
    sf = float(z["sfreq"])
    x = mne.filter.filter_data(z["eeg_v112"][:, : int(120 * sf)].astype(float), sf, 0.5, 45.0, verbose="error")
    raw = mne.io.RawArray(x * 0.5e-6, mne.create_info(names, sf, "eeg"), verbose="error")  # units unknown: ~70 µV SD
    res = classify_patterns(raw)
    assert len(res.events) == 0, res.events[["onset", "duration", "eventType", "confidence"]]
    rec = reconcile_windows(res.windows, None, None, recording_duration=120.0)
    assert len(rec.events) == 0, rec.events[["onset", "duration", "eventType", "confidence"]]
