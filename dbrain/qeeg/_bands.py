"""Band powers and spectral summary measures from per-epoch spectra.

All functions take power spectral densities shaped ``(..., n_freqs)`` in
µV²/Hz on an equally spaced frequency grid and return arrays shaped ``(...)``.
Each frequency bin belongs to at most one band: ``lo <= f < hi``, the highest
band also taking ``f == hi``. Band power is the rectangle-rule integral
``sum(P) * df`` (µV²), as MNE's and YASA's simple band powers.
"""

from __future__ import annotations

import numpy as np

#: Default EEG bands in Hz (gamma is clipped to the Nyquist frequency).
BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}

#: Per-epoch measures, in the order of the last axis of ``QEEGResult.measures``.
MEASURES: tuple[str, ...] = (
    *(f"abs_{b}" for b in BANDS),
    *(f"rel_{b}" for b in BANDS),
    "abs_total",
    "theta_alpha_ratio",
    "peak_alpha_freq",
    "sef90",
    "rhythmicity",
    "suppression_ratio",
)

#: Units of each measure, for tables and figure labels.
UNITS: dict[str, str] = {
    **{f"abs_{b}": "µV²" for b in BANDS},
    **{f"rel_{b}": "fraction" for b in BANDS},
    "abs_total": "µV²",
    "theta_alpha_ratio": "ratio",
    "peak_alpha_freq": "Hz",
    "sef90": "Hz",
    "rhythmicity": "0-1",
    "suppression_ratio": "%",
    "aperiodic_exponent": "1",
    "asymmetry": "-1..1",
    "aeeg_lower": "µV",
    "aeeg_upper": "µV",
}


def band_masks(freqs: np.ndarray, bands: dict[str, tuple[float, float]]) -> np.ndarray:
    """(n_freqs, n_bands) 0/1 matrix of the bins of each band."""
    out = np.zeros((freqs.size, len(bands)), np.float32)
    his = [hi for _, hi in bands.values()]
    top = max(his)
    for k, (lo, hi) in enumerate(bands.values()):
        sel = (freqs >= lo) & ((freqs < hi) | ((hi == top) & (freqs == hi)))
        out[sel, k] = 1.0
    return out


def band_powers(
    psd: np.ndarray, freqs: np.ndarray, bands: dict[str, tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Absolute and relative band powers, and their total.

    Relative power = band power / sum of all band powers (0.5–45 Hz by default).

    Parameters
    ----------
    psd : numpy.ndarray, shape (..., n_freqs)
        Power spectral densities (µV²/Hz) on the equally spaced grid ``freqs``.
    freqs : numpy.ndarray, shape (n_freqs,)
        Frequencies of the last axis of ``psd`` (Hz).
    bands : dict of str to (float, float)
        Band name → ``(lo, hi)`` in Hz (:data:`BANDS`); a bin belongs to ``lo <= f < hi``.

    Returns
    -------
    absolute : numpy.ndarray, shape (..., n_bands)
        Band powers in µV² (rectangle rule), in the order of ``bands``.
    relative : numpy.ndarray, shape (..., n_bands)
        ``absolute`` divided by ``total``.
    total : numpy.ndarray, shape (...)
        Sum of the band powers (µV²).
    """
    df = np.float32(freqs[1] - freqs[0])
    masks = band_masks(freqs, bands)
    absolute = (psd @ masks) * df
    total = absolute.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = absolute / total[..., None]
    return absolute, relative, total


def peak_frequency(psd: np.ndarray, freqs: np.ndarray, fmin: float = 7.0, fmax: float = 13.0) -> np.ndarray:
    """Peak alpha frequency (Hz): the largest local maximum of the PSD in [fmin, fmax].

    The maximum bin is refined by a parabola through the log-power of it and its
    two neighbours (sub-bin precision). NaN when the maximum lies on the edge of
    the range (no peak inside it).

    Parameters
    ----------
    psd : numpy.ndarray, shape (..., n_freqs)
        Power spectral densities (µV²/Hz) on the equally spaced grid ``freqs``.
    freqs : numpy.ndarray, shape (n_freqs,)
        Frequencies of the last axis of ``psd`` (Hz).
    fmin, fmax : float
        Search range (Hz), inclusive.

    Returns
    -------
    peak : numpy.ndarray of float32, shape (...)
        Peak frequency in Hz, NaN without an inner maximum.
    """
    sel = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    lo, hi = sel[0], sel[-1]
    seg = psd[..., lo : hi + 1]
    k = np.argmax(seg, axis=-1)
    inner = (k > 0) & (k < seg.shape[-1] - 1)
    kc = np.clip(k, 1, seg.shape[-1] - 2)
    logp = np.log(np.maximum(seg, 1e-20))
    a = np.take_along_axis(logp, (kc - 1)[..., None], -1)[..., 0]
    b = np.take_along_axis(logp, kc[..., None], -1)[..., 0]
    c = np.take_along_axis(logp, (kc + 1)[..., None], -1)[..., 0]
    den = a - 2 * b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(den < 0, 0.5 * (a - c) / den, 0.0)
    df = freqs[1] - freqs[0]
    out = (freqs[lo] + (kc + np.clip(delta, -0.5, 0.5)) * df).astype(np.float32)
    return np.where(inner, out, np.float32(np.nan))


def spectral_edge(psd: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float, edge: float = 0.9) -> np.ndarray:
    """Spectral edge frequency (Hz): below it lies ``edge`` of the power in [fmin, fmax].

    Linear interpolation of the cumulative power between bin centres.

    Parameters
    ----------
    psd : numpy.ndarray, shape (..., n_freqs)
        Power spectral densities (µV²/Hz) on the equally spaced grid ``freqs``.
    freqs : numpy.ndarray, shape (n_freqs,)
        Frequencies of the last axis of ``psd`` (Hz).
    fmin, fmax : float
        Frequency range (Hz) whose power is counted, inclusive.
    edge : float
        Fraction of the power below the edge (0.9 for SEF90).

    Returns
    -------
    sef : numpy.ndarray of float32, shape (...)
        Spectral edge frequency in Hz.
    """
    sel = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    f = freqs[sel]
    cum = np.cumsum(psd[..., sel], axis=-1)
    target = edge * cum[..., -1:]
    k = np.clip((cum < target).sum(axis=-1), 1, f.size - 1)
    c0 = np.take_along_axis(cum, (k - 1)[..., None], -1)[..., 0]
    c1 = np.take_along_axis(cum, k[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((target[..., 0] - c0) / (c1 - c0), 0.0, 1.0)
    return (f[k - 1] + frac * (f[k] - f[k - 1])).astype(np.float32)


def rhythmicity(psd: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float, half_width: float = 1.0) -> np.ndarray:
    """Rhythmicity index in [0, 1]: spectral concentration of the 1/f-corrected spectrum.

    A straight line is fitted to log P against log f over [max(fmin, 1), fmax]
    (least squares, per spectrum) and the spectrum divided by it (whitened).
    The index is the share of the whitened power lying within ``half_width`` Hz
    of its largest bin. A pure sinusoid gives ≈ 1; white or 1/f noise gives
    ≈ (2·half_width/df + 1)/n_bins times a small factor for the largest
    chance peak (about 0.1–0.2 with 2 s epochs over 0.5–30 Hz).

    Parameters
    ----------
    psd : numpy.ndarray, shape (..., n_freqs)
        Power spectral densities (µV²/Hz) on the equally spaced grid ``freqs``.
    freqs : numpy.ndarray, shape (n_freqs,)
        Frequencies of the last axis of ``psd`` (Hz).
    fmin, fmax : float
        Frequency range (Hz) of the fit and of the index (the fit starts at 1 Hz at the lowest).
    half_width : float
        Half-width (Hz) of the peak window.

    Returns
    -------
    index : numpy.ndarray of float32, shape (...)
        Rhythmicity in [0, 1].
    """
    sel = np.flatnonzero((freqs >= max(fmin, 1.0)) & (freqs <= fmax))
    f = freqs[sel]
    # Natural logarithms: the fit and the whitening are the same in any base, and float32 log/exp are vectorised.
    logp = np.log(np.maximum(psd[..., sel], np.float32(1e-20)), dtype=np.float32)
    x = np.stack([np.ones_like(f), np.log(f)], axis=1)
    coef = logp @ np.linalg.pinv(x).T.astype(np.float32)  # (..., 2)
    logp -= coef @ x.T.astype(np.float32)
    white = np.exp(logp, out=logp)
    total = white.sum(axis=-1)
    k = np.argmax(white, axis=-1)
    hw = int(round(half_width / (freqs[1] - freqs[0])))
    idx = k[..., None] + np.arange(-hw, hw + 1)
    inside = (idx >= 0) & (idx < f.size)
    near = np.take_along_axis(white, np.clip(idx, 0, f.size - 1), -1)
    peak = np.where(inside, near, np.float32(0.0)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (peak / total).astype(np.float32)


def epoch_measures(
    psd: np.ndarray, freqs: np.ndarray, bands: dict[str, tuple[float, float]], fmin: float, fmax: float
) -> np.ndarray:
    """All spectral measures of :data:`MEASURES` but the suppression ratio, stacked on the last axis."""
    absolute, relative, total = band_powers(psd, freqs, bands)
    names = list(bands)
    with np.errstate(invalid="ignore", divide="ignore"):
        tar = absolute[..., names.index("theta")] / absolute[..., names.index("alpha")]
    out = np.empty((*psd.shape[:-1], len(MEASURES)), np.float32)
    nb = len(bands)
    out[..., :nb] = absolute
    out[..., nb : 2 * nb] = relative
    out[..., 2 * nb] = total
    out[..., 2 * nb + 1] = tar
    out[..., 2 * nb + 2] = peak_frequency(psd, freqs)
    out[..., 2 * nb + 3] = spectral_edge(psd, freqs, fmin, fmax)
    out[..., 2 * nb + 4] = rhythmicity(psd, freqs, fmin, fmax)
    out[..., 2 * nb + 5] = np.nan  # suppression ratio, filled from the time domain
    return out
