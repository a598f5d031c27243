"""Tests of R-peak detection, heart rate and rhythm events (dbrain.ecg)."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from dbrain.ecg import compute_heart_rate, detect_r_peaks
from dbrain.errors import ParameterError
from dbrain.events import EVENT_COLUMNS
from dbrain.simulate import simulate_eeg
from dbrain.simulate._engine import Simulation

SF = 256.0


def _synthetic_ecg(rr, sfreq=SF, seed=0, invert=False):
    """ECG (V) with R peaks after the given RR intervals, plus wander and noise; returns (ecg, peaks)."""
    rng = np.random.default_rng(seed)
    t_peaks = 1.0 + np.concatenate([[0.0], np.cumsum(rr)])
    n = int((t_peaks[-1] + 2.0) * sfreq)
    t = np.arange(n) / sfreq
    ecg = np.zeros(n)
    for tp in t_peaks:  # P, Q, R, S, T waves (amplitude in mV, latency s, width s)
        for a, mu, s in ((0.1, -0.2, 0.025), (-0.1, -0.03, 0.008), (1.0, 0.0, 0.01), (-0.25, 0.03, 0.01), (0.3, 0.28, 0.05)):
            ecg += a * np.exp(-((t - tp - mu) ** 2) / (2 * s**2))
    ecg += 0.2 * np.sin(2 * np.pi * 0.25 * t) + 0.02 * rng.standard_normal(n)
    ecg *= -1e-3 if invert else 1e-3
    return ecg, np.round(t_peaks * sfreq).astype(int)


def _raw_with_ecg(ecg, sfreq=SF):
    eeg = np.random.default_rng(1).standard_normal((2, ecg.size)) * 10e-6
    info = mne.create_info(["Cz", "ECG"], sfreq, ["eeg", "ecg"])
    return mne.io.RawArray(np.vstack([eeg[:1], ecg]), info, verbose="error")


@pytest.mark.parametrize("invert", [False, True])
def test_detect_exact_beats(invert):
    rr = np.full(80, 0.8)
    ecg, truth = _synthetic_ecg(rr, invert=invert)
    peaks = detect_r_peaks(ecg, SF)
    assert abs(len(peaks) - len(truth)) <= 1
    assert np.max(np.abs(peaks[: len(truth)] - truth[: len(peaks)])) <= 2  # within 8 ms


def test_rhythm_events_at_right_times():
    # 60 s at 75 bpm, a 4 s pause, 30 s at 130 bpm, 40 s at 75 bpm, 30 s at 40 bpm, 20 s at 75 bpm.
    rr = np.concatenate([np.full(75, 0.8), [4.0], np.full(65, 60 / 130), np.full(50, 0.8), np.full(20, 1.5), np.full(25, 0.8)])
    ecg, truth = _synthetic_ecg(rr)
    trend, events = compute_heart_rate(_raw_with_ecg(ecg))
    assert abs(len(trend) - len(truth)) <= 1
    assert list(events.columns) == EVENT_COLUMNS
    t_peaks = truth / SF
    by_type = {k: g for k, g in events.groupby("eventType")}
    assert set(by_type) == {"pause", "tachycardia", "bradycardia"}
    pause = by_type["pause"]
    assert len(pause) == 1
    assert pause.onset.iloc[0] == pytest.approx(t_peaks[75], abs=0.02)
    assert pause.duration.iloc[0] == pytest.approx(4.0, abs=0.02)
    tachy = by_type["tachycardia"]
    assert len(tachy) == 1
    start, stop = t_peaks[76], t_peaks[76 + 65]
    assert tachy.onset.iloc[0] == pytest.approx(start, abs=6.0)
    assert tachy.onset.iloc[0] + tachy.duration.iloc[0] == pytest.approx(stop, abs=6.0)
    brady = by_type["bradycardia"]
    assert len(brady) == 1
    b_start = t_peaks[76 + 65 + 50]
    assert brady.onset.iloc[0] == pytest.approx(b_start, abs=6.0)
    assert (events.channels == "ECG").all()
    assert trend.attrs == {"channel": "ECG", "note": ""}
    assert np.nanmedian(trend.hr.iloc[1:75]) == pytest.approx(75, abs=0.5)


def test_simulator_ecg():
    raw, _ = simulate_eeg(120, seed=2)
    truth = Simulation(120.0, sfreq=256.0, seed=2).ecg.r_peaks
    truth = truth[truth < raw.n_times]
    trend, events = compute_heart_rate(raw)
    peaks = np.round(trend.time.to_numpy() * 256).astype(int)
    assert abs(len(peaks) - len(truth)) <= 1
    n = min(len(peaks), len(truth))
    assert np.max(np.abs(peaks[:n] - truth[:n])) <= 3
    assert len(events) == 0  # the simulator's heart rate is 58–82 bpm


def test_real_iiic_sample():
    from dbrain.io import read_recording

    raw, _ = read_recording(Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf")
    trend, _ = compute_heart_rate(raw)
    assert trend.attrs["channel"] == "ECG"
    assert len(trend) > 20
    assert 40 <= trend.hr_trend.min() and trend.hr_trend.max() <= 180


def test_missing_flat_and_noise_ecg():
    info = mne.create_info(["Cz", "Pz"], SF, "eeg")
    raw = mne.io.RawArray(np.zeros((2, 60 * 256)), info, verbose="error")
    trend, events = compute_heart_rate(raw)
    assert trend.empty and events.empty and list(trend.columns) == ["time", "rr", "hr", "hr_trend"]
    assert trend.attrs["note"] == "no ECG channel"

    trend, events = compute_heart_rate(_raw_with_ecg(np.full(60 * 256, 1e-3)))
    assert trend.empty and events.empty and "flat" in trend.attrs["note"]

    noise = np.random.default_rng(0).standard_normal(120 * 256) * 50e-6
    trend, events = compute_heart_rate(_raw_with_ecg(noise))
    assert events.empty and "noise" in trend.attrs["note"]


def test_errors():
    ecg, _ = _synthetic_ecg(np.full(20, 0.8))
    raw = _raw_with_ecg(ecg)
    with pytest.raises(ParameterError, match="ecg_channel"):
        compute_heart_rate(raw, ecg_channel="EKG2")
    with pytest.raises(ParameterError, match="bradycardia"):
        compute_heart_rate(raw, bradycardia=120)
    with pytest.raises(ParameterError, match="1-D"):
        detect_r_peaks(np.zeros((2, 100)), SF)
    assert detect_r_peaks(np.zeros(1000), SF).size == 0


def test_streamed_peaks_equal_whole_trace(monkeypatch):
    """Reading the ECG in chunks finds the beats of the whole trace, none twice, none lost at the seams."""
    import dbrain.ecg._heart_rate as hr

    rng = np.random.default_rng(7)
    rr = rng.uniform(0.45, 1.3, 700)  # ~10 min of irregular rhythm
    ecg, truth = _synthetic_ecg(rr, seed=3)
    whole = detect_r_peaks(ecg, SF)
    monkeypatch.setattr(hr, "_CHUNK", 37.0)  # many seams, at odd places
    trend, _ = compute_heart_rate(_raw_with_ecg(ecg))
    streamed = np.round(trend["time"].to_numpy() * SF).astype(int)
    np.testing.assert_array_equal(streamed, whole)
    assert abs(len(streamed) - len(truth)) <= 1
