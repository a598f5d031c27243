"""The cohort-robust dementia screen: short recordings, channel subsets, scale, age and the gating of the screens."""

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.diagnosis import ROBUST_FEATURES, DementiaScreen, array_features, recording_features
from dbrain.diagnosis._features import short_clean_epochs

CH19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"]
CH16 = [c for c in CH19 if c not in ("Fz", "Cz", "Pz")]


def _eeg(ch, seconds, sfreq, alpha=9.5, seed=0, scale=1.0):
    """Pink-ish noise plus a posterior-weighted alpha rhythm, volts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    white = rng.standard_normal((len(ch), n))
    f = np.fft.rfftfreq(n, 1 / sfreq)
    pink = np.fft.irfft(np.fft.rfft(white) / np.maximum(f, 1.0), n)
    pink /= pink.std(axis=1, keepdims=True)
    t = np.arange(n) / sfreq
    post = np.array([2.0 if c[0] in "PO" else 0.7 for c in ch])[:, None]
    x = 10e-6 * pink + 12e-6 * post * np.sin(2 * np.pi * alpha * t + rng.uniform(0, 6.28, (len(ch), 1)))
    return x * scale


def _raw(ch, seconds, sfreq, **kw):
    return mne.io.RawArray(_eeg(ch, seconds, sfreq, **kw), mne.create_info(ch, sfreq, "eeg"), verbose="error")


def test_robust_features_need_no_midline_and_no_peak():
    res = array_features(_eeg(CH16, 6.0, 256.0), 256.0, CH16, network=False)
    for f in (*ROBUST_FEATURES, *DementiaScreen().features):  # the previous set and the shipped one
        assert np.isfinite(res.values[f]), (f, res.missing.get(f))
    assert res.clean_seconds >= 5.0 and res.values["n_channels"] == 16
    assert 8.5 < res.values["dominant_frequency_posterior"] < 10.5
    # a slowed rhythm without a 7-13 Hz peak still has a posterior dominant frequency
    slow = array_features(_eeg(CH16, 6.0, 256.0, alpha=5.5), 256.0, CH16, network=False)
    assert slow.values["dominant_frequency_posterior"] < res.values["dominant_frequency_posterior"] - 1.5
    assert slow.values["log_slowing_ratio"] > res.values["log_slowing_ratio"]


def test_shipped_screen_gives_a_probability_for_16_channels_6_s_256_hz_without_midline():
    raw = _raw(CH16, 6.0, 256.0)
    feats = recording_features(raw)
    assert not {"Fz", "Cz", "Pz"} & set(feats.ch_names)
    res = DementiaScreen.load().assess(feats.to_frame())[0]
    assert res["status"] == "ok" and res["applicable"] and res["reason"] is None
    assert 0.0 <= res["probability"] <= 1.0
    lo, hi = res["interval"]
    assert lo <= res["probability"] <= hi
    # short and without the midline: the interval is widened, and says why
    notes = " ".join(res["interval_notes"])
    assert "6 s of clean EEG" in notes and "16 channels" in notes


def test_one_channel_transient_does_not_cost_a_short_recording_its_screen():
    x = _eeg(CH19, 5.0, 128.0)
    x[7, 300:340] += 400e-6  # one electrode pop on T7
    ep, kept, clean = short_clean_epochs(x, 128.0, CH19)
    assert clean >= 4.0 and len(kept) >= 12


def test_scale_free_and_insufficient_only_below_the_stated_minimum():
    from dbrain.diagnosis import compute_features

    screen = DementiaScreen.load()
    # the same clean epochs in other units: the features, hence the probability, do not change
    ep = _eeg(CH19, 8.0, 128.0).reshape(len(CH19), 4, 256).transpose(1, 0, 2)
    a = screen.assess(compute_features(ep, 128.0, CH19, network=False).to_frame())[0]
    b = screen.assess(compute_features(ep * 10.0, 128.0, CH19, network=False).to_frame())[0]
    assert a["probability"] == pytest.approx(b["probability"], abs=1e-9)
    short = screen.assess(array_features(_eeg(CH19, 3.0, 128.0), 128.0, CH19, network=False).to_frame())[0]
    assert short["outcome"] == "insufficient data" and "4 s of clean EEG" in short["reason"]
    few = screen.assess(array_features(_eeg(CH19[:10], 30.0, 128.0), 128.0, CH19[:10], network=False).to_frame())[0]
    assert few["outcome"] == "insufficient data" and "10 EEG channels, at least 12 needed" in few["reason"]


def _screen_features(raw, screen):
    """The dementia screen's own features of a recording, as the diagnosis step computes them."""
    assert screen.applicability_["scale_to_uv"] and screen.applicability_["fallback_seconds"]
    return screen.features_of(raw)


def test_every_plausible_short_recording_gets_a_probability_without_age_at_any_scale():
    # the independent check's input: 16 channels without Fz/Cz/Pz, 6 s, 256 Hz, no age, amplifier scale unknown
    screen = DementiaScreen.load()
    probs, widths = {}, {}
    for scale in (1.0, 10.0, 0.1):
        res = screen.assess(_screen_features(_raw(CH16, 6.0, 256.0, scale=scale), screen).to_frame())[0]
        assert res["status"] == "ok" and res["reason"] is None, (scale, res["reason"])
        lo, hi = res["interval"]
        assert lo <= res["probability"] <= hi
        notes = " ".join(res["interval_notes"])
        assert "age unknown" in notes and "6 s" in notes and "16 channels" in notes
        probs[scale], widths[scale] = res["probability"], hi - lo
        if scale == 0.1:  # 1.2 µV is not scalp EEG in µV: said, and the interval is wider
            assert "check the units or calibration" in notes and widths[0.1] > widths[1.0]
    # the screen rescales before it chooses clean EEG, so the scale changes nothing but the interval
    assert probs[10.0] == pytest.approx(probs[1.0], abs=1e-6) and probs[0.1] == pytest.approx(probs[1.0], abs=1e-6)


def test_artifact_widens_instead_of_declining_and_only_unusable_input_declines():
    screen = DementiaScreen.load()
    x = _eeg(CH16, 6.0, 256.0)
    x[:, 100::230] += 300e-6  # a one-sample pop every 0.9 s on every channel: no 2-s epoch is clean
    raw = mne.io.RawArray(x, mne.create_info(CH16, 256.0, "eeg"), verbose="error")
    feats = _screen_features(raw, screen)
    res = screen.assess(feats.to_frame(), age=70)[0]
    assert feats.values["artifact_seconds"] > 0 and res["status"] == "ok" and res["probability"] is not None
    assert any("with artifact had to be used" in n for n in res["interval_notes"])
    # truly unusable: flat, fewer than 12 channels, less than 4 s
    flat = screen.assess(_screen_features(_raw(CH16, 6.0, 256.0, scale=0.0), screen).to_frame())[0]
    assert flat["status"] == "insufficient data" and "flat" in flat["reason"]
    few = screen.assess(_screen_features(_raw(CH16[:11], 6.0, 256.0), screen).to_frame())[0]
    assert few["status"] == "insufficient data" and "11 EEG channels, at least 12 needed" in few["reason"]
    short = screen.assess(_screen_features(_raw(CH16, 3.0, 256.0), screen).to_frame())[0]
    assert short["status"] == "insufficient data" and "4 s" in short["reason"]


def test_age_and_amplitude_gate_or_widen():
    screen = DementiaScreen.load()
    X = array_features(_eeg(CH19, 60.0, 128.0), 128.0, CH19, network=False).to_frame()
    child = screen.assess(X, age=9)[0]
    assert child["status"] == "not applicable" and child["probability"] is None and "age 9" in child["reason"]
    mid = screen.assess(X, age=65)[0]
    assert mid["status"] == "ok" and mid["probability"] is not None
    # inside the limits (18-120 y) but outside the ages trained on (44-79 y): "not applicable", not a probability
    for age in (30, 92):
        out = screen.assess(X, age=age)[0]
        assert out["status"] == "not applicable" and out["probability"] is None and out["interval"] is None
        assert f"age {age}" in out["reason"] and "44-79 y" in out["reason"]
    unknown = screen.assess(X)[0]
    assert any("age unknown" in n for n in unknown["interval_notes"])
    loud = screen.assess(_screen_features(_raw(CH19, 60.0, 128.0, scale=100.0), screen).to_frame())[0]
    assert loud["status"] == "ok" and any("units or calibration" in n for n in loud["interval_notes"])


def test_gates_seizures_acute_patterns_and_heavy_artifact():
    from dbrain.analyze._registry import StepResult
    from dbrain.analyze._steps_diagnosis import _gates

    class Ctx:
        results = {}

    none = pd.DataFrame(columns=["onset", "eventType", "channels"])
    assert _gates(Ctx(), none) is None
    sz = pd.DataFrame({"onset": [1.0, 50.0], "eventType": ["sz", "spike"], "channels": ["", ""]})
    assert "1 seizure(s)" in _gates(Ctx(), sz)
    assert "lpd" in _gates(Ctx(), pd.DataFrame({"onset": [1.0], "eventType": ["lpd"], "channels": [""]}))
    ctx = Ctx()
    ctx.results = {"qeeg": StepResult(summary={"mean_artifact_strength": 0.7})}
    assert "heavy artifact" in _gates(ctx, none)
    assert _gates(ctx, none, artifact=False) is None  # the ADHD screen chooses its own clean EEG after rescaling
    ctx.results = {"qeeg": StepResult(summary={"mean_artifact_strength": 0.1})}
    assert _gates(ctx, none) is None


def test_analyze_gives_the_16_channel_6_s_recording_a_probability_without_age_and_at_10x_amplitude(tmp_path):
    import json

    from dbrain.analyze import analyze
    from dbrain.io import write_edf

    raw = mne.io.RawArray(_eeg(CH16, 6.0, 256.0, scale=10.0), mne.create_info(CH16, 256.0, "eeg"), verbose="error")
    f = write_edf(raw, tmp_path / "loud16.edf")
    analyze(f, tmp_path / "out", only=["recording", "diagnosis"], ledger=False)
    doc = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    dem = next(s for s in doc["screens"] if s["screen"] == "dementia")
    assert dem["status"] == "ok" and 0 <= dem["probability"] <= 1 and doc["age"] is None
    assert any("age unknown" in n for n in dem["interval_notes"])


def test_heavy_artifact_gates_the_epilepsy_screen_but_not_the_dementia_screen():
    from dbrain.analyze._registry import StepResult
    from dbrain.analyze._steps_diagnosis import _gates, _run_screens

    class Ctx:
        raw = _raw(CH16, 6.0, 256.0, scale=10.0)  # the qEEG artifact score uses absolute amplitudes
        results = {"qeeg": StepResult(summary={"mean_artifact_strength": 0.7})}

    none = pd.DataFrame(columns=["onset", "eventType", "channels"])
    gate = _gates(Ctx, none)
    feats = recording_features(Ctx.raw, network=False)
    by = {s["screen"]: s for s in _run_screens(Ctx, feats, none, gate, 70.0, dict.fromkeys(("dementia", "epilepsy", "adhd")))}
    assert by["dementia"]["status"] == "ok" and by["dementia"]["probability"] is not None
    assert by["epilepsy"]["status"] == "not applicable" and "heavy artifact" in by["epilepsy"]["reason"]
