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

AEEG_BLOCK = 0.5  # s, envelope block
AEEG_SEGMENT = 15.0  # s, margin segment
AEEG_PERCENTILES = (10.0, 90.0)


def aeeg_response(freqs: np.ndarray) -> np.ndarray:
    """Magnitude response of the aEEG filter, 1 at 10 Hz.

    Parameters
    ----------
    freqs : array-like
        Frequencies (Hz); 0 and below get 0.

    Returns
    -------
    gain : numpy.ndarray
        Amplitude gain at ``freqs``: rising 12 dB/decade from 2 to 15 Hz, with
        36 dB/octave roll-offs below 2 Hz and above 15 Hz.
    """
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


#: The time-domain measures are evaluated at the lowest integer fraction of the
#: sampling rate that stays at or above this rate (Hz): the aEEG filter passes
#: nothing above ~30 Hz and the suppression band-pass ends at 30 Hz.
TIME_DOMAIN_MIN_RATE = 128.0


def decimation_factor(sfreq: float, *multiples_of: int) -> int:
    """Largest ``q`` with ``sfreq / q >= TIME_DOMAIN_MIN_RATE`` that divides every one of ``multiples_of``."""
    for q in range(max(1, int(sfreq // TIME_DOMAIN_MIN_RATE)), 1, -1):
        if all(int(m) % q == 0 for m in multiples_of):
            return q
    return 1


class ChunkFilter:
    """Zero-phase FFT filtering of a padded chunk, evaluated every ``q``-th sample.

    The filtered signal is read back at ``sfreq / q`` by an inverse FFT of the
    lowest ``1/q`` of the spectrum: this is exact for everything below the
    new Nyquist frequency and drops what lies above it (where the filters
    here have almost no gain) instead of aliasing it. Sample ``i`` of the
    output is sample ``q·i`` of the chunk, so chunks whose offsets are
    multiples of ``q`` line up on one grid.
    """

    def __init__(self, sfreq: float, q: int = 1, workers: int = 1):
        self.sfreq = sfreq
        self.q = int(q)
        self.workers = workers
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def spectrum(self, data: np.ndarray) -> tuple[np.ndarray, int, int]:
        n = data.shape[-1]
        nfft = self.q * scipy.fft.next_fast_len(-(-n // self.q), real=True)
        return scipy.fft.rfft(data, n=nfft, axis=-1, workers=self.workers), n, nfft

    def responses(self, nfft: int) -> tuple[np.ndarray, np.ndarray]:
        """Band-pass (suppression) and aEEG responses on the bins that :meth:`apply` keeps."""
        cached = self._cache.get(nfft)
        if cached is None:  # thread-safe enough: a race only computes the same arrays twice
            keep = nfft // self.q // 2 + 1
            f = scipy.fft.rfftfreq(nfft, 1.0 / self.sfreq)[:keep]
            bp, ae = bandpass_response(f).astype(np.float32), aeeg_response(f).astype(np.float32)
            if self.q > 1:  # the kept top bin is the new Nyquist: irfft would fold it, so drop it
                bp[-1] = ae[-1] = 0.0
            cached = (bp, ae)
            self._cache[nfft] = cached
        return cached

    def apply(self, spec: np.ndarray, h: np.ndarray, n: int, nfft: int) -> np.ndarray:
        """Filtered chunk at ``sfreq / q``: ``ceil(n / q)`` samples."""
        m = nfft // self.q
        y = scipy.fft.irfft(spec[..., : h.size] * h, n=m, axis=-1, workers=self.workers)[..., : -(-n // self.q)]
        if self.q > 1:
            y *= np.float32(1.0 / self.q)
        return y


def suppressed_counts(
    y: np.ndarray, threshold: float, min_len: int, starts: np.ndarray, length: int, valid: tuple[int, int] | None = None
) -> np.ndarray:
    """Suppressed samples in each window ``[start, start + length)`` → (n_channels, n_windows), int32.

    A sample is suppressed when it lies in a run of at least ``min_len``
    consecutive samples with ``|y| < threshold`` (the same as a morphological
    opening of the low-amplitude mask with a flat window of ``min_len``
    samples, made odd so that it is centred). Runs are found once per
    channel and each window's count comes from the runs' cumulative lengths,
    so no per-sample mask is built. Samples outside ``valid`` (the zero
    padding beyond the recording) never count as low.
    """
    need = 2 * (int(min_len) // 2) + 1
    n = y.shape[-1]
    lo, hi = (0, n) if valid is None else valid
    starts = np.asarray(starts, np.int64)
    stops = starts + int(length)
    out = np.zeros((y.shape[0], starts.size), np.int32)
    low = np.abs(y[:, lo:hi]) < threshold
    for c in range(y.shape[0]):
        edges = np.flatnonzero(np.diff(low[c].view(np.int8), prepend=np.int8(0), append=np.int8(0)))
        r0, r1 = edges[0::2] + lo, edges[1::2] + lo  # runs [r0, r1) in chunk samples
        keep = (r1 - r0) >= need
        if not keep.any():
            continue
        r0, r1 = r0[keep], r1[keep]
        before = np.concatenate([[0], np.cumsum(r1 - r0)])  # suppressed samples before run j

        def upto(t, r0=r0, r1=r1, before=before):
            # suppressed samples in [0, t): whole runs that start before t, the last one clipped at t
            j = np.searchsorted(r0, t, side="right") - 1
            jj = np.maximum(j, 0)
            part = before[jj] + np.clip(t - r0[jj], 0, r1[jj] - r0[jj])
            return np.where(j >= 0, part, 0)

        out[c] = upto(stops) - upto(starts)
    return out


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
