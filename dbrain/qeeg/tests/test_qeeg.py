"""qEEG measures checked against their definitions on signals with a known answer."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.errors import ParameterError
from dbrain.io import read_recording
from dbrain.qeeg import ASYMMETRY_LABEL, BANDS, QEEGResult, compute_qeeg, plot_trends
from dbrain.qeeg._bands import band_masks

SFREQ = 256.0
CH = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8", "Fz", "Cz", "Pz"]


def _raw(data_uv: np.ndarray, ch_names=CH, sfreq=SFREQ) -> mne.io.RawArray:
    info = mne.create_info(list(ch_names), sfreq, "eeg")
    return mne.io.RawArray(data_uv * 1e-6, info, verbose="error")


def _noise(n_ch, n, scale, seed=0):
    return np.random.default_rng(seed).normal(0, scale, (n_ch, n))


def test_sine_alpha():
    n = int(120 * SFREQ)
    t = np.arange(n) / SFREQ
    data = 20 * np.sin(2 * np.pi * 10 * t)[None] + _noise(len(CH), n, 0.05)
    res = compute_qeeg(_raw(data), aperiodic_window=None)
    assert isinstance(res, QEEGResult)
    rel = res.measures[:, :, res.measure_names.index("rel_alpha")]
    assert np.all(rel > 0.99)
    paf = res.measures[:, :, res.measure_names.index("peak_alpha_freq")]
    np.testing.assert_allclose(paf, 10.0, atol=0.05)
    assert np.all(res.measures[:, :, res.measure_names.index("rhythmicity")] > 0.9)
    sef = res.measures[:, :, res.measure_names.index("sef90")]
    assert np.all((sef > 9.5) & (sef < 10.6))
    # absolute alpha power = sine power A²/2 (all of it falls in 8–13 Hz)
    np.testing.assert_allclose(res.measure("abs_alpha", "O1"), 20**2 / 2, rtol=0.01)
    # theta/alpha ratio tiny; no suppression in a 20 µV rhythm
    assert np.all(res.measures[:, :, res.measure_names.index("theta_alpha_ratio")] < 0.01)
    assert np.all(res.measures[:, :, res.measure_names.index("suppression_ratio")] == 0)
    # DSA peak at 10 Hz in every region
    assert np.all(res.freqs[res.region_spectrogram.astype(float).mean(0).argmax(-1)] == 10.0)


def test_rhythmicity_noise_low_and_paf_off_bin():
    n = int(120 * SFREQ)
    t = np.arange(n) / SFREQ
    data = _noise(2, n, 10.0, seed=3)
    data[1] = 20 * np.sin(2 * np.pi * 9.3 * t) + _noise(1, n, 1.0, seed=4)[0]
    res = compute_qeeg(_raw(data, ["O1", "O2"]), aperiodic_window=None)
    rhythm = res.measures[:, :2, res.measure_names.index("rhythmicity")]
    assert np.median(rhythm[:, 0]) < 0.3 and np.median(rhythm[:, 1]) > 0.8
    assert abs(np.nanmedian(res.measure("peak_alpha_freq", "O2")) - 9.3) < 0.15


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_left_rhythm_asymmetry_sign(mode):
    n = int(60 * SFREQ)
    t = np.arange(n) / SFREQ
    data = _noise(len(CH), n, 5.0, seed=1)
    left = [CH.index(c) for c in ("Fp1", "F3", "C3", "P3", "O1", "F7", "T7", "P7")]
    data[left] += 30 * np.sin(2 * np.pi * 8 * t)
    res = compute_qeeg(_raw(data), aperiodic_window=None, asymmetry_mode=mode)
    k8 = int(np.flatnonzero(res.freqs == 8.0)[0])
    assert res.pair_names[0] == "left-right"
    asym8 = res.asymmetry[:, :, k8].astype(float).mean(0)
    assert np.all(asym8 > 0.5), dict(zip(res.pair_names, asym8, strict=True))
    # mirrored: the right side gives the opposite sign
    res_r = compute_qeeg(
        _raw(data[[CH.index(c) for c in ("Fp2", "Fp1")]], ["Fp1", "Fp2"]), aperiodic_window=None, asymmetry_mode=mode
    )
    assert res_r.asymmetry[:, 0, k8].astype(float).mean() < -0.5


def _burst_suppression(duration=600.0, period=10.0, burst=3.0, seed=2):
    n = int(duration * SFREQ)
    t = np.arange(n) / SFREQ
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 0.7, (4, n))  # suppressed background: |x| well below 5 µV
    in_burst = (t % period) < burst
    wave = 60 * np.sin(2 * np.pi * 3 * t) + 30 * np.sin(2 * np.pi * 7.7 * t)
    data[:, in_burst] += wave[in_burst]
    return _raw(data, ["C3", "C4", "P3", "P4"]), 100 * (1 - burst / period)


def test_burst_suppression_ratio_and_events():
    raw, expected = _burst_suppression()
    res = compute_qeeg(raw, window=2.0, step=1.0, aperiodic_window=None)
    # over whole 10 s cycles the suppression ratio is known: 70 %
    sr = res.suppression
    assert abs(sr.mean() - expected) < 5.0, sr.mean()
    ev = res.burst_suppression
    assert len(ev) == 1 and (ev["eventType"] == "burst_suppression").all()
    assert ev["onset"].iloc[0] < 60 and ev["duration"].iloc[0] > 500
    # continuous activity: no suppression, no event
    n = int(300 * SFREQ)
    res2 = compute_qeeg(_raw(_noise(4, n, 20.0), ["C3", "C4", "P3", "P4"]), aperiodic_window=None)
    assert res2.suppression.max() < 1.0 and res2.burst_suppression.empty


@pytest.mark.parametrize(("freq", "gain"), [(10.0, 1.0), (5.0, 0.5**0.6)])
def test_aeeg_sine_margins(freq, gain):
    n = int(120 * SFREQ)
    t = np.arange(n) / SFREQ
    data = np.zeros((4, n))
    data[0] = 25 * np.sin(2 * np.pi * freq * t)  # C3; P3 = 0 so C3-P3 is the sine
    data[2] = 2.5 * np.sin(2 * np.pi * freq * t)  # C4
    res = compute_qeeg(_raw(data, ["C3", "P3", "C4", "P4"]), aperiodic_window=None)
    a = res.aeeg
    assert list(a["pair"].unique()) == ["C3-P3", "C4-P4"]
    assert len(a) == 2 * 8 and np.allclose(a["start"].iloc[:8], np.arange(8) * 15.0)
    c3 = a[a["pair"] == "C3-P3"]
    c4 = a[a["pair"] == "C4-P4"]
    # peak-to-peak amplitude × filter gain (12 dB/decade, 1 at 10 Hz)
    np.testing.assert_allclose(c3[["lower", "upper"]].to_numpy(), 50 * gain, rtol=0.03)
    np.testing.assert_allclose(c4[["lower", "upper"]].to_numpy(), 5 * gain, rtol=0.03)


def test_chunk_invariance():
    n = int(900 * SFREQ)
    raw, _ = _burst_suppression(duration=900.0)
    data = raw.get_data() * 1e6
    data[0] += 20 * np.sin(2 * np.pi * 9 * np.arange(n) / SFREQ)
    raw = _raw(data, ["C3", "C4", "P3", "P4"])
    a = compute_qeeg(raw, chunk_duration=600.0, aperiodic_window=300.0)
    b = compute_qeeg(raw, chunk_duration=137.0, aperiodic_window=300.0, n_jobs=2)
    np.testing.assert_allclose(a.measures, b.measures, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(a.spectrogram, b.spectrogram)
    np.testing.assert_allclose(a.asymmetry.astype(float), b.asymmetry.astype(float), atol=2e-3)
    pd.testing.assert_frame_equal(a.aeeg, b.aeeg, rtol=1e-4)
    pd.testing.assert_frame_equal(a.aperiodic, b.aperiodic, rtol=1e-3)
    np.testing.assert_allclose(a.artifact, b.artifact, atol=1e-4)


def test_artifact_strength_in_the_stream():
    """compute_qeeg's artifact strength is artifact_strength's, epoch for epoch, on a recording with artifacts."""
    from dbrain.qeeg import artifact_strength
    from dbrain.simulate import simulate_eeg

    raw, events = simulate_eeg(600, artifacts=True, seed=5)
    raw.pick("eeg")
    res = compute_qeeg(raw, chunk_duration=100.0, aperiodic_window=None)
    scores, dominant, _ = artifact_strength(raw.get_data(), raw.info["sfreq"], raw.ch_names)
    assert res.artifact.shape == scores.shape
    np.testing.assert_allclose(res.artifact, scores, atol=1e-4)
    assert np.mean(res.artifact_type == dominant) > 0.999
    assert res.artifact.max() > 0.9  # the simulated artifacts are there to be found
    frame = res.to_frame(resolution=None, regions=False)
    art = frame[frame["measure"] == "artifact_strength"]
    assert len(art) == scores.size
    np.testing.assert_allclose(art["value"].to_numpy().reshape(scores.shape), res.artifact)


def test_streaming_lazy_edf(tmp_path):
    from dbrain.simulate import write_simulated_edf

    path, _ = write_simulated_edf(tmp_path / "sim.edf", "1h", seed=1)
    raw, _ = read_recording(path)
    assert not raw.preload
    progress = []
    res = compute_qeeg(raw, on_progress=progress.append, aperiodic_window=1800.0)
    assert not raw.preload
    assert res.times.size == 3599 and len(res.ch_names) == 19 and progress[-1] == 1.0
    assert res.spectrogram.shape == (3599, 19, res.freqs.size) and res.freqs[0] == 0.5 and res.freqs[-1] == 30.0
    assert res.region_names == ["left", "right", "frontal", "central", "temporal", "parietal", "occipital"]
    assert len(res.aperiodic) == 2 * 19
    assert res.aperiodic["exponent"].between(0.3, 4).all()
    # simulated posterior alpha: O1 alpha-dominant with a peak near 10 Hz
    assert np.nanmedian(res.measure("peak_alpha_freq", "O1")) == pytest.approx(10.0, abs=0.7)
    assert np.median(res.measure("rel_alpha", "O1")) > np.median(res.measure("rel_alpha", "Fp1"))
    frame = res.to_frame(resolution=60.0)
    assert list(frame.columns) == ["start", "channel", "measure", "value"]
    assert frame["channel"].dtype == "category" and frame["value"].dtype == np.float32
    assert {"aeeg_lower", "aeeg_upper", "aperiodic_exponent", "asymmetry", "rel_alpha"} <= set(frame["measure"].cat.categories)
    assert frame["start"].nunique() == 240  # 60 minutes + 15 s aEEG segments
    fig = plot_trends(res, artifact=np.zeros((3599, 19)), ecg=np.full(3599, 70.0))
    assert len(fig.axes) >= 7
    # the asymmetry colour bar says the qEEG tables' sign, in the words page 1 of the report uses
    assert [ax.get_ylabel() for ax in fig.axes].count(ASYMMETRY_LABEL) == 1 and ASYMMETRY_LABEL.startswith("(L−R)/(L+R)")


def _mne_band_powers(raw, picks, n_win, n_step):
    psd = raw.compute_psd(
        method="welch",
        fmin=0,
        fmax=raw.info["sfreq"] / 2,
        n_fft=n_win,
        n_per_seg=n_win,
        n_overlap=n_win - n_step,
        window="hann",
        picks=picks,
        reject_by_annotation=False,
        verbose="error",
    )
    p, f = psd.get_data() * 1e12, psd.freqs  # V²/Hz -> µV²/Hz
    bands = {k: (lo, min(hi, raw.info["sfreq"] / 2)) for k, (lo, hi) in BANDS.items()}
    return (p @ band_masks(f, bands).astype(float)) * (f[1] - f[0])


@pytest.mark.parametrize(
    "rel",
    [
        "formats/eeglab-sample-data/sample_data/eeglab_data.set",
        "formats/eeglab-sample-data/sample_data/test_data/test.edf",
        "formats/mne-testing-data/EDF/test_reduced.edf",
    ],
)
def test_band_powers_match_mne(shared_data, rel):
    path = shared_data / rel
    if not path.exists():
        pytest.skip(f"{path} not found")
    raw, _ = read_recording(path)
    raw.info["bads"] = []
    sfreq = raw.info["sfreq"]
    res = compute_qeeg(raw, aperiodic_window=None, aeeg_pairs=[], fmax=min(30.0, sfreq / 2))
    n_win, n_step = int(round(2 * sfreq)), int(round(sfreq))
    ref = _mne_band_powers(raw, res.ch_names, n_win, n_step)  # (ch, band)
    ours = res.measures[:, : len(res.ch_names), : len(BANDS)].astype(np.float64).mean(axis=0)  # mean over epochs = Welch
    valid = ref > 1e-6 * ref.max()
    np.testing.assert_allclose(ours[valid], ref[valid], rtol=0.01)


def test_validation():
    raw = _raw(_noise(2, int(30 * SFREQ), 10), ["C3", "C4"])
    with pytest.raises(ParameterError, match="step"):
        compute_qeeg(raw, window=2.0, step=3.0)
    with pytest.raises(ParameterError, match="fmax"):
        compute_qeeg(raw, fmax=200.0)
    with pytest.raises(ParameterError, match="asymmetry_mode"):
        compute_qeeg(raw, asymmetry_mode="abs")
    with pytest.raises(ParameterError, match="aeeg_pairs"):
        compute_qeeg(raw, aeeg_pairs=["C3-P3"])
    with pytest.raises(ParameterError, match="raw must be"):
        compute_qeeg(np.zeros((2, 100)))
    with pytest.raises(ParameterError, match="shorter than one window"):
        compute_qeeg(_raw(_noise(2, 100, 1), ["C3", "C4"]))
    res = compute_qeeg(raw, aperiodic_window=None)
    assert res.aeeg.empty and res.aperiodic.empty and res.region_names == ["left", "right", "central"]
    with pytest.raises(ParameterError, match="resolution"):
        res.to_frame(resolution=0)


@pytest.mark.parametrize("min_len", [1, 64, 128, 129])
def test_suppressed_counts_is_an_opening(min_len):
    """Run-based counts equal the per-sample definition: a flat morphological opening of |y| < threshold."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    from dbrain.qeeg._aeeg import suppressed_counts

    rng = np.random.default_rng(min_len)
    y = rng.normal(0, 20, (3, 20_000)).astype(np.float32)
    for c in range(3):  # low stretches of random lengths, some shorter than min_len
        for s0 in rng.integers(0, 19_500, 40):
            y[c, s0 : s0 + rng.integers(10, 400)] *= 0.05
    y[2, :3000] = 0.0  # a run touching the start
    valid = (500, 19_700)
    size = 2 * (min_len // 2) + 1
    low = (np.abs(y) < 5.0).astype(np.uint8)
    low[:, : valid[0]] = 0
    low[:, valid[1] :] = 0
    mask = maximum_filter1d(minimum_filter1d(low, size, axis=-1, mode="constant", cval=0), size, axis=-1, mode="constant", cval=0)
    starts = np.arange(0, 19_000, 256)
    expected = np.stack([[mask[c, s : s + 512].sum() for s in starts] for c in range(3)])
    np.testing.assert_array_equal(suppressed_counts(y, 5.0, min_len, starts, 512, valid=valid), expected)


def test_time_ticks_clock_and_elapsed():
    import datetime as dt

    from dbrain.qeeg._trends import time_ticks

    start = dt.datetime(2026, 11, 22, 8, 17, 30, tzinfo=dt.UTC)
    ticks, labels, xlabel = time_ticks(24 * 3600.0, start)
    # round clock hours; across midnight every label carries the day (dbrain.utils._time's convention)
    assert labels[:3] == ["D1 10:00", "D1 12:00", "D1 14:00"] and labels[-1] == "D2 08:00"
    np.testing.assert_allclose(ticks[0], 3600 + 42 * 60 + 30)  # 10:00 is 1 h 42 min 30 s after 08:17:30
    assert np.all(np.diff(ticks) == 7200) and "2026-11-22 08:17:30" in xlabel and "D1" in xlabel
    ticks, labels, _ = time_ticks(50.0, start.replace(second=33))
    assert labels[0] == "08:17:40" and len(ticks) == 5 and ticks[0] == 7.0  # within one day: no prefix
    # a 6 h page of that recording starting at hour 12: the day rule is the recording's, not the page's
    ticks, labels, _ = time_ticks(6 * 3600.0, start, tmin=3600.0, multiday=True)
    assert labels[0] == "D1 09:30" and ticks[0] == pytest.approx(3600 + 12 * 60 + 30)
    ticks, labels, xlabel = time_ticks(3 * 3600.0, None)
    assert labels[:3] == ["+0:00", "+0:15", "+0:30"] and "unknown" in xlabel
    _, labels, _ = time_ticks(50.0, None)
    assert labels[:2] == ["+0:00:00", "+0:00:10"]
