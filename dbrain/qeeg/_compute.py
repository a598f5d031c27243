"""``compute_qeeg``: all quantitative EEG trends of a recording in one streaming pass."""

from __future__ import annotations

import datetime as dt
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd

from ..channels._raw import as_normalized
from ..errors import ParameterError
from ..events import make_events
from ..events._table import empty_events
from ..utils import _check_option, _check_range, _validate_type, logger, verbose
from ._aeeg import AEEG_BLOCK, AEEG_SEGMENT, ChunkFilter, block_envelope, decimation_factor, margins, suppressed_counts
from ._artifacts import ArtifactScorer
from ._bands import BANDS, MEASURES, epoch_measures
from ._regions import asymmetry_pairs, region_weights
from ._spectral import EpochSpectrum, asymmetry, to_db
from ._stream import iter_chunks

#: Padding read on each side of a chunk for the time-domain filters (s).
PAD_SECONDS = 10.0
DEFAULT_AEEG_PAIRS: tuple[tuple[str, str], ...] = (("C3", "P3"), ("C4", "P4"))
TIDY_COLUMNS = ["start", "channel", "measure", "value"]


@dataclass
class QEEGResult:
    """Quantitative EEG trends of one recording (see :func:`compute_qeeg`).

    Attributes
    ----------
    times : ndarray, shape (n_epochs,)
        Epoch starts in seconds from the first sample.
    freqs : ndarray, shape (n_freqs,)
        Frequencies of the spectrograms (``fmin``–``fmax``), Hz.
    ch_names : list of str
        EEG channels analysed.
    region_names : list of str
        Regions present (of ``left right frontal central temporal parietal occipital``).
    pair_names : list of str
        Asymmetry pairs, ``"left-right"`` (hemispheres) first, then ``"F3-F4"`` …
    spectrogram : ndarray, shape (n_epochs, n_channels, n_freqs), float16
        Per-channel power in dB re 1 µV²/Hz (float16 storage: ≤ 0.03 dB rounding
        below 64 dB; halves the 24 h footprint to ~200 MB for 19 channels).
    region_spectrogram : ndarray, shape (n_epochs, n_regions, n_freqs), float16
        Region power in dB, averaged over the region's channels in power.
    asymmetry : ndarray, shape (n_epochs, n_pairs, n_freqs), float16
        Signed asymmetry per frequency in [-1, 1], positive = more on the left
        (see :func:`compute_qeeg`, ``asymmetry_mode``).
    measures : ndarray, shape (n_epochs, n_channels + n_regions, n_measures), float32
        Per-epoch measures; the second axis is ``ch_names + region_names``, the
        last :attr:`measure_names`.
    measure_names : list of str
    aeeg : pandas.DataFrame
        Columns ``start`` (s), ``pair`` (``"C3-P3"``), ``lower``, ``upper`` (µV):
        aEEG margins per 15 s segment.
    aperiodic : pandas.DataFrame
        Columns ``start``, ``duration`` (s), ``channel``, ``offset``,
        ``exponent``, ``r_squared``: specparam fits of per-window mean spectra.
    burst_suppression : pandas.DataFrame
        Events table (:mod:`dbrain.events`) with ``eventType`` ``"burst_suppression"``.
    suppression : ndarray, shape (n_epochs,)
        Global suppression ratio (%), the median over channels, per epoch.
    asymmetry_index : ndarray, shape (n_epochs, n_pairs), float32
        Mean of :attr:`asymmetry` over ``fmin``–``fmax`` (measure ``asymmetry`` in :meth:`to_frame`).
    artifact : ndarray, shape (n_epochs, n_channels), float32
        Artifact strength, 0 (clean) – 1 (see :mod:`dbrain.qeeg._artifacts`;
        measure ``artifact_strength`` in :meth:`to_frame`).
    artifact_type : ndarray, shape (n_epochs, n_channels), int8
        Dominant artifact per epoch and channel: index into :data:`dbrain.qeeg.ARTIFACT_TYPES`.
    params : dict
        The settings that produced these numbers.
    sfreq, duration : float
    meas_date : datetime | None
    """

    times: np.ndarray
    freqs: np.ndarray
    ch_names: list[str]
    region_names: list[str]
    pair_names: list[str]
    spectrogram: np.ndarray
    region_spectrogram: np.ndarray
    asymmetry: np.ndarray
    measures: np.ndarray
    measure_names: list[str]
    aeeg: pd.DataFrame
    aperiodic: pd.DataFrame
    burst_suppression: pd.DataFrame
    suppression: np.ndarray
    asymmetry_index: np.ndarray
    artifact: np.ndarray
    artifact_type: np.ndarray
    params: dict = field(default_factory=dict)
    sfreq: float = 0.0
    duration: float = 0.0
    meas_date: dt.datetime | None = None

    def __repr__(self) -> str:
        return (
            f"<QEEGResult | {self.times.size} epochs of {self.params.get('window')} s, {len(self.ch_names)} channels, "
            f"{len(self.region_names)} regions, {len(self.pair_names)} asymmetry pairs, {len(self.aeeg)} aEEG rows>"
        )

    def measure(self, name: str, channel: str) -> np.ndarray:
        """Per-epoch values of one measure for one channel or region."""
        _check_option("name", name, self.measure_names)
        names = self.ch_names + self.region_names
        _check_option("channel", channel, names)
        return self.measures[:, names.index(channel), self.measure_names.index(name)]

    def bandpower(self, *, relative: bool = False, max_artifact: float | None = 0.5, regions: bool = False) -> pd.DataFrame:
        """Band power per channel as a wide table (one row per channel, one column per band).

        Parameters
        ----------
        relative : bool
            Relative power (fraction of 0.5–45 Hz power) instead of absolute power (µV²).
        max_artifact : float | None
            Average only the epochs whose artifact strength on that channel is below this
            (0–1); None averages every epoch. Regions always average every epoch.
        regions : bool
            Add one row per region after the channels.

        Returns
        -------
        table : pandas.DataFrame
            Index ``channel``; columns ``delta theta alpha beta gamma`` (and ``total`` for
            absolute power) with the mean over the kept epochs, and ``n_epochs`` (how many
            were kept). ``table.attrs`` records ``relative``, ``max_artifact`` and the band edges.
        """
        _validate_type(relative, bool, "relative")
        _validate_type(regions, bool, "regions")
        if max_artifact is not None:
            _check_range("max_artifact", max_artifact, 0, 1, inclusive=False)
        kind = "rel" if relative else "abs"
        columns = [f"{kind}_{band}" for band in BANDS] + ([] if relative else ["abs_total"])
        idx = [self.measure_names.index(c) for c in columns]
        n_rows = len(self.ch_names) + (len(self.region_names) if regions else 0)
        values = self.measures[:, :n_rows, :][:, :, idx].astype(np.float64)
        keep = np.ones(values.shape[:2], bool)
        if max_artifact is not None and self.artifact.size:
            keep[:, : len(self.ch_names)] = self.artifact < max_artifact
        values = np.where(keep[:, :, None], values, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a channel with no clean epoch gives NaN, said by n_epochs = 0
            mean = np.nanmean(values, axis=0)
        table = pd.DataFrame(mean, columns=[c.split("_", 1)[1] for c in columns])
        table.index = pd.Index((self.ch_names + self.region_names)[:n_rows], name="channel")
        table["n_epochs"] = (keep & np.isfinite(values).all(axis=2)).sum(axis=0)
        table.attrs = {"relative": relative, "max_artifact": max_artifact, "bands": dict(BANDS)}
        return table

    def to_frame(self, resolution: float | None = 60.0, *, regions: bool = True, channels: bool = True) -> pd.DataFrame:
        """Tidy table: one row per (start, channel or region, measure).

        Parameters
        ----------
        resolution : float | None
            Aggregate epoch measures to bins of this many seconds (NaN-ignoring
            mean; ``start`` is the bin start). ``None`` keeps every epoch: 24 h of
            19 channels + 7 regions is then ~35 M rows (~0.5 GB in memory), against
            ~0.6 M at the default 60 s, which is what ``qeeg.parquet`` should hold.
        regions, channels : bool
            Include region rows / channel rows.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``start`` (float64, s from the first sample), ``channel``
            (category: channel, region, ``"C3-P3"`` aEEG pair or ``"left-right"``
            asymmetry pair), ``measure`` (category: :attr:`measure_names`, plus
            ``asymmetry``, ``aeeg_lower``, ``aeeg_upper``, ``aperiodic_exponent``,
            ``artifact_strength`` for channels),
            ``value`` (float32). Units: :data:`dbrain.qeeg.UNITS`.
        """
        if resolution is not None:
            _check_range("resolution", resolution, 0, None, inclusive=False)
        _validate_type(regions, bool, "regions")
        _validate_type(channels, bool, "channels")
        n_ch = len(self.ch_names)
        rows = list(range(n_ch)) if channels else []
        rows += list(range(n_ch, n_ch + len(self.region_names))) if regions else []
        names_all = self.ch_names + self.region_names
        chan_cats = [names_all[i] for i in rows] + list(self.pair_names)
        chan_cats += [p for p in self.aeeg["pair"].unique() if p not in chan_cats]
        meas_cats = list(self.measure_names) + [
            "asymmetry",
            "aeeg_lower",
            "aeeg_upper",
            "aperiodic_exponent",
            "artifact_strength",
        ]
        parts = []

        def add(start, chan_idx, meas_idx, value):
            parts.append(
                (
                    np.asarray(start, np.float64),
                    np.asarray(chan_idx, np.int16),
                    np.asarray(meas_idx, np.int16),
                    np.asarray(value, np.float32),
                )
            )

        # per-epoch measures (and the per-pair mean asymmetry)
        asym_mean = self.asymmetry_index if self.pair_names else np.empty((self.times.size, 0), np.float32)
        sl = slice(rows[0], rows[-1] + 1) if rows else slice(0, 0)  # rows are contiguous: a view, no copy
        times, meas = self.times, self.measures[:, sl, :]
        art = self.artifact if channels else np.empty((self.times.size, 0), np.float32)
        if resolution is not None and times.size:
            times, meas, asym_mean, art = _aggregate(self.times, resolution, meas, asym_mean, art)
        n_t, n_r, n_m = meas.shape
        add(
            np.repeat(times, n_r * n_m),
            np.tile(np.repeat(np.arange(n_r), n_m), n_t),
            np.tile(np.arange(n_m), n_t * n_r),
            meas.reshape(-1),
        )
        n_p = asym_mean.shape[1]
        if n_p:
            add(
                np.repeat(times, n_p),
                np.tile(np.arange(n_r, n_r + n_p), n_t),
                np.full(n_t * n_p, meas_cats.index("asymmetry")),
                asym_mean.reshape(-1),
            )
        if art.shape[1]:
            add(
                np.repeat(times, n_ch),
                np.tile(np.arange(n_ch), n_t),
                np.full(n_t * n_ch, meas_cats.index("artifact_strength")),
                art.reshape(-1),
            )
        if len(self.aeeg):
            cidx = np.array([chan_cats.index(p) for p in self.aeeg["pair"]])
            for col in ("lower", "upper"):
                add(
                    self.aeeg["start"].to_numpy(),
                    cidx,
                    np.full(len(cidx), meas_cats.index(f"aeeg_{col}")),
                    self.aeeg[col].to_numpy(),
                )
        if len(self.aperiodic) and channels:
            ap = self.aperiodic[self.aperiodic["channel"].isin(chan_cats)]
            cidx = np.array([chan_cats.index(c) for c in ap["channel"]], int)
            add(ap["start"].to_numpy(), cidx, np.full(len(ap), meas_cats.index("aperiodic_exponent")), ap["exponent"].to_numpy())
        if not parts:
            return pd.DataFrame(
                {c: pd.Series(dtype=t) for c, t in zip(TIDY_COLUMNS, ["float64", "category", "category", "float32"], strict=True)}
            )
        start, ci, mi, val = (np.concatenate(x) for x in zip(*parts, strict=True))
        return pd.DataFrame(
            {
                "start": start,
                "channel": pd.Categorical.from_codes(ci, categories=chan_cats),
                "measure": pd.Categorical.from_codes(mi, categories=meas_cats),
                "value": val,
            }
        )


def _aggregate(times: np.ndarray, resolution: float, *arrays: np.ndarray):
    """NaN-ignoring mean over bins of ``resolution`` s along axis 0 (in slices: bounded memory)."""
    bins = np.floor(times / resolution).astype(np.int64)
    edges = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    out = [bins[edges] * float(resolution)]
    bounds = np.r_[edges, times.size]
    for arr in arrays:
        res = np.empty((edges.size, *arr.shape[1:]), np.float32)
        for g0 in range(0, edges.size, 256):
            g1 = min(g0 + 256, edges.size)
            part = arr[bounds[g0] : bounds[g1]].astype(np.float64)
            finite = np.isfinite(part)
            local = edges[g0:g1] - bounds[g0]
            total = np.add.reduceat(np.where(finite, part, 0.0), local, axis=0)
            count = np.add.reduceat(finite.astype(np.int32), local, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                res[g0:g1] = total / count
        out.append(res)
    return out


def _parse_pairs(pairs, ch_names: list[str], explicit: bool) -> list[tuple[str, int, int]]:
    index = {c.lower(): i for i, c in enumerate(ch_names)}
    out = []
    for pair in pairs:
        if isinstance(pair, str):
            if pair.count("-") != 1:
                raise ParameterError(f"aeeg_pairs entries must look like 'C3-P3' or ('C3', 'P3'), got {pair!r}.")
            pair = tuple(pair.split("-"))
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ParameterError(f"aeeg_pairs entries must look like 'C3-P3' or ('C3', 'P3'), got {pair!r}.")
        missing = [p for p in pair if p.lower() not in index]
        if missing:
            if explicit:
                raise ParameterError(
                    f"aeeg_pairs: channel(s) {missing} of {'-'.join(pair)!r} not in the recording's EEG channels {ch_names}."
                )
            logger.info("aEEG pair %s skipped: %s missing", "-".join(pair), missing)
            continue
        a, b = index[pair[0].lower()], index[pair[1].lower()]
        out.append((f"{ch_names[a]}-{ch_names[b]}", a, b))
    return out


def detect_burst_suppression(
    suppression: np.ndarray,
    times: np.ndarray,
    *,
    step: float,
    window: float,
    threshold: float = 50.0,
    min_duration: float = 60.0,
    meas_date=None,
    recording_duration=None,
) -> pd.DataFrame:
    """Burst-suppression events from a per-epoch suppression ratio (%).

    The ratio is smoothed by a centred moving mean over ``min_duration`` s.
    Burst suppression is where the smoothed ratio is at least ``threshold`` %
    but below 99 % (bursts present: a fully suppressed record is suppression,
    not burst suppression), for at least ``min_duration`` s. Confidence is the
    mean smoothed ratio / 100.

    Parameters
    ----------
    suppression : numpy.ndarray, shape (n_epochs,)
        Suppression ratio per epoch (%); NaN counts as 0.
    times : numpy.ndarray, shape (n_epochs,)
        Epoch starts (s from the first sample).
    step : float
        Seconds between epoch starts.
    window : float
        Epoch length (s), added to the last epoch's start for an event's end.
    threshold : float
        Smoothed suppression ratio (%) from which a stretch counts.
    min_duration : float
        Smoothing length and minimum event duration (s).
    meas_date : datetime.datetime | None
        Recording start, for the events' ``dateTime``.
    recording_duration : float | None
        Recording length (s), for the events' ``recordingDuration``.

    Returns
    -------
    events : pandas.DataFrame
        Events table (:mod:`dbrain.events`) with ``eventType`` ``"burst_suppression"``.
    """
    if suppression.size == 0:
        return empty_events()
    k = max(1, int(round(min_duration / step)))
    sr = np.nan_to_num(suppression.astype(np.float64), nan=0.0)
    kernel = np.ones(k) / k
    num = np.convolve(sr, kernel, mode="same")
    den = np.convolve(np.ones_like(sr), kernel, mode="same")
    smooth = num / den
    on = (smooth >= threshold) & (smooth < 99.0)
    edges = np.diff(np.r_[0, on.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    onset, duration, conf = [], [], []
    for s, e in zip(starts, stops, strict=True):
        dur = times[e - 1] + window - times[s]
        if dur >= min_duration:
            onset.append(times[s])
            duration.append(dur)
            conf.append(float(smooth[s:e].mean()) / 100.0)
    if not onset:
        return empty_events()
    return make_events(
        onset, duration, "burst_suppression", confidence=conf, meas_date=meas_date, recording_duration=recording_duration
    )


def _fit_aperiodic(sums, counts, freqs, ch_names, window, freq_range, n_jobs) -> pd.DataFrame:
    cols = ["start", "duration", "channel", "offset", "exponent", "r_squared"]
    ok = counts > 0
    if not ok.any():
        return pd.DataFrame({c: [] for c in cols})
    from specparam import SpectralGroupModel  # ~3 s import: only when used

    spectra = (sums[ok] / counts[ok][:, None, None]).reshape(-1, freqs.size)
    model = SpectralGroupModel(peak_width_limits=(1.0, 8.0), max_n_peaks=4, aperiodic_mode="fixed", verbose=False)
    with warnings.catch_warnings():
        # specparam warns about individual failed fits; those come back as NaN.
        warnings.simplefilter("ignore")
        model.fit(freqs, spectra, list(freq_range), n_jobs=n_jobs)
    ap = np.asarray(model.get_params("aperiodic"), float).reshape(-1, 2)
    r2 = np.asarray(model.results.get_metrics("gof_rsquared"), float).reshape(-1)
    widx = np.repeat(np.flatnonzero(ok), len(ch_names))
    return pd.DataFrame(
        {
            "start": widx * float(window),
            "duration": float(window),
            "channel": np.tile(np.array(ch_names, object), ok.sum()),
            "offset": ap[:, 0],
            "exponent": ap[:, 1],
            "r_squared": r2,
        }
    )


@verbose
def compute_qeeg(
    raw: mne.io.BaseRaw,
    *,
    window: float = 2.0,
    step: float = 1.0,
    fmin: float = 0.5,
    fmax: float = 30.0,
    aeeg_pairs: Sequence | None = None,
    asymmetry_mode: str = "relative",
    suppression_threshold: float = 5.0,
    min_suppression: float = 0.5,
    burst_suppression_threshold: float = 50.0,
    aperiodic_window: float | None = 3600.0,
    aperiodic_range: tuple[float, float] = (1.0, 30.0),
    line_freq: float | None = 50.0,
    chunk_duration: float = 300.0,
    n_jobs: int = 1,
    on_progress: Callable[[float], None] | None = None,
    verbose=None,
    _feed=None,
    _sink=None,
) -> QEEGResult:
    """Compute quantitative EEG trends per epoch, channel and region, streaming over chunks.

    One pass over the recording, ``chunk_duration`` seconds at a time (memory
    does not grow with the recording's length, except for the result, ~0.35 GB
    for 24 h of 19 channels). Per epoch of ``window`` s every ``step`` s:

    * **spectrogram** (density spectral array): Hann-windowed periodogram of the
      de-meaned epoch, µV²/Hz, stored in dB re 1 µV²/Hz for ``fmin``–``fmax``;
      per channel and per region (channel spectra averaged in power;
      :data:`dbrain.qeeg.REGIONS`);
    * **asymmetry spectrogram** for the hemispheres (``left-right``) and
      homologous pairs (:data:`dbrain.qeeg.HOMOLOGOUS_PAIRS`), per frequency:
      ``(rL − rR) / (rL + rR)`` with ``r`` = power at that frequency divided by
      the side's total ``fmin``–``fmax`` power (``asymmetry_mode="relative"``,
      a relative spectral asymmetry index), or the same on absolute power
      (``"absolute"``: the signed per-frequency term of van Putten's brain
      symmetry index, Clin Neurophysiol 2007;118:2362-2367). Positive = more
      power on the left; in [-1, 1];
    * **band powers** (:data:`dbrain.qeeg.BANDS`: delta 0.5–4, theta 4–8,
      alpha 8–13, beta 13–30, gamma 30–45 Hz; ``lo <= f < hi``), absolute (µV²)
      and relative to their sum; theta/alpha ratio; **peak alpha frequency**
      (largest local maximum in 7–13 Hz, parabolic refinement; NaN without a
      peak); **SEF90** (frequency below which 90 % of the ``fmin``–``fmax``
      power lies); **rhythmicity** (share of the 1/f-corrected power within
      ±1 Hz of its largest peak, 0–1: sinusoid ≈ 1, noise ≈ 0.1–0.2);
    * **suppression ratio** (%): share of the epoch's samples in runs of at
      least ``min_suppression`` s with ``|x| < suppression_threshold`` µV after
      a 0.5–30 Hz band-pass; the global ratio (median over channels) drives
      **burst-suppression** events (see :func:`detect_burst_suppression`).

    Per 15 s: **aEEG** lower/upper margins for ``aeeg_pairs`` (see
    :mod:`dbrain.qeeg._aeeg` for the pipeline). Per ``aperiodic_window``:
    **aperiodic exponent** — specparam (``fixed`` mode, ≤ 4 peaks) on the mean
    spectrum of each channel over the window; fitting every 2 s epoch would
    take hours for 24 h and single periodograms are too noisy to fit.

    Per epoch and channel, from the same periodograms and samples: the
    **artifact strength** (0–1) and its dominant type (flat, pop, eye,
    muscle, line, amplitude; :func:`dbrain.qeeg.artifact_strength` gives the
    same numbers for an array).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (lazy is fine: read chunk by chunk). EEG channels not
        marked bad are used, in volts as MNE stores them.
    window, step : float
        Epoch length and hop in seconds (``0 < step <= window``).
    fmin, fmax : float
        Frequency range of the spectrograms, SEF and relative asymmetry (Hz).
    aeeg_pairs : sequence of str or (str, str) | None
        Bipolar pairs for the aEEG, e.g. ``["C3-P3", ("C4", "P4")]``. ``None``:
        C3-P3 and C4-P4 where present. Explicit pairs must exist.
    asymmetry_mode : ``"relative"`` | ``"absolute"``
    suppression_threshold : float
        Amplitude (µV) below which the EEG counts as suppressed.
    min_suppression : float
        Minimum duration (s) of a suppressed stretch.
    burst_suppression_threshold : float
        Suppression ratio (%) over 60 s above which burst suppression is reported.
    aperiodic_window : float | None
        Window (s) of the averaged spectra fitted by specparam; ``None`` skips it.
    aperiodic_range : (float, float)
        Frequency range of the aperiodic fit (Hz).
    line_freq : float | None
        Mains frequency (Hz) for the artifact strength's line-noise score; ``None`` disables it.
    chunk_duration : float
        Seconds read at a time (memory ~ 0.15 MB per channel-minute).
    n_jobs : int
        Threads for the FFTs and processes for specparam.
    on_progress : callable | None
        Called with the fraction done (0–1) after each chunk.
    verbose : bool | str | int | None
        Log level for this call.
    _feed : dbrain.qeeg._stream.SampleFeed | None
        Private, for :class:`dbrain.engine.QEEGStep`: read the samples from this
        feed (pushed by the analysis engine) instead of from ``raw``, which then
        only describes the channels; the results are the same.
    _sink : callable | None
        Private, for :class:`dbrain.engine.QEEGStep`: called as ``_sink(e0, e1, values)``
        with each chunk's per-epoch arrays, in order (:class:`dbrain.qeeg._reduce.TrendReducer`
        keeps reductions of them); the result's per-epoch arrays (spectrograms, measures,
        asymmetry, artifact) then have no rows — memory does not grow with the recording.

    Returns
    -------
    result : QEEGResult
        Arrays and tables; :meth:`QEEGResult.to_frame` gives the tidy
        (start, channel, measure, value) table.
    """
    raw = as_normalized(raw)
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    sfreq = float(raw.info["sfreq"])
    opts = {
        "window": window,
        "step": step,
        "fmin": fmin,
        "fmax": fmax,
        "asymmetry_mode": asymmetry_mode,
        "suppression_threshold": suppression_threshold,
        "min_suppression": min_suppression,
        "burst_suppression_threshold": burst_suppression_threshold,
        "aperiodic_window": aperiodic_window,
        "aperiodic_range": aperiodic_range,
        "line_freq": line_freq,
        "chunk_duration": chunk_duration,
        "n_jobs": n_jobs,
    }
    _check_qeeg_args(sfreq, on_progress=on_progress, **opts)
    # _feed: a dbrain.qeeg._stream.SampleFeed serving the samples pushed by the analysis engine
    # (raw then only describes the channels); the chunks and results are the same as reading raw.
    n_times = raw.n_times if _feed is None else _feed.n_times
    plan = _plan(raw, n_times, aeeg_pairs, opts)
    # _sink: a callable(e0, e1, values) given each chunk's per-epoch values in order (dbrain.qeeg.TrendReducer,
    # for the analysis engine); the whole-recording arrays are then not allocated and the result holds none.
    out = _allocate(plan, plan.n_ep if _sink is None else 0)
    worker = _ChunkWorker(plan, out, opts)
    n_ch, sr_idx = len(plan.ch_names), MEASURES.index("suppression_ratio")
    suppression = []  # global suppression ratio (median over channels) per epoch, chunk by chunk

    def take(e0, e1, values):
        suppression.append(np.median(values.measures[:, :n_ch, sr_idx], axis=1))
        (out.put if _sink is None else _sink)(e0, e1, values)

    if _sink is not None and hasattr(_sink, "start"):
        _sink.start(_layout(raw, plan, opts))
    t0 = time.perf_counter()
    chunks = iter_chunks(
        raw if _feed is None else _feed,
        plan.picks,
        n_times=n_times,
        n_win=plan.n_win,
        n_step=plan.n_step,
        n_epochs=plan.n_ep,
        epochs_per_chunk=max(1, int(chunk_duration / step)),
        pad=plan.pad,
    )
    env_parts = _run_chunks(chunks, worker, n_jobs=n_jobs, n_epochs=plan.n_ep, on_progress=on_progress, sink=take)
    return _result(raw, plan, out, env_parts, opts, np.concatenate(suppression), t0=t0)


def _result(raw, plan: _Plan, out: _Outputs, env_parts, opts: dict, suppression: np.ndarray, *, t0: float) -> QEEGResult:
    """Burst suppression, aEEG margins and aperiodic fits from the filled arrays, and the result around them all."""
    sfreq = plan.sfreq
    times = np.arange(plan.n_ep) * plan.n_step / sfreq
    duration = plan.n_times / sfreq
    meas_date = raw.info["meas_date"]
    bs = detect_burst_suppression(
        suppression,
        times,
        step=plan.n_step / sfreq,
        window=plan.n_win / sfreq,
        threshold=opts["burst_suppression_threshold"],
        meas_date=meas_date,
        recording_duration=duration,
    )
    aeeg = _aeeg_table(env_parts, plan.pairs, sfreq, plan.n_block)
    t_stream = time.perf_counter() - t0
    freqs_full = plan.spec.freqs
    aperiodic = _fit_aperiodic(
        out.ap_sum,
        out.ap_cnt,
        freqs_full[plan.ap_sel],
        plan.ch_names,
        opts["aperiodic_window"] or 0.0,
        opts["aperiodic_range"],
        opts["n_jobs"],
    )
    logger.info("qEEG: streaming %.1f s, aperiodic fits %.1f s", t_stream, time.perf_counter() - t0 - t_stream)
    return QEEGResult(
        times=times,
        freqs=freqs_full[plan.fsel],
        ch_names=plan.ch_names,
        region_names=plan.region_names,
        pair_names=plan.pair_names,
        spectrogram=out.spectrogram,
        region_spectrogram=out.region_spec,
        asymmetry=out.asym,
        measures=out.measures,
        measure_names=list(MEASURES),
        aeeg=aeeg,
        aperiodic=aperiodic,
        burst_suppression=bs,
        suppression=suppression,
        asymmetry_index=out.asym_index,
        artifact=out.artifact,
        artifact_type=out.artifact_type,
        params=_params(plan, opts),
        sfreq=sfreq,
        duration=duration,
        meas_date=meas_date,
    )


def _layout(raw, plan: _Plan, opts: dict) -> QEEGResult:
    """A result with the names, frequencies, epoch times and settings of the pass, and no values."""
    empty = _allocate(plan, 0, aperiodic=False)
    return QEEGResult(
        times=np.arange(plan.n_ep) * plan.n_step / plan.sfreq,
        freqs=plan.spec.freqs[plan.fsel],
        ch_names=plan.ch_names,
        region_names=plan.region_names,
        pair_names=plan.pair_names,
        spectrogram=empty.spectrogram,
        region_spectrogram=empty.region_spec,
        asymmetry=empty.asym,
        measures=empty.measures,
        measure_names=list(MEASURES),
        aeeg=_aeeg_table([], [], plan.sfreq, plan.n_block),
        aperiodic=pd.DataFrame(),
        burst_suppression=empty_events(),
        suppression=np.zeros(0, np.float32),
        asymmetry_index=empty.asym_index,
        artifact=empty.artifact,
        artifact_type=empty.artifact_type,
        params=_params(plan, opts),
        sfreq=plan.sfreq,
        duration=plan.n_times / plan.sfreq,
        meas_date=raw.info["meas_date"],
    )


def _params(plan: _Plan, opts: dict) -> dict:
    """The settings as used (window and step rounded to whole samples), for :attr:`QEEGResult.params`."""
    return {
        "window": plan.n_win / plan.sfreq,
        "step": plan.n_step / plan.sfreq,
        "fmin": float(opts["fmin"]),
        "fmax": float(opts["fmax"]),
        "bands": plan.bands,
        "asymmetry_mode": opts["asymmetry_mode"],
        "suppression_threshold": float(opts["suppression_threshold"]),
        "min_suppression": float(opts["min_suppression"]),
        "burst_suppression_threshold": float(opts["burst_suppression_threshold"]),
        "aeeg_pairs": [p[0] for p in plan.pairs],
        "aperiodic_window": opts["aperiodic_window"],
        "aperiodic_range": tuple(opts["aperiodic_range"]),
        "line_freq": opts["line_freq"],
    }


def _check_qeeg_args(
    sfreq,
    *,
    window,
    step,
    fmin,
    fmax,
    asymmetry_mode,
    suppression_threshold,
    min_suppression,
    burst_suppression_threshold,
    aperiodic_window,
    aperiodic_range,
    line_freq,
    chunk_duration,
    n_jobs,
    on_progress,
) -> None:
    """Ranges and types of :func:`compute_qeeg`'s parameters."""
    _check_range("window", window, 0, None, inclusive=False)
    _check_range("step", step, 0, window, inclusive=True)
    if step <= 0:
        raise ParameterError(f"step must be > 0, got {step!r}.")
    _check_range("fmin", fmin, 0, None)
    _check_range("fmax", fmax, 0, sfreq / 2)
    if fmin >= fmax:
        raise ParameterError(f"fmin must be below fmax, got fmin={fmin!r}, fmax={fmax!r}.")
    _check_option("asymmetry_mode", asymmetry_mode, ("relative", "absolute"))
    _check_range("suppression_threshold", suppression_threshold, 0, None, inclusive=False)
    _check_range("min_suppression", min_suppression, 0, None, inclusive=False)
    _check_range("burst_suppression_threshold", burst_suppression_threshold, 0, 100)
    if aperiodic_window is not None:
        _check_range("aperiodic_window", aperiodic_window, window, None)
    _validate_type(aperiodic_range, (tuple, list), "aperiodic_range")
    if len(aperiodic_range) != 2 or not 0 < aperiodic_range[0] < aperiodic_range[1] <= sfreq / 2:
        raise ParameterError(f"aperiodic_range must be (low, high) with 0 < low < high <= {sfreq / 2}, got {aperiodic_range!r}.")
    if line_freq is not None:
        _check_range("line_freq", line_freq, 0, None, inclusive=False)
    _check_range("chunk_duration", chunk_duration, 0, None, inclusive=False)
    _validate_type(n_jobs, int, "n_jobs")
    _check_range("n_jobs", n_jobs, 1, None)
    if on_progress is not None and not callable(on_progress):
        raise ParameterError(f"on_progress must be callable or None, got {type(on_progress).__name__}.")


@dataclass
class _Plan:
    """The layout of one qEEG pass: channels, epochs, frequencies, regions, pairs, decimation."""

    sfreq: float
    picks: np.ndarray
    ch_names: list[str]
    n_win: int
    n_step: int
    n_times: int
    n_ep: int
    pad: int
    n_block: int  # samples per aEEG block
    q: int  # decimation of the time-domain measures
    min_len: int  # shortest suppressed run, in decimated samples
    pairs: list  # aEEG pairs (name, i, j)
    spec: EpochSpectrum
    fsel: np.ndarray  # frequencies kept in the spectrograms
    bands: dict
    region_names: list[str]
    weights: np.ndarray  # (regions, channels)
    pair_names: list[str]
    apairs: list  # asymmetry pairs (kind, i, j)
    ap_sel: np.ndarray  # frequencies of the aperiodic fit
    n_aw: int  # aperiodic windows


def _plan(raw, n_times: int, aeeg_pairs, opts: dict) -> _Plan:
    """Lay out the pass (and check that the recording and the parameters allow one); log its size."""
    window, step, fmin, fmax = opts["window"], opts["step"], opts["fmin"], opts["fmax"]
    aperiodic_window, aperiodic_range = opts["aperiodic_window"], opts["aperiodic_range"]
    sfreq = float(raw.info["sfreq"])
    picks = mne.pick_types(raw.info, eeg=True, exclude="bads")
    if picks.size == 0:
        raise ParameterError("raw has no EEG channels (that are not marked bad) to analyse.")
    ch_names = [raw.ch_names[i] for i in picks]
    n_win, n_step = int(round(window * sfreq)), int(round(step * sfreq))
    if n_win < 4 or n_step < 1:
        raise ParameterError(f"window={window} s at {sfreq} Hz gives too few samples per epoch.")
    if n_times < n_win:
        raise ParameterError(f"the recording ({n_times / sfreq:.1f} s) is shorter than one window ({window} s).")
    pad = int(round(PAD_SECONDS * sfreq))
    n_block = int(round(AEEG_BLOCK * sfreq))
    q = decimation_factor(sfreq, n_step, n_win, n_block, pad)  # time-domain measures at sfreq / q
    pairs = _parse_pairs(DEFAULT_AEEG_PAIRS if aeeg_pairs is None else aeeg_pairs, ch_names, explicit=aeeg_pairs is not None)
    spec = EpochSpectrum(sfreq, n_win, n_step)
    freqs_full = spec.freqs
    fsel = np.flatnonzero((freqs_full >= fmin - 1e-9) & (freqs_full <= fmax + 1e-9))
    if fsel.size < 2:
        raise ParameterError(f"fmin–fmax ({fmin}–{fmax} Hz) holds fewer than 2 frequencies at {freqs_full[1]:.3g} Hz resolution.")
    region_names, weights = region_weights(ch_names)
    pair_names, apairs = asymmetry_pairs(ch_names, region_names)
    n_ep = (n_times - n_win) // n_step + 1
    logger.info(
        "qEEG: %d epochs × %d channels, %d regions, %d asymmetry pairs, %d aEEG pairs",
        n_ep,
        len(ch_names),
        len(region_names),
        len(pair_names),
        len(pairs),
    )
    return _Plan(
        sfreq=sfreq,
        picks=picks,
        ch_names=ch_names,
        n_win=n_win,
        n_step=n_step,
        n_times=n_times,
        n_ep=n_ep,
        pad=pad,
        n_block=n_block,
        q=q,
        min_len=max(1, int(round(opts["min_suppression"] * sfreq / q))),
        pairs=pairs,
        spec=spec,
        fsel=fsel,
        bands={k: (lo, min(hi, sfreq / 2)) for k, (lo, hi) in BANDS.items()},
        region_names=region_names,
        weights=weights,
        pair_names=pair_names,
        apairs=apairs,
        ap_sel=np.flatnonzero((freqs_full >= aperiodic_range[0]) & (freqs_full <= aperiodic_range[1])),
        n_aw=0 if aperiodic_window is None else int(np.ceil(n_times / sfreq / aperiodic_window)),
    )


@dataclass
class _Outputs:
    """Result arrays of some epochs (a chunk's, or the whole recording's, filled chunk by chunk), and the aperiodic sums."""

    spectrogram: np.ndarray
    region_spec: np.ndarray
    asym: np.ndarray
    measures: np.ndarray
    asym_index: np.ndarray
    artifact: np.ndarray
    artifact_type: np.ndarray
    ap_sum: np.ndarray  # summed spectra per aperiodic window (shared by the workers: ap_lock)
    ap_cnt: np.ndarray
    ap_lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, e0: int, e1: int, part: _Outputs) -> None:
        """Copy the per-epoch arrays of ``part`` (epochs ``e0``–``e1``) into these (whole-recording) arrays."""
        for name in ("spectrogram", "region_spec", "asym", "measures", "asym_index", "artifact", "artifact_type"):
            getattr(self, name)[e0:e1] = getattr(part, name)


def _allocate(plan: _Plan, n_ep: int, *, aperiodic: bool = True) -> _Outputs:
    n_ch, n_reg, n_f = len(plan.ch_names), len(plan.region_names), plan.fsel.size
    n_pairs = len(plan.pair_names)
    n_aw = plan.n_aw if aperiodic else 0
    return _Outputs(
        spectrogram=np.empty((n_ep, n_ch, n_f), np.float16),
        region_spec=np.empty((n_ep, n_reg, n_f), np.float16),
        asym=np.empty((n_ep, n_pairs, n_f), np.float16),
        measures=np.empty((n_ep, n_ch + n_reg, len(MEASURES)), np.float32),
        asym_index=np.empty((n_ep, n_pairs), np.float32),
        artifact=np.empty((n_ep, n_ch), np.float32),
        artifact_type=np.empty((n_ep, n_ch), np.int8),
        ap_sum=np.zeros((n_aw, n_ch, plan.ap_sel.size)),
        ap_cnt=np.zeros(n_aw),
    )


class _ChunkWorker:
    """Computes every measure of one chunk (thread-safe across chunks); adds its spectra to the aperiodic sums of ``ap``."""

    def __init__(self, plan: _Plan, ap: _Outputs, settings: dict):
        self.plan, self.ap, self.settings = plan, ap, settings
        self.aperiodic_window = settings["aperiodic_window"]
        self.scorer = ArtifactScorer(plan.sfreq, plan.n_win, plan.n_step, plan.ch_names, settings["line_freq"])
        self.filt = ChunkFilter(plan.sfreq, plan.q)
        self.df = np.float32(plan.sfreq / plan.n_win)
        self.sr_idx = MEASURES.index("suppression_ratio")

    def __call__(self, chunk) -> tuple[np.ndarray | None, _Outputs]:
        """This chunk's epochs' values (arrays of ``chunk.e1 - chunk.e0`` rows) and its aEEG block envelopes.

        The envelopes are None without aEEG pairs. The chunk's values are returned rather than written
        into whole-recording arrays, so that the caller decides what to keep of them (see ``_sink`` of
        :func:`compute_qeeg`).
        """
        loc = _allocate(self.plan, chunk.e1 - chunk.e0, aperiodic=False)
        self._frequency_domain(chunk, loc)
        # time domain: suppression ratio and aEEG on the padded chunk
        fspec, n, nfft = self.filt.spectrum(chunk.data)
        h_bp, h_aeeg = self.filt.responses(nfft)
        self._suppression(chunk, self.filt.apply(fspec, h_bp, n, nfft), n, loc)
        if not self.plan.pairs:
            return None, loc
        pspec = np.stack([fspec[a] - fspec[b] for _, a, b in self.plan.pairs])
        del fspec  # the chunk's spectrum is the largest array here: free it before filtering the pairs
        return self._aeeg_envelope(chunk, pspec, h_aeeg, n, nfft), loc

    def _frequency_domain(self, chunk, loc: _Outputs) -> None:
        """Periodograms of the chunk's epochs: artifact, band measures, spectrograms, asymmetry, aperiodic sums."""
        plan, out, st = self.plan, loc, self.settings
        n_ch, n_reg = len(plan.ch_names), len(plan.region_names)
        freqs_full, fsel = plan.spec.freqs, plan.fsel
        e0, e1 = chunk.e0, chunk.e1
        ne = e1 - e0
        mid = chunk.data[:, chunk.local(e0 * plan.n_step) :]
        psd = plan.spec(mid, ne)  # (ne, ch, F)
        out.artifact[:], out.artifact_type[:] = self.scorer.score(mid, ne, psd * self.df)
        rpsd = np.matmul(plan.weights, psd) if n_reg else np.empty((ne, 0, psd.shape[-1]), np.float32)
        out.measures[:, :n_ch] = epoch_measures(psd, freqs_full, plan.bands, st["fmin"], st["fmax"])
        if n_reg:
            out.measures[:, n_ch:] = epoch_measures(rpsd, freqs_full, plan.bands, st["fmin"], st["fmax"])
        out.spectrogram[:] = to_db(psd[..., fsel])
        out.region_spec[:] = to_db(rpsd[..., fsel])
        for k, (kind, i, j) in enumerate(plan.apairs):
            src = rpsd if kind == "region" else psd
            a = asymmetry(src[:, i, fsel], src[:, j, fsel], mode=st["asymmetry_mode"])
            out.asym[:, k] = a
            out.asym_index[:, k] = a.mean(axis=-1)
        if plan.n_aw:
            self._aperiodic_sums(e0, ne, psd)

    def _aperiodic_sums(self, e0: int, ne: int, psd: np.ndarray) -> None:
        """Add the epochs' spectra to the sums of their aperiodic windows."""
        plan, out = self.plan, self.ap
        widx = ((e0 + np.arange(ne)) * plan.n_step / plan.sfreq // self.aperiodic_window).astype(int)
        for w in np.unique(widx):
            sel = widx == w
            part = psd[sel][..., plan.ap_sel].sum(axis=0, dtype=np.float64)
            with out.ap_lock:
                out.ap_sum[w] += part
                out.ap_cnt[w] += sel.sum()

    def _suppression(self, chunk, band_passed: np.ndarray, n: int, loc: _Outputs) -> None:
        """Suppression ratio (%) per epoch and channel (and region) from the band-passed chunk of ``n`` samples."""
        plan, out, q = self.plan, loc, self.plan.q
        n_ch, n_reg = len(plan.ch_names), len(plan.region_names)
        e0, e1 = chunk.e0, chunk.e1
        starts = chunk.local((e0 + np.arange(e1 - e0)) * plan.n_step)
        lo, hi = max(0, chunk.local(0)), min(n, chunk.local(plan.n_times))
        counts = suppressed_counts(
            band_passed,
            self.settings["suppression_threshold"],
            plan.min_len,
            starts // q,
            plan.n_win // q,
            valid=(lo // q, -(-hi // q)),
        )
        sr = counts.T * np.float32(100.0 / (plan.n_win // q))  # (ne, ch)
        out.measures[:, :n_ch, self.sr_idx] = sr
        if n_reg:
            out.measures[:, n_ch:, self.sr_idx] = sr @ plan.weights.T

    def _aeeg_envelope(self, chunk, pspec, h_aeeg, n: int, nfft: int) -> np.ndarray:
        """Envelopes of the aEEG pairs (spectra ``pspec`` of the bipolar pairs) in the blocks this chunk owns."""
        plan, q = self.plan, self.plan.q
        b_first = -(-chunk.own_start // plan.n_block)
        b_stop = -(-chunk.own_stop // plan.n_block)
        bstarts = np.arange(b_first, b_stop) * plan.n_block
        bstarts = bstarts[bstarts + plan.n_block <= plan.n_times]
        y = self.filt.apply(pspec, h_aeeg, n, nfft)
        return block_envelope(y, chunk.local(bstarts) // q, plan.n_block // q)


def _run_chunks(chunks, worker: _ChunkWorker, *, n_jobs: int, n_epochs: int, on_progress, sink) -> list[np.ndarray]:
    """Run ``worker`` over the chunks, hand each chunk's values to ``sink(e0, e1, values)`` in chunk order.

    Chunks are read in this thread, in order, and computed by n_jobs worker
    threads (NumPy/SciPy release the GIL); at most n_jobs + 1 chunks are in memory.
    Returns the aEEG envelopes in chunk order.
    """
    env_parts = []

    def done(e0, e1, fut):
        env, values = fut.result()
        env_parts.append(env)
        sink(e0, e1, values)
        if on_progress is not None:
            on_progress(e1 / n_epochs)

    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append((chunk.e0, chunk.e1, pool.submit(worker, chunk)))
            del chunk
            while len(pending) > n_jobs:
                done(*pending.popleft())
        while pending:
            done(*pending.popleft())
    return [e for e in env_parts if e is not None]


def _aeeg_table(env_parts: list[np.ndarray], pairs, sfreq: float, n_block: int) -> pd.DataFrame:
    """aEEG lower and upper margins per pair and segment (an empty table without pairs)."""
    per_seg = int(round(AEEG_SEGMENT / AEEG_BLOCK))
    if pairs and env_parts:
        env = np.concatenate(env_parts, axis=-1)
        lower, upper = margins(env, per_seg)
        n_seg = lower.shape[-1]
        return pd.DataFrame(
            {
                "start": np.tile(np.arange(n_seg) * per_seg * n_block / sfreq, len(pairs)),
                "pair": np.repeat([p[0] for p in pairs], n_seg),
                "lower": lower.reshape(-1),
                "upper": upper.reshape(-1),
            }
        )
    return pd.DataFrame(
        {
            "start": pd.Series(dtype=float),
            "pair": pd.Series(dtype=object),
            "lower": pd.Series(dtype=np.float32),
            "upper": pd.Series(dtype=np.float32),
        }
    )
