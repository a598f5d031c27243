"""The display filters shared by the report's EEG page and the viewer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from dbrain.preprocessing import display_padding, filter_display

SFREQ = 256.0


def _amplitude(x: np.ndarray, freq: float) -> float:
    """Amplitude of the ``freq`` component of a 1-D signal (whole cycles, middle half to skip the edges)."""
    n = x.size
    mid = x[n // 4 : 3 * n // 4]
    t = np.arange(mid.size) / SFREQ
    return float(2 * np.abs(np.mean(mid * np.exp(-2j * np.pi * freq * t))))


def _tones(*freqs: float, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(int(seconds * SFREQ)) / SFREQ
    return np.array([sum(np.sin(2 * np.pi * f * t) for f in freqs)])


def test_each_filter_removes_its_band_and_keeps_the_rest():
    x = _tones(0.1, 10.0, 50.0, 100.0)
    y, used = filter_display(x, SFREQ, highpass=1.0, lowpass=None, notch=50.0)
    assert used == {"highpass": 1.0, "lowpass": None, "notch": 50.0}
    assert _amplitude(y[0], 10.0) == pytest.approx(1.0, abs=0.02)  # the EEG band passes
    assert _amplitude(y[0], 0.1) < 0.05  # drift removed
    assert _amplitude(y[0], 50.0) < 0.02 and _amplitude(y[0], 100.0) < 0.02  # mains and its harmonic
    y, _ = filter_display(x, SFREQ, lowpass=30.0)
    assert _amplitude(y[0], 50.0) < 0.1 and _amplitude(y[0], 10.0) == pytest.approx(1.0, abs=0.02)


def test_zero_phase_keeps_a_spike_in_place():
    x = np.zeros((1, 2048))
    x[0, 1000] = 100.0
    y, _ = filter_display(x, SFREQ, highpass=1.0, lowpass=70.0, notch=50.0)
    assert int(np.argmax(np.abs(y[0]))) == 1000


def test_design_is_the_documented_one():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4096))
    y, _ = filter_display(x, SFREQ, highpass=0.5, lowpass=35.0)
    expected = signal.sosfiltfilt(signal.butter(2, 0.5, "highpass", fs=SFREQ, output="sos"), x, axis=1)
    expected = signal.sosfiltfilt(signal.butter(4, 35.0, "lowpass", fs=SFREQ, output="sos"), expected, axis=1)
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_off_settings_short_segments_and_near_nyquist():
    x = _tones(10.0)
    y, used = filter_display(x, SFREQ)
    assert used == {"highpass": None, "lowpass": None, "notch": None}
    np.testing.assert_array_equal(y, x)
    assert y is not x  # always a new array
    # At or above 90 % of Nyquist a corner is off (it would remove nothing but distort).
    _, used = filter_display(x, SFREQ, lowpass=120.0, notch=60.0)
    assert used == {"highpass": None, "lowpass": None, "notch": 60.0}
    short = x[:, :15]
    y, used = filter_display(short, SFREQ, highpass=1.0)
    assert used["highpass"] is None
    np.testing.assert_array_equal(y, short)


def test_missing_samples_stay_local_and_the_input_is_not_changed():
    x = _tones(10.0) + 40.0
    x[0, 2000:2100] = np.nan
    before = x.copy()
    y, _ = filter_display(x, SFREQ, highpass=1.0, lowpass=70.0)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))  # NaN again where it was, nowhere else
    np.testing.assert_array_equal(x, before)
    empty = np.full((1, 512), np.nan)
    assert np.isnan(filter_display(empty, SFREQ, highpass=1.0)[0]).all()


def test_display_padding():
    assert display_padding(200.0, None) == 400  # 2 s
    assert display_padding(200.0, 1.0) == 600  # 3 time constants
    assert display_padding(200.0, 0.01) == 6000  # at most 30 s
    assert display_padding(200.0, 10.0) == 400  # at least 2 s
