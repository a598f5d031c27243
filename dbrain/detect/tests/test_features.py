"""Seizure features: defined in Hz, the same at any sampling rate, bounded-memory streaming."""

from __future__ import annotations

import numpy as np
import pytest

from dbrain.detect import _features as F


def _sine(freq, sfreq, seconds, amp=50.0, seed=0):
    t = np.arange(int(round(seconds * sfreq))) / sfreq
    noise = np.random.default_rng(seed).normal(0, 0.5, t.size)
    return (amp * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.mark.parametrize("sfreq", [64.0, 173.61, 256.0, 512.0])
def test_window_features_are_defined_in_hz(sfreq):
    x = _sine(5.0, sfreq, 2.0)[None, None, :]
    f = dict(zip(F.RAW_COLUMNS, F.window_features(x, sfreq)[0, 0], strict=True))
    assert f["peak_freq"] == pytest.approx(5.0, abs=0.5)
    assert f["rel_theta"] > 0.95
    assert f["peak_share"] > 0.9
    assert f["entropy"] < 0.3
    assert f["mobility"] == pytest.approx(5.0, abs=0.3)
    # amplitude 50 µV sine: power 1250 µV² (all of it inside 1-30 Hz)
    assert 10 ** f["log_power"] == pytest.approx(1250.0, rel=0.1)
    assert np.isnan(f["rel_hf"]) == (sfreq < 92)


def test_one_second_segments_are_zero_padded_to_two():
    sfreq = 64.0
    short = F.segment_features(_sine(9.0, sfreq, 1.0)[None, None, :], sfreq)
    assert short.shape == (1, 1, 1, len(F.FEATURES))
    f = dict(zip(F.FEATURES, short[0, 0, 0], strict=True))
    assert f["peak_freq"] == pytest.approx(9.0, abs=0.5)
    assert np.isnan(f["log_power_bg"])  # no background for isolated segments


def test_window_grid_uses_exact_seconds_for_fractional_rates():
    sfreq = 173.61
    n = F.n_windows(4097, sfreq)
    assert n == 22  # 23.6 s: windows starting at 0 … 21 s
    starts = F.window_starts(n, sfreq)
    assert starts[-1] == round(21 * sfreq)


def test_streaming_is_independent_of_chunk_size_and_background_is_relative():
    sfreq = 128.0
    rng = np.random.default_rng(1)
    data = rng.normal(0, 20, (3, int(600 * sfreq))).astype(np.float32)
    data[1, int(300 * sfreq) : int(340 * sfreq)] += _sine(4.0, sfreq, 40.0, amp=150)
    a = F.recording_features(data, sfreq, chunk_windows=37)
    b = F.recording_features(data, sfreq, chunk_windows=600)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    k = F.FEATURES.index("log_power_bg")
    assert abs(np.median(a[:, 0, k])) < 0.05  # background windows sit at their own median
    assert a[305:335, 1, k].min() > 0.8  # the rhythmic burst stands out of channel 1's background
    # 10× the amplitude everywhere changes absolute power but not the normalised features
    c = F.recording_features(data * 10, sfreq)
    np.testing.assert_allclose(c[..., k], a[..., k], atol=1e-3)


def test_short_recordings_have_no_background():
    data = np.random.default_rng(2).normal(0, 20, (2, 60 * 100)).astype(np.float32)
    X = F.recording_features(data, 100.0)
    assert X.shape == (59, 2, len(F.FEATURES))
    assert np.isnan(X[..., F.FEATURES.index("log_power_bg")]).all()
    assert np.isfinite(X[..., F.FEATURES.index("log_power_sp")]).all()


def test_background_is_local_so_a_long_recording_gives_the_same_features():
    # The background is the median of the surrounding 20 min: a window well inside a 30 min recording has the same
    # features in a 60 min recording that extends it (so a 1 h and a 72 h recording mean the same, away from edges).
    rng = np.random.default_rng(3)
    data = rng.normal(0, 20, (3, 60 * 60 * 64)).astype(np.float32)
    data *= 1 + 0.5 * np.sin(np.arange(data.shape[1]) / (64 * 300.0))[None, :].astype(np.float32)  # slow drift in power
    short = F.recording_features(data[:, : 30 * 60 * 64], 64.0)
    long = F.recording_features(data, 64.0)
    k = slice(600, 800)  # 10-13 min: the whole +-10 min context lies inside both
    np.testing.assert_array_equal(short[k], long[k])
    assert not np.isnan(long[k][..., F.FEATURES.index("log_power_bg")]).any()


def test_two_minutes_is_where_the_background_starts():
    data = np.random.default_rng(4).normal(0, 20, (2, 200 * 64)).astype(np.float32)
    for seconds, missing in ((120, True), (121, False), (200, False)):
        X = F.recording_features(data[:, : seconds * 64], 64.0)
        assert np.isnan(X[..., F.FEATURES.index("log_power_bg")]).all() == missing, seconds


def test_context_features_are_causal_and_mean_rhythm_and_evolution():
    """Context of a window uses only the windows before it: NaN without enough past, the same once more data follows."""
    sfreq = 128.0
    steady = _sine(2.0, sfreq, 40.0)  # a 2 Hz rhythm throughout
    chirp_f = np.linspace(1.5, 6.0, int(40 * sfreq))  # frequency rising over 40 s: evolution
    chirp = (50 * np.sin(2 * np.pi * np.cumsum(chirp_f) / sfreq)).astype(np.float32)
    X = F.recording_features(np.stack([steady, chirp]), sfreq)
    ctx = F.context_features(X)
    names = list(F.CONTEXT_FEATURES)
    rhythm, freq10, change = (names.index(n) for n in ("rhythm_10s", "peak_freq_10s", "freq_change_15s"))
    assert ctx.shape == (X.shape[0], 2, len(names))
    assert np.isnan(ctx[: F.CONTEXT_SPAN - 1, :, rhythm]).all() and np.isfinite(ctx[F.CONTEXT_SPAN - 1 :, :, rhythm]).all()
    assert np.isnan(ctx[:14, :, change]).all() and np.isfinite(ctx[14:, :, change]).all()
    assert (ctx[F.CONTEXT_SPAN - 1 :, 0, rhythm] == 1.0).all()  # the steady rhythm: every window at its median
    np.testing.assert_allclose(ctx[F.CONTEXT_SPAN - 1 :, 0, freq10], 2.0, atol=0.5)
    assert np.abs(ctx[14:, 0, change]).max() <= 0.5  # no evolution
    assert (ctx[14:, 1, change] >= 1.0).all()  # the chirp rises ~1.1 Hz per 10 s
    # causal: appending 20 s leaves the context of every earlier window unchanged
    longer = F.context_features(F.recording_features(np.stack([np.r_[steady, steady[:2560]], np.r_[chirp, chirp[:2560]]]), sfreq))
    np.testing.assert_array_equal(longer[: len(ctx)], ctx)
