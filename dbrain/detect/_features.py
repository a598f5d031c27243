"""Channel-level seizure features: one row per channel per 2 s window, every 1 s.

Every feature is defined in Hz on a band-limited periodogram, so it means
the same thing at any sampling rate from 64 Hz up, and no resampling is
needed. Window ``i`` starts at ``round(i · sfreq)`` (1 s steps exactly, even
for a rate such as 173.61 Hz) and lasts ``round(2 · sfreq)`` samples. A
shorter isolated segment (the 1 s clips of some datasets) is tapered with a
Hann window of its own length and zero-padded to 2 s.

Three groups of features:

* *window* features of the channel alone (power, relative band powers,
  spectral entropy, dominant frequency and its power share, Hjorth
  mobility and complexity, high-frequency share, derivative power);
* *spatial* features: the channel's power relative to the median of all
  channels in the same window, and the median peak share over channels;
* *background* features: the window's log band powers minus their median
  over the surrounding 20 minutes of the same channel (NaN when the
  recording is shorter than 2 minutes, or for isolated segments), and the
  median of the normalised power over channels. A seizure is a change from
  the patient's own background; these features also make the model less
  sensitive to amplitude scale, which varies between amplifiers and datasets.

LightGBM treats NaN as missing, so one model serves both continuous
recordings and isolated segments.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

WINDOW = 2.0  # s
STEP = 1.0  # s
FMIN, FMAX = 1.0, 30.0
BANDS = {"delta": (1.0, 3.0), "theta": (3.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
HF_BAND = (30.0, 45.0)
PEAK_RANGE = (1.0, 20.0)
PEAK_HALF_WIDTH = 1.0  # Hz either side of the dominant frequency
BACKGROUND_BLOCK = 10  # windows per block of the running background
BACKGROUND_HALF = 60  # blocks either side (60 × 10 s = 10 min)
MIN_BACKGROUND_WINDOWS = 120  # 2 min

WINDOW_FEATURES = (
    "log_power",
    "rel_delta",
    "rel_theta",
    "rel_alpha",
    "rel_beta",
    "rel_hf",
    "entropy",
    "peak_freq",
    "peak_share",
    "mobility",
    "complexity",
    "log_deriv",
)
# Raw columns kept for the background normalisation (not model features by themselves).
_BAND_LOGS = ("log_delta", "log_theta", "log_alpha", "log_beta")
RAW_COLUMNS = WINDOW_FEATURES + _BAND_LOGS
_BG_SOURCES = ("log_power", "log_delta", "log_theta", "log_alpha", "log_beta", "log_deriv", "peak_share")
BACKGROUND_FEATURES = tuple(f"{name}_bg" for name in _BG_SOURCES)
SPATIAL_FEATURES = ("log_power_sp", "peak_share_ctx", "log_power_bg_ctx")
FEATURES = WINDOW_FEATURES + SPATIAL_FEATURES + BACKGROUND_FEATURES

_IDX = {name: i for i, name in enumerate(RAW_COLUMNS)}
_TINY = 1e-12


def n_windows(n_times: int, sfreq: float) -> int:
    """Number of whole 2 s windows, every 1 s, in ``n_times`` samples."""
    n_win = int(round(WINDOW * sfreq))
    if n_times < n_win:
        return 0
    last = (n_times - n_win) / sfreq  # latest start, in s
    return int(np.floor(last / STEP + 1e-9)) + 1


def window_starts(n: int, sfreq: float) -> np.ndarray:
    """First sample of each of ``n`` windows."""
    return np.round(np.arange(n) * STEP * sfreq).astype(np.int64)


class _Spectra:
    """Band masks and taper for one (sfreq, segment length)."""

    def __init__(self, sfreq: float, n_samples: int):
        self.sfreq = float(sfreq)
        self.n = int(n_samples)
        self.n_fft = max(self.n, int(round(WINDOW * sfreq)))
        taper = _hann(self.n)
        self.taper = taper.astype(np.float32)
        self.freqs = scipy.fft.rfftfreq(self.n_fft, 1.0 / self.sfreq)
        self.df = self.sfreq / self.n_fft
        scale = 2.0 / (self.sfreq * float((taper.astype(np.float64) ** 2).sum()))
        self.scale = np.float32(scale * self.df)  # periodogram × df = power per bin (µV²)
        f = self.freqs
        self.main = (f >= FMIN) & (f < FMAX)
        self.f_main = f[self.main].astype(np.float32)
        self.bands = [((f[self.main] >= lo) & (f[self.main] < hi)) for lo, hi in BANDS.values()]
        nyq = self.sfreq / 2.0
        self.hf = (f >= HF_BAND[0]) & (f < HF_BAND[1]) if nyq > HF_BAND[1] + 1.0 else None
        self.peak = (self.f_main >= PEAK_RANGE[0]) & (self.f_main < PEAK_RANGE[1])


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (as scipy.signal.get_window('hann', n))."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def window_features(segments: np.ndarray, sfreq: float, *, workers: int = 1) -> np.ndarray:
    """Window features of each channel of each segment.

    Parameters
    ----------
    segments : ndarray, shape (n_windows, n_channels, n_samples)
        Signal in µV. ``n_samples`` is normally ``round(2 · sfreq)``; shorter
        segments are zero-padded to 2 s after tapering.
    sfreq : float
        Sampling rate in Hz (at least 64 Hz).
    workers : int
        Threads for the FFT.

    Returns
    -------
    raw : ndarray, shape (n_windows, n_channels, len(RAW_COLUMNS))
        float32, in the order of :data:`RAW_COLUMNS`.
    """
    seg = np.asarray(segments, dtype=np.float32)
    E, C, n = seg.shape
    sp = _Spectra(sfreq, n)
    seg = seg - seg.mean(axis=-1, keepdims=True, dtype=np.float32)
    seg *= sp.taper
    spec = scipy.fft.rfft(seg, n=sp.n_fft, axis=-1, workers=workers)
    del seg
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    power *= sp.scale
    del spec
    main = power[..., sp.main]  # (E, C, F) µV² per bin, 1-30 Hz
    total = main.sum(axis=-1) + _TINY
    out = np.empty((E, C, len(RAW_COLUMNS)), np.float32)
    out[..., _IDX["log_power"]] = np.log10(total)
    for name, mask in zip(BANDS, sp.bands, strict=True):
        band = main[..., mask].sum(axis=-1)
        out[..., _IDX[f"rel_{name}"]] = band / total
        out[..., _IDX[f"log_{name}"]] = np.log10(band + _TINY)
    if sp.hf is not None:
        hf = power[..., sp.hf].sum(axis=-1)
        out[..., _IDX["rel_hf"]] = hf / (hf + total)
    else:
        out[..., _IDX["rel_hf"]] = np.nan
    p = main / total[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -(p * np.log(np.maximum(p, _TINY))).sum(axis=-1) / np.log(main.shape[-1])
    out[..., _IDX["entropy"]] = ent
    f = sp.f_main
    pk = np.where(sp.peak, main, -1.0).argmax(axis=-1)
    fpk = f[pk]
    out[..., _IDX["peak_freq"]] = fpk
    near = np.abs(f[None, None, :] - fpk[..., None]) <= PEAK_HALF_WIDTH
    out[..., _IDX["peak_share"]] = (main * near).sum(axis=-1) / total
    m2 = (main * f**2).sum(axis=-1)
    m4 = (main * f**4).sum(axis=-1)
    mob = np.sqrt(m2 / total)
    out[..., _IDX["mobility"]] = mob
    out[..., _IDX["complexity"]] = np.sqrt(m4 / np.maximum(m2, _TINY)) / np.maximum(mob, _TINY)
    out[..., _IDX["log_deriv"]] = np.log10(m2 * (2 * np.pi) ** 2 + _TINY) / 2.0
    return out


def _background(raw: np.ndarray) -> np.ndarray:
    """Median of the background sources over the surrounding 20 min, per channel.

    ``raw`` is (n_windows, n_channels, len(RAW_COLUMNS)); returns
    (n_windows, n_channels, len(_BG_SOURCES)), NaN if the recording is shorter
    than :data:`MIN_BACKGROUND_WINDOWS`.
    """
    E, C, _ = raw.shape
    cols = [_IDX[name] for name in _BG_SOURCES]
    if E < MIN_BACKGROUND_WINDOWS:
        return np.full((E, C, len(cols)), np.nan, np.float32)
    src = raw[..., cols]
    n_blocks = -(-E // BACKGROUND_BLOCK)
    pad = n_blocks * BACKGROUND_BLOCK - E
    if pad:
        src = np.concatenate([src, np.full((pad, C, len(cols)), np.nan, np.float32)])
    blocks = np.nanmedian(src.reshape(n_blocks, BACKGROUND_BLOCK, C, len(cols)), axis=1)  # (B, C, K)
    bg = np.empty_like(blocks)
    for k in range(n_blocks):
        lo, hi = max(0, k - BACKGROUND_HALF), min(n_blocks, k + BACKGROUND_HALF + 1)
        bg[k] = np.median(blocks[lo:hi], axis=0)
    return np.repeat(bg, BACKGROUND_BLOCK, axis=0)[:E]


def assemble(raw: np.ndarray, background: np.ndarray | None) -> np.ndarray:
    """Model features from window features and their background.

    Parameters
    ----------
    raw : ndarray, shape (n_windows, n_channels, len(RAW_COLUMNS))
        Output of :func:`window_features`.
    background : ndarray | None
        Output of :func:`_background` for the same windows, or None for
        isolated segments (background features become NaN).

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, len(FEATURES))
        float32.
    """
    E, C, _ = raw.shape
    X = np.empty((E, C, len(FEATURES)), np.float32)
    nw = len(WINDOW_FEATURES)
    X[..., :nw] = raw[..., :nw]
    lp = raw[..., _IDX["log_power"]]
    if C > 1:
        X[..., nw] = lp - np.median(lp, axis=1, keepdims=True)
        X[..., nw + 1] = np.median(raw[..., _IDX["peak_share"]], axis=1, keepdims=True)
    else:
        X[..., nw] = np.nan
        X[..., nw + 1] = np.nan
    ns = nw + len(SPATIAL_FEATURES)
    if background is None:
        X[..., nw + 2] = np.nan
        X[..., ns:] = np.nan
    else:
        cols = [_IDX[name] for name in _BG_SOURCES]
        X[..., ns:] = raw[..., cols] - background
        X[..., nw + 2] = np.median(X[..., ns], axis=1, keepdims=True)
    return X


def recording_features(data_or_raw, sfreq: float | None = None, *, picks=None, chunk_windows: int = 600, workers: int = 1):
    """Model features of every window of a continuous recording, in one streaming pass.

    Parameters
    ----------
    data_or_raw : mne.io.BaseRaw | ndarray
        A (lazy) Raw, read chunk by chunk in volts and converted to µV, or an
        array (n_channels, n_times) in µV.
    sfreq : float | None
        Sampling rate for an array input (ignored for a Raw).
    picks : list of str | None
        Channels of the Raw to use (default all).
    chunk_windows : int
        Windows per chunk read (sets the memory used, not the result).
    workers : int
        Threads for the FFT.

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, len(FEATURES))
    """
    is_array = isinstance(data_or_raw, np.ndarray)
    if is_array:
        n_times = data_or_raw.shape[1]
        n_ch = data_or_raw.shape[0]
    else:
        sfreq = data_or_raw.info["sfreq"]
        n_times = data_or_raw.n_times
        n_ch = len(picks) if picks is not None else len(data_or_raw.ch_names)
    n = n_windows(n_times, sfreq)
    n_win = int(round(WINDOW * sfreq))
    starts = window_starts(n, sfreq)
    raw = np.empty((n, n_ch, len(RAW_COLUMNS)), np.float32)
    offsets = np.arange(n_win)
    for e0 in range(0, n, chunk_windows):
        e1 = min(e0 + chunk_windows, n)
        lo, hi = int(starts[e0]), int(starts[e1 - 1]) + n_win
        if is_array:
            block = np.asarray(data_or_raw[:, lo:hi], dtype=np.float32)
        else:
            block = data_or_raw.get_data(picks=picks, start=lo, stop=hi).astype(np.float32)
            block *= 1e6
        idx = (starts[e0:e1] - lo)[:, None] + offsets[None, :]
        seg = block[:, idx].transpose(1, 0, 2)  # (E, C, n_win)
        raw[e0:e1] = window_features(seg, sfreq, workers=workers)
        del seg, block
    return assemble(raw, _background(raw))


#: Causal context of a window in its own recording (ACNS 2021: a seizure is a rhythm of >= 10 s, or evolves).
#: Not part of :data:`FEATURES`: a model lists them when it was trained with them (see :func:`context_features`).
CONTEXT_FEATURES = ("rhythm_10s", "peak_freq_10s", "peak_share_10s", "freq_change_15s", "power_change_15s")
CONTEXT_SPAN = 10  # windows (1 s apart): the window and the 9 before it, ~11 s of signal
CONTEXT_HALF = 5  # windows per half of the change features: windows i-4..i against i-14..i-10
RHYTHM_TOLERANCE = 0.5  # Hz: the same or the next periodogram bin of a 2 s window


def context_features(X: np.ndarray) -> np.ndarray:
    """Context of each window from the windows before it in the same recording (same channel).

    ``rhythm_10s``: share of the last 10 windows whose dominant frequency is within 0.5 Hz of their median (a
    rhythm sustained ~10 s); ``peak_freq_10s`` / ``peak_share_10s``: that median frequency / median peak share;
    ``freq_change_15s`` / ``power_change_15s``: median dominant frequency / log power of windows ``i-4..i`` minus
    that of ``i-14..i-10`` (evolution in frequency or amplitude). Only past windows are used, so a stream can
    compute them as the recording arrives; windows without enough past (the first 9 or 14 of any recording or
    isolated segment) get NaN, in training and at inference alike.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, len(FEATURES))
        Model features of consecutive windows (:func:`recording_features`).

    Returns
    -------
    ctx : ndarray, shape (n_windows, n_channels, len(CONTEXT_FEATURES))
        float32.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    E, C = X.shape[:2]
    out = np.full((E, C, len(CONTEXT_FEATURES)), np.nan, np.float32)
    pf = X[..., FEATURES.index("peak_freq")]
    lp = X[..., FEATURES.index("log_power")]
    ps = X[..., FEATURES.index("peak_share")]
    if E >= CONTEXT_SPAN:
        pfw = sliding_window_view(pf, CONTEXT_SPAN, axis=0)  # (E - 9, C, 10): windows i-9..i for i >= 9
        med = np.median(pfw, axis=-1)
        out[CONTEXT_SPAN - 1 :, :, 0] = (np.abs(pfw - med[..., None]) <= RHYTHM_TOLERANCE).mean(axis=-1)
        out[CONTEXT_SPAN - 1 :, :, 1] = med
        out[CONTEXT_SPAN - 1 :, :, 2] = np.median(sliding_window_view(ps, CONTEXT_SPAN, axis=0), axis=-1)
    lag = 3 * CONTEXT_HALF - 1  # 14: the first window with both halves (i-14..i-10 and i-4..i)
    if E > lag:
        for col, v in ((3, pf), (4, lp)):
            m = np.median(sliding_window_view(v, CONTEXT_HALF, axis=0), axis=-1)  # m[k]: windows k..k+4
            out[lag:, :, col] = m[lag - CONTEXT_HALF + 1 :] - m[: E - lag]
    return out


def segment_features(segments: np.ndarray, sfreq: float, *, workers: int = 1) -> np.ndarray:
    """Model features of isolated segments (no background): every 2 s window, 1 s apart.

    Parameters
    ----------
    segments : ndarray, shape (n_segments, n_channels, n_samples)
        Signal in µV. Segments shorter than 2 s give one window each
        (zero-padded); longer ones give every whole 2 s window.
    sfreq : float
        Sampling rate in Hz.
    workers : int
        Threads for the FFT.

    Returns
    -------
    X : ndarray, shape (n_segments, n_windows_per_segment, n_channels, len(FEATURES))
    """
    S, C, n = segments.shape
    n_win = int(round(WINDOW * sfreq))
    if n <= n_win:
        raw = window_features(segments, sfreq, workers=workers)
        return assemble(raw, None)[:, None]
    k = n_windows(n, sfreq)
    starts = window_starts(k, sfreq)
    idx = starts[:, None] + np.arange(n_win)[None, :]
    seg = segments[:, :, idx].transpose(0, 2, 1, 3).reshape(S * k, C, n_win)
    raw = window_features(seg, sfreq, workers=workers)
    return assemble(raw, None).reshape(S, k, C, len(FEATURES))
