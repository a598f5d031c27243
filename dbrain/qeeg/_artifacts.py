"""Artifact strength: a 0–1 score per epoch and channel, and its dominant type.

Six component scores are computed for every epoch (start ``k * step``, length
``window``, exactly as the spectral measures cut their epochs) and channel,
each mapped to 0–1 by a ramp between two documented thresholds (linear in
the logarithm of the feature for ratios and amplitudes):

============  =====================================================================  =================
type          feature                                                                ramp 0 → 1
============  =====================================================================  =================
flat          standard deviation of the epoch                                        2 → 0.5 µV
              or fraction of first differences that are exactly 0                    0.5 → 0.9
pop           max abs first difference / RMS of first differences (jump in a sample) 8 → 16
              gated by the size of the jump                                          20 → 50 µV
              or step: abs difference of the means of the two halves of the epoch    150 → 400 µV
eye           frontal 0.5–2 Hz power / median posterior 0.5–2 Hz power              4 → 16 (power)
              gated by the frontal 0.5–2 Hz RMS amplitude                            10 → 25 µV
muscle        power 20–min(70, Nyquist) Hz / power 1–20 Hz (line bins excluded)      0.4 → 1.5
              gated by the 20–70 Hz RMS amplitude                                    2 → 6 µV
line          power at ``line_freq`` ± 0.5 Hz / median of neighbouring bins          5 → 20 (power)
              gated by the line RMS amplitude                                        5 → 20 µV
amplitude     peak-to-peak amplitude                                                 250 → 500 µV
============  =====================================================================  =================

A gated score is the product of the ratio ramp and the gate ramp, so a ratio
alone (e.g. the high-frequency share of a near-flat channel) never reaches 1
without a visible amplitude. The artifact strength is the **maximum** of the
component scores: an epoch is as contaminated as its worst artifact. The
dominant type is the component reaching that maximum (ties go to the more
specific cause, in the order of :data:`ARTIFACT_TYPES`), or ``none`` when the
strength is below 0.1.

"Frontal" channels are Fp1/Fp2/Fpz, AF*, F7/F8 and any channel whose name
contains ``EOG``; "posterior" channels are P*, O*, PO* (not ``Fp``). Without
posterior channels the other non-frontal channels serve as the reference;
without frontal channels the eye score is 0.

The thresholds are conventional clinical magnitudes (flat < 0.5 µV, pops of
tens of µV in one sample, > 500 µV non-physiological), not fitted to any data
set; they are module constants so that a site can review them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft

from ..errors import ParameterError
from ..utils import _check_range, _validate_type, logger, verbose

__all__ = ["ARTIFACT_TYPES", "artifact_strength", "compute_artifact_strength"]

#: Type codes of ``dominant``: index into this tuple.
ARTIFACT_TYPES = ("none", "flat", "pop", "eye", "muscle", "line", "amplitude")

# Thresholds (µV unless stated); see the module docstring.
FLAT_STD = (2.0, 0.5)
FLAT_IDENTICAL = (0.5, 0.9)
POP_JUMP_RATIO = (8.0, 16.0)
POP_JUMP_UV = (20.0, 50.0)
STEP_UV = (150.0, 400.0)
EYE_RATIO = (4.0, 16.0)
EYE_UV = (10.0, 25.0)
EYE_BAND = (0.5, 2.0)
MUSCLE_RATIO = (0.4, 1.5)
MUSCLE_UV = (2.0, 6.0)
MUSCLE_BAND = (20.0, 70.0)
REF_BAND = (1.0, 20.0)
LINE_RATIO = (5.0, 20.0)
LINE_UV = (5.0, 20.0)
AMPLITUDE_PTP = (250.0, 500.0)
MIN_DOMINANT = 0.1

_EPOCH_BLOCK = 256  # epochs processed at once: bounds memory to ~n_ch * 256 * window samples
_FRONTAL = re.compile(r"^(fp\d*|fpz|af\d+|afz|f7|f8|f9|f10)$", re.IGNORECASE)
_POSTERIOR = re.compile(r"^(p\d+|pz|po\d+|poz|o\d+|oz|i\d+|iz)$", re.IGNORECASE)


def _ramp(x, lo, hi, *, log=True):
    """Map ``x`` to [0, 1]: 0 at ``lo``, 1 at ``hi`` (either order), linear in log(x) if ``log``."""
    x = np.asarray(x, dtype=np.float32)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(np.maximum(x, np.float32(1e-30)))
        lo, hi = np.log(lo), np.log(hi)
    out = (x - np.float32(lo)) / np.float32(hi - lo)
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0).astype(np.float32, copy=False)


def _epoch_grid(n_times: int, win: int, stp: int) -> int:
    return 0 if n_times < win else (n_times - win) // stp + 1


def _channel_groups(ch_names):
    names = [str(c).strip() for c in ch_names]
    frontal = np.array([bool(_FRONTAL.match(n)) or "eog" in n.lower() for n in names])
    posterior = np.array([bool(_POSTERIOR.match(n)) for n in names])
    if not posterior.any():
        posterior = ~frontal
    return frontal, posterior


def _band(freqs, lo, hi, exclude=()):
    sel = (freqs >= lo) & (freqs <= hi)
    for f0 in exclude:
        sel &= np.abs(freqs - f0) > 2.0
    return sel


def _window_reduce(a, n_ep, stp, length, ufunc, dtype=None):
    """``ufunc.reduce`` over ``a[:, k*stp : k*stp + length]`` for every epoch ``k``.

    When ``length`` spans whole steps plus at most one step, reduce step-long
    blocks once and combine neighbours (each sample is touched once instead of
    ``length / stp`` times); otherwise reduce a strided view.
    """
    m, r = divmod(length, stp)
    if m >= 1 and (n_ep - 1 + m) * stp + r <= a.shape[1]:
        nb = n_ep - 1 + m
        blocks = ufunc.reduce(a[:, : nb * stp].reshape(a.shape[0], nb, stp), axis=-1, dtype=dtype)
        out = blocks[:, :n_ep].copy()
        for j in range(1, m):
            ufunc(out, blocks[:, j : j + n_ep], out=out)
        if r:
            tail = sliding_window_view(a[:, m * stp :], r, axis=-1)[:, ::stp][:, :n_ep]
            ufunc(out, ufunc.reduce(tail, axis=-1, dtype=dtype), out=out)
        return out
    return ufunc.reduce(sliding_window_view(a, length, axis=-1)[:, ::stp], axis=-1, dtype=dtype)


def _strided_features(x, n_ep, win, stp):
    """Time-domain features per (channel, epoch) for any window and step (see :func:`_block_features`)."""
    f8 = np.float64
    s1 = _window_reduce(x, n_ep, stp, win, np.add, f8)
    mean = s1 / win
    sq = _window_reduce(np.square(x), n_ep, stp, win, np.add, f8)
    std = np.sqrt(np.maximum(sq / win - mean**2, 0.0)).astype(np.float32)
    half = win // 2
    first = _window_reduce(x, n_ep, stp, half, np.add, f8)
    last = s1 - _window_reduce(x, n_ep, stp, win - half, np.add, f8)
    step = np.abs(first - last) / half
    ptp = _window_reduce(x, n_ep, stp, win, np.maximum) - _window_reduce(x, n_ep, stp, win, np.minimum)
    d = np.diff(x, axis=-1)
    absd = np.abs(d)
    jump = _window_reduce(absd, n_ep, stp, win - 1, np.maximum)
    drms = np.sqrt(_window_reduce(np.square(d), n_ep, stp, win - 1, np.add, f8) / (win - 1)).astype(np.float32)
    identical = _window_reduce((absd == 0).view(np.int8), n_ep, stp, win - 1, np.add, np.int32) / (win - 1)
    return std, step, ptp, jump, drms, identical


def _block_features(x, n_ep, stp, m):
    """Time-domain features per (channel, epoch) when the window is an even number ``m`` of steps.

    Every statistic is reduced once per step-long block and combined over the
    ``m`` blocks of each epoch, so each sample is read a few times in all
    instead of ``m`` times. The ``win - 1`` first differences of an epoch are
    the differences inside its blocks plus the ``m - 1`` differences across
    their borders. Returns standard deviation, half-to-half mean step,
    peak-to-peak amplitude, largest absolute first difference, RMS of the
    first differences and the fraction of first differences that are 0.
    """
    n_ch = x.shape[0]
    win = m * stp
    nb = n_ep - 1 + m
    blocks = x[:, : nb * stp].reshape(n_ch, nb, stp)

    def over(values, ufunc, count=m):
        out = values[:, :n_ep].copy()
        for j in range(1, count):
            ufunc(out, values[:, j : j + n_ep], out=out)
        return out

    b_sum = blocks.sum(axis=-1, dtype=np.float64)
    b_sq = np.square(blocks).sum(axis=-1, dtype=np.float64)
    s1 = over(b_sum, np.add)
    first = over(b_sum, np.add, m // 2)
    mean = s1 / win
    std = np.sqrt(np.maximum(over(b_sq, np.add) / win - mean**2, 0.0)).astype(np.float32)
    half = win // 2
    step = np.abs(2.0 * first - s1) / half  # |sum(first half) - sum(second half)| / half
    ptp = over(blocks.max(axis=-1), np.maximum) - over(blocks.min(axis=-1), np.minimum)

    inner = np.abs(np.diff(blocks, axis=-1))  # (ch, nb, stp - 1)
    border = np.abs(blocks[:, 1:, 0] - blocks[:, :-1, -1])  # (ch, nb - 1): between block j and j + 1
    jump = over(inner.max(axis=-1), np.maximum)
    d2 = over(np.square(inner).sum(axis=-1, dtype=np.float64), np.add)
    zeros = over((inner == 0).sum(axis=-1, dtype=np.int32), np.add)
    del inner
    if m > 1:
        jump = np.maximum(jump, over(border, np.maximum, m - 1))
        d2 += over(np.square(border, dtype=np.float64), np.add, m - 1)
        zeros += over((border == 0).astype(np.int32), np.add, m - 1)
    drms = np.sqrt(d2 / (win - 1)).astype(np.float32)
    return std, step, ptp, jump, drms, zeros / (win - 1)


class ArtifactScorer:
    """Artifact strength of epochs of ``win`` samples every ``stp`` samples, for fixed channels.

    Holds what does not change from chunk to chunk (frequency bands, line
    bins, channel groups), so that :func:`artifact_strength` and the streaming
    :func:`dbrain.qeeg.compute_qeeg` score epochs the same way; the latter
    passes the periodograms it has already computed.
    """

    def __init__(self, sfreq: float, win: int, stp: int, ch_names, line_freq: float | None):
        self.win, self.stp = int(win), int(stp)
        nyq = sfreq / 2.0
        self.df = float(sfreq) / self.win
        freqs = sp_fft.rfftfreq(self.win, 1.0 / sfreq)
        use_line = line_freq is not None and line_freq + 1.0 < nyq
        harmonics = [h * line_freq for h in (1, 2, 3) if use_line and h * line_freq < nyq]
        self.eye_sel = _band(freqs, *EYE_BAND)
        self.mus_sel = _band(freqs, MUSCLE_BAND[0], min(MUSCLE_BAND[1], nyq - 1.0), exclude=harmonics)
        self.ref_sel = _band(freqs, *REF_BAND, exclude=harmonics)
        self.line_bins = self.line_neigh = None
        if use_line:
            line_bins = np.flatnonzero(np.abs(freqs - line_freq) <= 0.5 + 1e-9)
            line_neigh = np.flatnonzero((np.abs(freqs - line_freq) >= 2.0) & (np.abs(freqs - line_freq) <= 5.0) & (freqs < nyq))
            if line_bins.size and line_neigh.size:
                self.line_bins, self.line_neigh = line_bins, line_neigh
        self.frontal, self.posterior = _channel_groups(ch_names)
        self._spectrum = None
        self._sfreq = float(sfreq)

    def score(self, seg: np.ndarray, n_ep: int, power: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and dominant types of ``n_ep`` epochs → two (n_ep, n_channels) arrays.

        ``seg`` is (n_channels, samples) in µV, float32, epoch ``k`` starting at
        sample ``k * stp``. ``power`` is the periodogram of the same epochs as
        power per bin in µV² (band sums ≈ variance), shaped (n_ep, n_channels,
        n_freqs); computed here when ``None``.
        """
        if power is None:
            if self._spectrum is None:
                from ._spectral import EpochSpectrum

                self._spectrum = EpochSpectrum(self._sfreq, self.win, self.stp)
            power = self._spectrum(seg, n_ep)
            power *= np.float32(self.df)
        comp = np.zeros((len(ARTIFACT_TYPES) - 1, n_ep, seg.shape[0]), np.float32)
        self._time_scores(seg, n_ep, comp)
        self._spectral_scores(power, comp)
        best = comp.argmax(axis=0)
        s = np.take_along_axis(comp, best[None], axis=0)[0]
        return s, np.where(s >= MIN_DOMINANT, best + 1, 0).astype(np.int8)

    def _time_scores(self, seg, n_ep, comp):
        """Flat, pop/step and amplitude scores of the epochs of ``seg``."""
        x = seg - seg[:, :1]  # a DC offset would cost float32 precision in the sums of squares
        m, r = divmod(self.win, self.stp)
        if r == 0 and m % 2 == 0 and (n_ep - 1 + m) * self.stp <= x.shape[1]:
            std, step, ptp, jump, drms, identical = _block_features(x, n_ep, self.stp, m)
        else:
            std, step, ptp, jump, drms, identical = _strided_features(x, n_ep, self.win, self.stp)
        del x
        comp[0] = np.maximum(_ramp(std, *FLAT_STD), _ramp(identical, *FLAT_IDENTICAL, log=False)).T
        with np.errstate(divide="ignore", invalid="ignore"):
            jr = np.where(drms > 0, jump / drms, 0.0)
        comp[1] = np.maximum(_ramp(jr, *POP_JUMP_RATIO) * _ramp(jump, *POP_JUMP_UV), _ramp(step, *STEP_UV)).T
        comp[5] = _ramp(ptp, *AMPLITUDE_PTP).T

    def _spectral_scores(self, pw, comp):
        """Eye, muscle and line scores from power per bin (µV²), (n_ep, n_channels, n_freqs)."""
        n_ep, n_ch = pw.shape[:2]

        def bandpow(sel):
            return pw[..., sel].sum(axis=-1) if sel.any() else np.zeros((n_ep, n_ch), np.float32)

        mus = bandpow(self.mus_sel)
        ref = bandpow(self.ref_sel)
        with np.errstate(divide="ignore", invalid="ignore"):
            comp[3] = _ramp(np.where(ref > 0, mus / ref, 0.0), *MUSCLE_RATIO) * _ramp(np.sqrt(mus), *MUSCLE_UV)
        frontal, posterior = self.frontal, self.posterior
        if frontal.any() and self.eye_sel.any():
            eye = bandpow(self.eye_sel)
            post = np.median(eye[:, posterior], axis=1, keepdims=True) if posterior.any() else np.zeros((n_ep, 1), np.float32)
            fr = eye[:, frontal]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(post > 0, fr / post, np.where(fr > 0, np.inf, 0.0))
            comp[2][:, frontal] = _ramp(ratio, *EYE_RATIO) * _ramp(np.sqrt(fr), *EYE_UV)
        if self.line_bins is not None:
            lp = pw[..., self.line_bins].sum(axis=-1)
            neigh = np.median(pw[..., self.line_neigh], axis=-1) * len(self.line_bins)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(neigh > 0, lp / neigh, np.where(lp > 0, np.inf, 0.0))
            comp[4] = _ramp(ratio, *LINE_RATIO) * _ramp(np.sqrt(lp), *LINE_UV)


def artifact_strength(data, sfreq, ch_names, *, window: float = 2.0, step: float = 1.0, line_freq: float | None = 50.0):
    """Artifact strength per epoch and channel of one chunk of EEG.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in volts (a chunk of a recording; no filtering needed).
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names (10-10 names; ``EOG`` in the name marks EOG).
    window : float
        Epoch length in seconds.
    step : float
        Seconds between epoch starts; epoch ``k`` covers samples
        ``[round(k * step * sfreq), + round(window * sfreq))``.
    line_freq : float | None
        Mains frequency in Hz; ``None`` (or ≥ Nyquist) disables the line score.

    Returns
    -------
    scores : numpy.ndarray of float32, shape (n_epochs, n_channels)
        Artifact strength in [0, 1] (the maximum of the component scores,
        see the module documentation for the thresholds).
    dominant : numpy.ndarray of int8, shape (n_epochs, n_channels)
        Index into ``types`` of the dominant artifact (0, ``none``, below 0.1).
    types : tuple of str
        :data:`ARTIFACT_TYPES`.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ParameterError(f"data must be 2-D (n_channels, n_times), got shape {data.shape}.")
    _check_range("sfreq", sfreq, 0, None, inclusive=False)
    _check_range("window", window, 0, None, inclusive=False)
    _check_range("step", step, 0, None, inclusive=False)
    if line_freq is not None:
        _check_range("line_freq", line_freq, 0, None, inclusive=False)
    ch_names = list(ch_names)
    if len(ch_names) != data.shape[0]:
        raise ParameterError(f"ch_names has {len(ch_names)} names for {data.shape[0]} channels of data.")
    win, stp = int(round(window * sfreq)), int(round(step * sfreq))
    if win < 8 or stp < 1:
        raise ParameterError(f"window must span at least 8 samples and step 1 sample, got {win} and {stp}.")
    n_ch = data.shape[0]
    n_ep = _epoch_grid(data.shape[1], win, stp)
    scores = np.zeros((n_ep, n_ch), np.float32)
    dominant = np.zeros((n_ep, n_ch), np.int8)
    if n_ep == 0 or n_ch == 0:
        return scores, dominant, ARTIFACT_TYPES

    scorer = ArtifactScorer(sfreq, win, stp, ch_names, line_freq)
    x_all = np.asarray(data, dtype=np.float32) * np.float32(1e6)  # µV
    for e0 in range(0, n_ep, _EPOCH_BLOCK):
        e1 = min(n_ep, e0 + _EPOCH_BLOCK)
        seg = x_all[:, e0 * stp : (e1 - 1) * stp + win]
        scores[e0:e1], dominant[e0:e1] = scorer.score(seg, e1 - e0)
    return scores, dominant, ARTIFACT_TYPES


@verbose
def compute_artifact_strength(
    raw,
    *,
    chunk_duration: float = 600.0,
    window: float = 2.0,
    step: float = 1.0,
    line_freq: float | None = 50.0,
    picks="eeg",
    verbose=None,
) -> pd.DataFrame:
    """Artifact strength of a whole recording, streamed in chunks.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (lazy is fine: only ``chunk_duration`` seconds are read at a time).
    chunk_duration : float
        Seconds read per step (rounded to a whole number of steps); sets memory, not results.
    window, step, line_freq
        As in :func:`artifact_strength`.
    picks : "eeg" | list of str | list of int
        Channels to score: ``"eeg"`` (EEG and EOG channels) or names or indices.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    table : pandas.DataFrame
        One row per epoch and channel: ``start`` (s from the first sample),
        ``channel``, ``score`` (0–1) and ``type`` (categorical, one of
        :data:`ARTIFACT_TYPES`).
    """
    import mne

    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.Raw")
    _check_range("chunk_duration", chunk_duration, 0, None, inclusive=False)
    sfreq = raw.info["sfreq"]
    if isinstance(picks, str) and picks == "eeg":
        picks = mne.pick_types(raw.info, eeg=True, eog=True, exclude=[])
    else:
        _validate_type(picks, (list, tuple, np.ndarray), "picks", "'eeg' or a list of channel names or indices")
        missing = [p for p in picks if isinstance(p, str) and p not in raw.ch_names]
        if missing:
            raise ParameterError(f"picks names channels not in the recording: {missing}.")
        picks = [raw.ch_names.index(p) if isinstance(p, str) else int(p) for p in picks]
    ch_names = [raw.ch_names[p] for p in picks]
    win, stp = int(round(window * sfreq)), int(round(step * sfreq))
    n_ep = _epoch_grid(raw.n_times, win, stp)
    per_chunk = max(1, int(chunk_duration * sfreq) // stp)
    scores = np.zeros((n_ep, len(ch_names)), np.float32)
    dominant = np.zeros((n_ep, len(ch_names)), np.int8)
    for e0 in range(0, n_ep, per_chunk):
        e1 = min(n_ep, e0 + per_chunk)
        data = raw.get_data(picks=picks, start=e0 * stp, stop=(e1 - 1) * stp + win)
        s, d, _ = artifact_strength(data, sfreq, ch_names, window=window, step=step, line_freq=line_freq)
        scores[e0:e1], dominant[e0:e1] = s, d
    logger.info("Artifact strength: %d epochs x %d channels", n_ep, len(ch_names))
    return pd.DataFrame(
        {
            "start": np.repeat(np.arange(n_ep) * stp / sfreq, len(ch_names)),
            "channel": pd.Categorical(np.tile(ch_names, n_ep), categories=ch_names),
            "score": scores.ravel(),
            "type": pd.Categorical.from_codes(dominant.ravel(), categories=list(ARTIFACT_TYPES)),
        }
    )
