"""Continuous signals computed from the absolute sample index: ECG and line noise.

Both depend only on the sample number, never on how the recording is cut
into chunks.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from . import _layout

# ECG beat template: (amplitude relative to R, latency from R in s, width in s)
# for the P, Q, R, S and T waves.
_PQRST = ((0.12, -0.20, 0.025), (-0.10, -0.03, 0.008), (1.0, 0.0, 0.010), (-0.25, 0.03, 0.010), (0.30, 0.28, 0.050))
_BEAT_WINDOW = (-0.3, 0.5)  # s around the R peak


class Ecg:
    """A lead-II-like ECG in µV: heart rate with respiratory sinus arrhythmia and slow drift.

    Parameters
    ----------
    n_times : int
        Samples in the recording.
    sfreq : float
        Sampling rate.
    rng : numpy.random.Generator
        Draws the heart rate, its variability and the beat amplitude.
    """

    def __init__(self, n_times: int, sfreq: float, rng: np.random.Generator):
        self.sfreq = sfreq
        self.heart_rate = rng.uniform(58.0, 82.0)
        rr0 = 60.0 / self.heart_rate
        self.r_amplitude = rng.uniform(600.0, 1200.0)
        n_beats = int(np.ceil(n_times / sfreq / (0.85 * rr0))) + 4
        # AR(1) beat-to-beat variability plus respiratory sinus arrhythmia at ~0.25 Hz.
        drift = signal.lfilter([np.sqrt(1 - 0.95**2)], [1.0, -0.95], rng.standard_normal(n_beats))
        breath = rng.uniform(0.2, 0.3)
        rr = rr0 * (1.0 + 0.04 * np.sin(2 * np.pi * breath * rr0 * np.arange(n_beats)) + 0.03 * drift)
        first = rng.uniform(0.0, rr0)
        beats = np.round((first + np.concatenate([[0.0], np.cumsum(rr)[:-1]])) * sfreq).astype(np.int64)
        self.r_peaks = beats[beats < n_times + int(sfreq)]
        lo, hi = (round(w * sfreq) for w in _BEAT_WINDOW)
        self._offsets = np.arange(lo, hi + 1)
        t = self._offsets / sfreq
        self._template = self.r_amplitude * sum(a * np.exp(-((t - mu) ** 2) / (2 * s**2)) for a, mu, s in _PQRST)
        self._wander = (rng.uniform(10.0, 40.0), breath, rng.uniform(0, 2 * np.pi))

    def render(self, start: int, stop: int) -> np.ndarray:
        """ECG for samples ``start:stop``."""
        out = np.zeros(stop - start)
        lo, hi = self._offsets[0], self._offsets[-1]
        first, last = np.searchsorted(self.r_peaks, [start - hi, stop - lo])
        for r in self.r_peaks[first:last]:
            a, b = max(start, r + lo), min(stop, r + hi + 1)
            out[a - start : b - start] += self._template[a - r - lo : b - r - lo]
        amp, freq, phase = self._wander
        out += amp * np.sin(2 * np.pi * freq * np.arange(start, stop) / self.sfreq + phase)
        return out


class LineNoise:
    """Mains interference at ``line_freq`` and its harmonics below Nyquist, in µV per electrode.

    Most electrodes pick up 1–4 µV; one electrode with poor contact picks up
    10–25 µV. The ECG channel picks up 2–6 µV.
    """

    def __init__(self, sfreq: float, line_freq: float, n_channels: int, rng: np.random.Generator):
        self.sfreq = int(sfreq)
        harmonics = [h for h in (1, 2, 3) if h * line_freq < sfreq / 2 - 1]
        self.freqs = [int(h * line_freq) for h in harmonics]
        amp = rng.uniform(1.0, 4.0, size=n_channels)
        amp[int(rng.integers(len(_layout.CHANNELS)))] = rng.uniform(10.0, 25.0)
        if n_channels > len(_layout.CHANNELS):
            amp[len(_layout.CHANNELS) :] = rng.uniform(2.0, 6.0, size=n_channels - len(_layout.CHANNELS))
        phase = rng.uniform(0, 2 * np.pi, size=(len(harmonics), n_channels))
        scale = np.array([0.2 ** (h - 1) for h in harmonics])[:, None] * amp[None, :]
        # The interference is periodic: with integer frequencies it repeats every
        # sfreq / gcd(sfreq, frequencies) samples, so one period is tabulated.
        self.period = self.sfreq // int(np.gcd.reduce([self.sfreq, *self.freqs]))
        n = np.arange(self.period, dtype=np.int64)
        table = np.zeros((n_channels, self.period))
        for k, f in enumerate(self.freqs):
            angle = (2 * np.pi / self.sfreq) * ((f * n) % self.sfreq)
            table += scale[k][:, None] * np.sin(angle[None, :] + phase[k][:, None])
        self._table = table

    def render(self, start: int, stop: int) -> np.ndarray:
        """Line noise for samples ``start:stop``, shape (n_channels, n)."""
        return np.take(self._table, np.arange(start, stop, dtype=np.int64) % self.period, axis=1)
