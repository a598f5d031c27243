"""Per-epoch power spectra, vectorised over channels and epochs, and asymmetry.

One epoch = one Hann-windowed periodogram of ``window`` seconds after
removing its mean, one-sided, in µV²/Hz. The mean of these over all epochs is
exactly MNE's Welch estimate with ``n_per_seg = n_fft = window`` samples,
``n_overlap = window - step`` and ``window="hann"`` (MNE also removes the
mean of each segment), which is what the tests compare against.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import get_window

_TINY = np.float32(1e-12)

#: How every asymmetry is labelled to a reader (report, trend figure): the qEEG tables' own sign, positive = more
#: power on the left. A value stored with the other sign (the diagnosis features' (R - L)/(R + L)) is negated
#: before it is shown, so one report never shows the same asymmetry with two signs.
ASYMMETRY_LABEL = "(L−R)/(L+R), + = left"


class EpochSpectrum:
    """Periodogram of fixed-length epochs taken every ``n_step`` samples."""

    def __init__(self, sfreq: float, n_win: int, n_step: int, workers: int = 1):
        self.sfreq = float(sfreq)
        self.n_win = int(n_win)
        self.n_step = int(n_step)
        self.workers = workers
        self.taper = get_window("hann", self.n_win).astype(np.float32)  # periodic Hann, as MNE/scipy Welch
        full = scipy.fft.rfft(self.taper.astype(np.float64))
        last = int(np.flatnonzero(np.abs(full) > 1e-6 * abs(full[0])).max())  # 1 for the periodic Hann window
        self.taper_fft = full[: last + 1].astype(np.complex64)
        self.freqs = scipy.fft.rfftfreq(self.n_win, 1.0 / self.sfreq)
        scale = np.full(self.freqs.size, 2.0 / (self.sfreq * float((self.taper.astype(np.float64) ** 2).sum())))
        scale[0] /= 2.0
        if self.n_win % 2 == 0:
            scale[-1] /= 2.0
        self.scale = scale.astype(np.float32)

    def __call__(self, data: np.ndarray, n_epochs: int) -> np.ndarray:
        """PSD of ``n_epochs`` epochs of ``data`` (n_channels, n_times) µV → (n_epochs, n_channels, n_freqs).

        The result is a transposed view of a (n_channels, n_epochs, n_freqs)
        array: tapering the strided epoch view writes the contiguous copy the
        FFT needs in the same pass.
        """
        view = sliding_window_view(data, self.n_win, axis=-1)[:, :: self.n_step][:, :n_epochs]  # (ch, ep, win)
        seg = np.multiply(view, self.taper, dtype=np.float32)
        spec = scipy.fft.rfft(seg, axis=-1, workers=self.workers)
        del seg
        # Remove each epoch's mean after the FFT: rfft(taper·(x - m)) = rfft(taper·x) - m·rfft(taper),
        # and rfft of the periodic Hann window is non-zero at bins 0 and 1 only.
        means = epoch_means(data, n_epochs, self.n_win, self.n_step).astype(np.float32)  # (ch, ep)
        for k, w in enumerate(self.taper_fft):
            spec[..., k] -= means * w
        psd = np.empty(spec.shape, np.float32)
        np.multiply(spec.real, spec.real, out=psd)
        psd += spec.imag * spec.imag
        psd *= self.scale
        return psd.transpose(1, 0, 2)


def epoch_means(data: np.ndarray, n_epochs: int, n_win: int, n_step: int) -> np.ndarray:
    """Mean of each epoch ``data[:, k·n_step : k·n_step + n_win]`` → (n_channels, n_epochs), float64.

    From step-long block sums when the window is a whole number of steps
    (each sample summed once), else from a cumulative sum.
    """
    m, r = divmod(n_win, n_step)
    if r == 0 and (n_epochs - 1 + m) * n_step <= data.shape[-1]:
        nb = n_epochs - 1 + m
        blocks = data[:, : nb * n_step].reshape(data.shape[0], nb, n_step).sum(axis=-1, dtype=np.float64)
        total = blocks[:, :n_epochs].copy()
        for j in range(1, m):
            total += blocks[:, j : j + n_epochs]
        return total / n_win
    cs = np.concatenate([np.zeros((data.shape[0], 1)), np.cumsum(data, axis=-1, dtype=np.float64)], axis=-1)
    starts = np.arange(n_epochs) * n_step
    return (cs[:, starts + n_win] - cs[:, starts]) / n_win


def to_db(power: np.ndarray) -> np.ndarray:
    """10·log10 of power (µV²/Hz → dB re 1 µV²/Hz), floored at -120 dB."""
    out = np.log(np.maximum(power, _TINY))  # natural log: vectorised for float32, unlike log10
    out *= np.float32(10.0 / np.log(10.0))
    return out


def asymmetry(left: np.ndarray, right: np.ndarray, *, mode: str = "relative") -> np.ndarray:
    """Signed spectral asymmetry per frequency, in [-1, 1] (positive = more on the left).

    ``mode="relative"``: each side's spectrum is first divided by its own total
    power over the frequencies given (relative power per frequency, so a
    global amplitude difference between sides cancels), then
    ``(rL(f) - rR(f)) / (rL(f) + rR(f))``. ``mode="absolute"``: the same
    ratio on absolute power, ``(PL(f) - PR(f)) / (PL(f) + PR(f))``. The
    absolute form is the per-frequency, signed term of the pairwise brain
    symmetry index of van Putten (Clin Neurophysiol 2007;118:2362-2367).

    Parameters
    ----------
    left, right : numpy.ndarray, shape (..., n_freqs)
        Power spectra of the left and right side (any unit, the same for both);
        the last axis is frequency.
    mode : ``"relative"`` | ``"absolute"``
        Compare relative (per-side normalised) or absolute power.

    Returns
    -------
    asym : numpy.ndarray, shape (..., n_freqs)
        Asymmetry per frequency in [-1, 1]; positive = more power on the left.
    """
    if mode == "relative":
        left = left / np.maximum(left.sum(axis=-1, keepdims=True), _TINY)
        right = right / np.maximum(right.sum(axis=-1, keepdims=True), _TINY)
    return (left - right) / np.maximum(left + right, _TINY)
