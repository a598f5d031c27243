"""Amplitude-integrated EEG and the time-domain suppression measure.

Both are computed on a zero-phase FFT filter of each (padded) chunk: the
chunk is read with ``pad`` seconds of real signal on each side (zeros beyond
the recording's ends), filtered by multiplying its spectrum by a real,
non-negative frequency response, and only the unpadded middle is used. The
impulse responses here die out within a few seconds, so with the default
10 s pad the result does not depend on the chunk size (checked in the tests).

aEEG (cerebral function monitor; Maynard, Prior & Scott, BMJ 1969;4:545-546;
Hellström-Westas et al., NeoReviews 2006;7:e76-e87; a digital version in
Zhang & Ding, Health 2013;5:885-891):

1. asymmetric band-pass: gain rising 12 dB/decade (amplitude ∝ f^0.6) from
   2 to 15 Hz, normalised to 1 at 10 Hz, with 6th-order Butterworth-shaped
   (36 dB/octave) roll-offs below 2 Hz and above 15 Hz;
2. rectification ``|y|``;
3. peak envelope: ``2 · max |y|`` over consecutive 0.5 s blocks, i.e. the
   peak-to-peak amplitude for a sinusoid (the CFM's calibration);
4. per 15 s segment (30 blocks, aligned on the recording start): lower
   margin = 10th percentile, upper margin = 90th percentile of the block
   envelopes, in µV. Displayed on the CFM's semi-log scale (linear
   0–10 µV, logarithmic 10–100 µV) by :func:`dbrain.qeeg.plot_trends`.

Suppression (ACNS 2021 terminology: suppression < 10 µV; the 5 µV
threshold and 0.5 s minimum of the BIS suppression ratio, Rampil,
Anesthesiology 1998;89:980-1002): after a 0.5–30 Hz zero-phase band-pass
(2nd-order Butterworth, applied forward and backward), a sample is
*suppressed* when it lies in a run of at least ``min_suppression`` seconds
during which ``|y| < threshold`` µV.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.ndimage import maximum_filter1d, minimum_filter1d

AEEG_BLOCK = 0.5  # s, envelope block
AEEG_SEGMENT = 15.0  # s, margin segment
AEEG_PERCENTILES = (10.0, 90.0)


def aeeg_response(freqs: np.ndarray) -> np.ndarray:
    """Magnitude response of the aEEG filter at ``freqs`` (Hz), 1 at 10 Hz."""
    f = np.maximum(np.asarray(freqs, float), 1e-6)

    def raw(f):
        shape = (f / 10.0) ** 0.6
        hp = 1.0 / np.sqrt(1.0 + (2.0 / f) ** 12)
        lp = 1.0 / np.sqrt(1.0 + (f / 15.0) ** 12)
        return shape * hp * lp

    h = raw(f) / raw(np.array([10.0]))[0]
    h[np.asarray(freqs) <= 0] = 0.0
    return h


def bandpass_response(freqs: np.ndarray, lo: float = 0.5, hi: float = 30.0, order: int = 2) -> np.ndarray:
    """|H|² of a Butterworth band-pass of ``order`` (forward-backward filtering)."""
    f = np.maximum(np.asarray(freqs, float), 1e-6)
    h2 = 1.0 / (1.0 + (lo / f) ** (2 * order)) / (1.0 + (f / hi) ** (2 * order))
    h2[np.asarray(freqs) <= 0] = 0.0
    return h2


class ChunkFilter:
    """Zero-phase FFT filtering of a padded chunk with a cached response per length."""

    def __init__(self, sfreq: float, workers: int = 1):
        self.sfreq = sfreq
        self.workers = workers
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def spectrum(self, data: np.ndarray) -> tuple[np.ndarray, int, int]:
        n = data.shape[-1]
        nfft = scipy.fft.next_fast_len(n, real=True)
        return scipy.fft.rfft(data, n=nfft, axis=-1, workers=self.workers), n, nfft

    def responses(self, nfft: int) -> tuple[np.ndarray, np.ndarray]:
        cached = self._cache.get(nfft)
        if cached is None:  # thread-safe enough: a race only computes the same arrays twice
            f = scipy.fft.rfftfreq(nfft, 1.0 / self.sfreq)
            cached = (bandpass_response(f).astype(np.float32), aeeg_response(f).astype(np.float32))
            self._cache[nfft] = cached
        return cached

    def apply(self, spec: np.ndarray, h: np.ndarray, n: int, nfft: int) -> np.ndarray:
        return scipy.fft.irfft(spec * h, n=nfft, axis=-1, workers=self.workers)[..., :n]


def suppressed_mask(y: np.ndarray, threshold: float, min_len: int, valid: tuple[int, int] | None = None) -> np.ndarray:
    """Boolean mask of samples in runs of ≥ ``min_len`` samples with ``|y| < threshold`` (last axis).

    A morphological opening (erosion then dilation, flat window of ``min_len``
    samples, made odd so that the window is centred) of the low-amplitude mask.
    Samples outside ``valid`` (the zero padding beyond the recording) never count as low.
    """
    half = int(min_len) // 2
    size = 2 * half + 1
    low = (np.abs(y) < threshold).view(np.uint8) if y.dtype == bool else (np.abs(y) < threshold).astype(np.uint8)
    if valid is not None:
        low[..., : valid[0]] = 0
        low[..., valid[1] :] = 0
    eroded = minimum_filter1d(low, size, axis=-1, mode="constant", cval=0)
    return maximum_filter1d(eroded, size, axis=-1, mode="constant", cval=0).astype(bool)


def block_envelope(y: np.ndarray, block_starts: np.ndarray, n_block: int) -> np.ndarray:
    """``2 · max |y|`` over blocks of ``n_block`` samples starting at ``block_starts`` → (..., n_blocks)."""
    if block_starts.size == 0:
        return np.empty((*y.shape[:-1], 0), np.float32)
    idx = block_starts[:, None] + np.arange(n_block)[None, :]
    return (2.0 * np.abs(y[..., idx]).max(axis=-1)).astype(np.float32)


def margins(envelope: np.ndarray, per_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper margins of consecutive segments of ``per_segment`` blocks (last axis)."""
    n_seg = envelope.shape[-1] // per_segment
    seg = envelope[..., : n_seg * per_segment].reshape(*envelope.shape[:-1], n_seg, per_segment)
    lower, upper = np.percentile(seg, AEEG_PERCENTILES, axis=-1)
    return lower.astype(np.float32), upper.astype(np.float32)
