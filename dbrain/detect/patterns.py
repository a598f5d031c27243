"""Rhythmic and periodic patterns of the ACNS 2021 ICU terminology (LPD, GPD, LRDA, GRDA) and seizures.

Consecutive windows (10 s, as scored in the IIIC data) are classified into
``seizure``, ``lpd``, ``gpd``, ``lrda``, ``grda`` and ``other`` with
probabilities. Each window is described by features that measure the ACNS
2021 definitions, on the common-average montage, 0.5–20 Hz, on the 6
electrodes of highest power in the window (the *involved* electrodes):

* delta dominance — the share of 0.5–4 Hz in the 0.5–20 Hz power (``delta_share``);
* periodic discharges vs rhythmic delta — discharges separated by flatter
  intervals make the signal kurtotic (``kurtosis``; a sine has −1.5), and
  they recur as a train: the number of discharges (``n_discharges``, peaks
  of the smoothed mean absolute signal) and the regularity of their
  intervals (``interval_cv``);
* lateralised vs generalised — the hemisphere power share
  ``(L − R) / (L + R)`` over the 8 left and 8 right electrodes (``lateralisation``);
* frequency — the spectral peak in 0.5–4 Hz of the involved electrodes;
* evolution — amplitude against the window 10–20 s before (``evolution``),
  and amplitude itself (``amplitude``);
* rhythmicity — the highest autocorrelation at lags of 0.125–2 s;
* frontal-polar share — the 0.5–4 Hz power of Fp1/Fp2 over F3/Fz/F4
  (``eye_ratio``: eye movements and blinks fall off steeply behind Fp1/Fp2).

How these combine into a class is *learned* by
:class:`~dbrain.detect._pattern_model.PatternClassifier` (a regularised
multinomial logistic regression; shipped model trained on simulated
patterns and the 12 IIIC development segments, evaluated leave-one-segment-out
— see ``docs/patterns.md``). Rules remain only where they are definitions:
periodic discharges at 2.5 Hz or faster are a seizure, and a pattern event
needs at least two consecutive windows (ACNS: a pattern lasts at least 10 s,
6 cycles), each with the evidence of its definition: periodic discharges
recurring at their period (``periodicity``) or rhythmic delta repeating at
its frequency (``delta_rhythm``) — a probability alone is not a pattern. Windows of a recording are reconciled with the seizure detector
by :func:`dbrain.detect.reconcile_windows` (one decision per window).
"""

from __future__ import annotations

from dataclasses import dataclass

import mne
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure
from scipy import fft as sp_fft
from scipy import ndimage, signal, stats

from ..channels._raw import as_normalized
from ..errors import ParameterError, RecordingError
from ..events import make_events
from ..utils import _check_range, _validate_type, logger, verbose
from ._filter import butter_sos, sosfiltfilt_rows
from ._pattern_model import EVIDENCE_COLUMNS, SEIZURE_FREQUENCY, PatternClassifier, pattern_evidence

__all__ = [
    "FEATURE_COLUMNS",
    "PatternClassifier",
    "PATTERN_CLASSES",
    "PATTERN_EVENT_TYPES",
    "THRESHOLDS",
    "PatternResult",
    "class_probabilities",
    "classify_patterns",
    "classify_segment",
    "detect_patterns",
    "pattern_windows",
    "plot_pattern_timeline",
]

#: Classes of the classifier, in the order of the probability columns.
PATTERN_CLASSES = ("seizure", "lpd", "gpd", "lrda", "grda", "other")
#: eventType written to the events table for each pattern class (seizure windows are left to the seizure step).
PATTERN_EVENT_TYPES = {"lpd": "lpd", "gpd": "gpd", "lrda": "lrda", "grda": "grda"}

_LEFT = ("Fp1", "F3", "C3", "P3", "O1", "F7", "T7", "P7")
_RIGHT = ("Fp2", "F4", "C4", "P4", "O2", "F8", "T8", "P8")
_BAND = (0.5, 20.0)
_N_INVOLVED = 6
_PAD_S = 5.0
_MIN_SFREQ = 50.0
_FRONTAL_POLAR = ("Fp1", "Fp2")
_FRONTAL_ROW = ("F3", "Fz", "F4")
_DISCHARGE_PROMINENCE = 0.5
_BATCH = 8  # windows whose features are computed at once

#: The fixed values that remain: definitions (ACNS 2021) and how the side is reported. What makes each class is learned.
THRESHOLDS = {
    "seizure_frequency": SEIZURE_FREQUENCY,  # periodic discharges at >= 2.5 Hz are a seizure
    "lateralisation": 0.2,  # |(L - R) / (L + R)| at which the reported side is left / right (a 60:40 split)
}

FEATURE_COLUMNS = [
    "frequency",
    "delta_share",
    "kurtosis",
    "lateralisation",
    "amplitude",
    "evolution",
    "rhythmicity",
    "eye_ratio",
    "n_discharges",
    "interval_cv",
    "symmetry",
]


@dataclass
class PatternResult:
    """Classification of consecutive windows of a recording.

    Attributes
    ----------
    windows : pandas.DataFrame
        One row per window: ``start`` (s), ``duration`` (s), the feature
        columns (:data:`FEATURE_COLUMNS`), ``side`` (``left``/``right``/
        ``generalised``, or ``unknown`` without electrodes on both sides), ``channels`` (involved electrodes), one probability
        column per class (:data:`PATTERN_CLASSES`) and ``label`` (the most
        probable class).
    events : pandas.DataFrame
        Runs of consecutive windows of one pattern class (LPD, GPD, LRDA,
        GRDA), each window showing that class's ACNS evidence
        (:func:`~dbrain.detect._pattern_model.pattern_evidence`), as
        events-table rows, with ``confidence`` the mean probability.
    """

    windows: pd.DataFrame
    events: pd.DataFrame

    def prevalence(self, per: float = 3600.0) -> pd.DataFrame:
        """Share of time (%) of each class per period.

        Parameters
        ----------
        per : float
            Period length in seconds (3600 for per hour).

        Returns
        -------
        prevalence : pandas.DataFrame
            Rows: periods (``period_start`` in s); columns: the classes.
        """
        _check_range("per", float(per), 1.0, None)
        w = self.windows
        if not len(w):
            return pd.DataFrame(columns=["period_start", *PATTERN_CLASSES])
        period = (w["start"] // per) * per
        table = pd.crosstab(period, w["label"], values=w["duration"], aggfunc="sum").fillna(0.0)
        table = table.reindex(columns=list(PATTERN_CLASSES), fill_value=0.0)
        table = 100.0 * table.div(table.sum(axis=1), axis=0)
        table.index.name = "period_start"
        table.columns.name = None
        return table.reset_index()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def class_probabilities(features: pd.DataFrame, classifier: PatternClassifier | None = None) -> pd.DataFrame:
    """Class probabilities of windows from their features (the learned model, then the definitions).

    Parameters
    ----------
    features : pandas.DataFrame
        Columns :data:`FEATURE_COLUMNS` (``evolution`` may be NaN: no context).
    classifier : PatternClassifier | None
        A fitted or loaded classifier; None for the shipped model.

    Returns
    -------
    probabilities : pandas.DataFrame
        One column per class of :data:`PATTERN_CLASSES`, rows summing to 1.
    """
    clf = classifier if classifier is not None else PatternClassifier()
    return clf.predict_proba(features)[list(PATTERN_CLASSES)]


def _window_features(x: np.ndarray, sfreq: float, names: list[str]) -> pd.DataFrame:
    """Features of a batch of windows ``x`` (n_windows, n_channels, n_times) µV, filtered, common average.

    Every feature is computed for all windows at once (one Welch, one FFT
    autocorrelation, one kurtosis call); only the discharge search loops over
    windows.
    """
    n_w, n_ch, n_t = x.shape
    f, p = _welch(x, sfreq, min(n_t, int(5 * sfreq)), int(3.75 * sfreq))
    band = (f >= _BAND[0]) & (f <= _BAND[1])
    power = p[..., band].sum(axis=-1) + 1e-12  # (n_w, n_ch)
    k = min(_N_INVOLVED, n_ch)
    top = np.argsort(-power, axis=-1)[:, :k]  # (n_w, k): the involved electrodes
    delta = (f >= 0.5) & (f < 4.0)
    pd_ = p[..., delta]
    spec = np.take_along_axis(pd_, top[..., None], axis=1).mean(axis=1)
    freq = f[delta][np.argmax(spec, axis=-1)] if spec.shape[-1] else np.full(n_w, np.nan)
    delta_power = pd_.sum(axis=-1)
    share = delta_power.mean(axis=-1) / power.mean(axis=-1)
    xt = np.take_along_axis(x, top[..., None], axis=1)  # (n_w, k, n_t)
    kurt = stats.kurtosis(xt, axis=-1).mean(axis=-1)
    lidx = [i for i, n in enumerate(names) if n in _LEFT]
    ridx = [i for i, n in enumerate(names) if n in _RIGHT]
    if lidx and ridx:
        lp, rp = power[:, lidx].mean(axis=-1), power[:, ridx].mean(axis=-1)
        lat = (lp - rp) / (lp + rp)
    else:
        lat = np.full(n_w, np.nan)  # one hemisphere or none: lateralisation cannot be told
    # Rhythmicity: the highest autocorrelation at lags of 0.125–2 s (periods of 0.5–8 Hz).
    lo, hi = max(1, int(sfreq / 8)), min(n_t - 1, int(2 * sfreq))
    y = xt - xt.mean(axis=-1, keepdims=True)
    r = signal.fftconvolve(y, y[..., ::-1], mode="full", axes=-1)[..., n_t - 1 :]
    ac = (r[..., lo:hi].max(axis=-1) / (r[..., 0] + 1e-12)).mean(axis=-1)
    # Eye artifact: delta power of the frontal-polar electrodes against the next row (F3/Fz/F4). A blink's
    # field falls off steeply behind Fp1/Fp2; a cerebral pattern, even frontally predominant, reaches F3/Fz/F4.
    fp = [i for i, n in enumerate(names) if n in _FRONTAL_POLAR]
    fr = [i for i, n in enumerate(names) if n in _FRONTAL_ROW]
    if fp and fr:
        eye = delta_power[:, fp].mean(axis=-1) / (delta_power[:, fr].mean(axis=-1) + 1e-12)
    else:
        eye = np.full(n_w, np.nan)
    n_dis, cv, periodicity = _discharge_train(xt, sfreq)
    # Rhythmic delta (ACNS: waves of one frequency without an interval between them): autocorrelation of the involved
    # electrodes at one period of their delta peak frequency (1 for a steady rhythm; low for polymorphic activity).
    lag = np.clip(np.round(sfreq / np.where(freq > 0, freq, np.nan)), 1, n_t - 1)
    lag = np.nan_to_num(lag, nan=1).astype(int)
    r_lag = np.take_along_axis(r, np.broadcast_to(lag[:, None, None], (n_w, r.shape[1], 1)), axis=-1)[..., 0]
    delta_rhythm = (r_lag / (r[..., 0] + 1e-12)).mean(axis=-1)
    # Symmetry: mean correlation of homologous electrodes (Fp1/Fp2, F3/F4, …). Generalised patterns are bilateral and
    # synchronous (near 1); a lateralised one is not. Amplitude- and scale-free; NaN without a homologous pair.
    pairs = [(names.index(a), names.index(b)) for a, b in zip(_LEFT, _RIGHT, strict=True) if a in names and b in names]
    if pairs:
        xc = x - x.mean(axis=-1, keepdims=True)
        li, ri = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
        num = (xc[:, li] * xc[:, ri]).sum(axis=-1)
        den = np.sqrt((xc[:, li] ** 2).sum(axis=-1) * (xc[:, ri] ** 2).sum(axis=-1)) + 1e-12
        sym = (num / den).mean(axis=-1)
    else:
        sym = np.full(n_w, np.nan)
    return pd.DataFrame(
        {
            "frequency": freq.astype(float),
            "delta_share": share,
            "kurtosis": kurt,
            "lateralisation": lat,
            "amplitude": xt.std(axis=-1).mean(axis=-1),
            "rhythmicity": ac,
            "eye_ratio": eye,
            "n_discharges": n_dis,
            "interval_cv": cv,
            "symmetry": sym,
            "periodicity": periodicity,
            "delta_rhythm": delta_rhythm,
            "channels": [",".join(names[i] for i in row[:3]) for row in top],
        }
    )


def _welch(x: np.ndarray, sfreq: float, nperseg: int, noverlap: int) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.welch(x, sfreq, nperseg=, noverlap=, axis=-1)`` (Hann, constant detrend, density), batched.

    The same estimate in one strided pass (SciPy detrends segment by segment,
    which dominated the classifier's time); equal to SciPy's to rounding.
    """
    noverlap = min(noverlap, nperseg // 2) if noverlap >= nperseg else noverlap
    step = nperseg - noverlap
    n_seg = (x.shape[-1] - nperseg) // step + 1
    segs = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[..., : (n_seg - 1) * step + 1 : step, :]
    win = signal.get_window("hann", nperseg)
    spec = sp_fft.rfft((segs - segs.mean(axis=-1, keepdims=True)) * win, axis=-1)
    p = (spec.real**2 + spec.imag**2).mean(axis=-2) / (sfreq * (win * win).sum())
    p[..., 1 : None if nperseg % 2 else -1] *= 2.0  # one-sided: all but DC (and Nyquist for even lengths)
    return sp_fft.rfftfreq(nperseg, 1.0 / sfreq), p


def _discharge_train(xt: np.ndarray, sfreq: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discharges per window, the regularity of their intervals and the strength of their period.

    The envelope (mean absolute value of the involved electrodes, smoothed
    over 100 ms) has one peak per discharge whatever its polarity; peaks at
    least 0.25 s apart (4 Hz at most) whose prominence is at least half the
    window's largest count as discharges. Returns their number, the
    coefficient of variation of the intervals between them (NaN below 3) and
    the *periodicity*: the envelope's autocorrelation at the median interval
    (ACNS: a quantifiable period, discharges standing out of the background
    and recurring at it; near 1 for a periodic train, near 0 for background
    whose envelope peaks are chance fluctuations; NaN below 3 discharges).
    """
    env = ndimage.uniform_filter1d(np.abs(xt).mean(axis=1), max(1, int(round(0.1 * sfreq))), axis=-1, mode="nearest")
    dist = max(1, int(round(0.25 * sfreq)))
    n = np.zeros(len(env), int)
    cv = np.full(len(env), np.nan)
    per = np.full(len(env), np.nan)
    for k, e in enumerate(env):
        peaks, props = signal.find_peaks(e, distance=dist, prominence=0.0)
        if not peaks.size:
            continue
        prom = props["prominences"]
        peaks = peaks[prom >= _DISCHARGE_PROMINENCE * prom.max()]
        n[k] = peaks.size
        if peaks.size >= 3:
            d = np.diff(peaks)
            cv[k] = d.std() / d.mean()
            lag = int(np.median(d))
            e0 = e - e.mean()
            per[k] = float((e0[:-lag] * e0[lag:]).sum() / ((e0 * e0).sum() + 1e-12)) if 0 < lag < e.size else np.nan
    return n, cv, per


def _source(raw):
    from ..montages import apply_montage_with_fallback

    source, picks, result, _ = apply_montage_with_fallback(raw, ("average",), min_derivations=3)
    if result is not None:
        return source, [c.split("-")[0] for c in picks]
    if not picks:
        raise RecordingError("the recording has no EEG channels for pattern classification")
    return source.copy().pick(picks), picks


@verbose
def detect_patterns(raw, *, verbose=None, **kwargs) -> pd.DataFrame:
    """Detect rhythmic and periodic patterns (LPD, GPD, LRDA, GRDA) as events.

    The ``detect_*`` verb of :func:`classify_patterns`: the same classification, returning only its
    events table (use :func:`classify_patterns` for the per-window probabilities).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording (from :func:`dbrain.read_recording` or a plain MNE ``Raw``).
    **kwargs
        Parameters of :func:`classify_patterns` (``window``, ``chunk_duration``, ``min_windows``).
    verbose : bool | str | int | None
        Log level for this call (MNE-style); None keeps the current one.

    Returns
    -------
    events : pandas.DataFrame
        Events-table rows, one per run of one pattern class.
    """
    return classify_patterns(raw, **kwargs).events


@verbose
def classify_patterns(
    raw,
    *,
    window: float = 10.0,
    chunk_duration: float = 600.0,
    min_windows: int = 2,
    classifier: PatternClassifier | None = None,
    verbose=None,
) -> PatternResult:
    """Classify consecutive windows of a recording into seizure / LPD / GPD / LRDA / GRDA / other.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (normalised 10-20 names; lazy is fine), sampled at
        50 Hz or more. With fewer than 3 scalp electrodes the EEG channels are
        used as recorded (no lateralisation).
    window : float
        Window length in seconds (10 s, as scored in the IIIC data).
    chunk_duration : float
        Seconds read at a time (memory is bounded by it).
    min_windows : int
        Persistence: a run of one class must span at least this many
        consecutive windows to become an event (2: a window is labelled by
        what dominates it, so one window alone does not show the ≥ 10 s
        persistence ACNS asks of a pattern). Shorter runs stay in
        :attr:`PatternResult.windows` (and the timeline).
    classifier : PatternClassifier | None
        The classifier; None for the shipped model.
    verbose : bool | str | int | None
        Log level for this call (MNE-style); None keeps the current one.

    Returns
    -------
    result : PatternResult

    Raises
    ------
    dbrain.errors.RecordingError
        If the recording has no EEG or a sampling rate below 50 Hz.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    raw = as_normalized(raw)
    _check_range("window", float(window), 2.0, 60.0)
    _check_range("chunk_duration", float(chunk_duration), float(window), None)
    _validate_type(min_windows, (int, np.integer), "min_windows", "int")
    _check_range("min_windows", int(min_windows), 1, None)
    if classifier is not None:
        _validate_type(classifier, PatternClassifier, "classifier", "PatternClassifier or None")
    windows = pattern_windows(raw, window=window, chunk_duration=chunk_duration)
    return _classified(windows, classifier, int(min_windows), raw.info["meas_date"], raw.n_times / raw.info["sfreq"])


def _classified(windows: pd.DataFrame, classifier, min_windows: int, meas_date, duration: float) -> PatternResult:
    """Classes, side and events of the windows' features (shared by the file path and the engine's stream)."""
    probs = class_probabilities(windows[[*FEATURE_COLUMNS, "duration"]], classifier)
    windows = pd.concat([windows, probs], axis=1)
    windows["label"] = probs.idxmax(axis=1)
    lat = windows["lateralisation"]
    windows["side"] = np.where(
        lat.isna(),
        "unknown",
        np.where(lat.abs() < THRESHOLDS["lateralisation"], "generalised", np.where(lat > 0, "left", "right")),
    )
    cols = ["start", "duration", *FEATURE_COLUMNS, *EVIDENCE_COLUMNS, "side", "channels", *PATTERN_CLASSES, "label"]
    windows = windows[cols]
    events = _events(windows, meas_date, duration, min_windows)
    logger.info("Pattern classification: %d window(s), %d pattern event(s)", len(windows), len(events))
    return PatternResult(windows, events)


def pattern_windows(raw, *, window: float = 10.0, chunk_duration: float = 600.0) -> pd.DataFrame:
    """The ACNS-definition features of consecutive windows of a recording (no classification).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        As for :func:`classify_patterns`.
    window : float
        Window length in seconds.
    chunk_duration : float
        Seconds read at a time.

    Returns
    -------
    windows : pandas.DataFrame
        One row per window: ``start``, ``duration``, :data:`FEATURE_COLUMNS`, ``channels``.

    Raises
    ------
    dbrain.errors.RecordingError
        If the recording has no EEG or a sampling rate below 50 Hz.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    _check_range("window", float(window), 2.0, 60.0)
    _check_range("chunk_duration", float(chunk_duration), float(window), None)
    sfreq = float(raw.info["sfreq"])
    if sfreq < _MIN_SFREQ:
        raise RecordingError(f"pattern classification needs a sampling rate of at least {_MIN_SFREQ:g} Hz, got {sfreq:g} Hz")
    src, names = _source(raw)
    plan = _Plan(sfreq, window, chunk_duration)
    n_windows = src.n_times // plan.n_win
    if n_windows == 0:
        raise RecordingError(f"the recording is shorter than one {window:g} s window")
    rows = []
    for w0 in range(0, n_windows, plan.per_chunk):
        w1 = min(w0 + plan.per_chunk, n_windows)
        a, b = plan.span(w0, w1)
        ra, rb = max(a, 0), min(b, src.n_times)
        data = np.zeros((len(names), b - a))
        data[:, ra - a : rb - a] = src.get_data(start=ra, stop=rb) * 1e6
        rows.extend(_block_features(data, w0, w1, plan, names))
    return _windows_frame(rows, window)


class _Plan:
    """How the windows are read: ``per_chunk`` windows of ``n_win`` samples at a time, with ``pad`` samples either side."""

    def __init__(self, sfreq: float, window: float, chunk_duration: float):
        self.sfreq, self.window = float(sfreq), float(window)
        self.n_win = int(round(window * sfreq))
        top = min(_BAND[1], 0.45 * sfreq)
        self.sos = butter_sos(4, (_BAND[0], float(top)), "bandpass", self.sfreq)
        self.pad = int(_PAD_S * sfreq)
        self.per_chunk = max(1, int(chunk_duration // window))

    def span(self, w0: int, w1: int) -> tuple[int, int]:
        """Samples ``[a, b)`` read for windows ``w0``–``w1`` (``a`` may be negative, ``b`` past the end: zeros)."""
        return w0 * self.n_win - self.pad, w1 * self.n_win + self.pad


def _block_features(data: np.ndarray, w0: int, w1: int, plan: _Plan, names: list[str]) -> list[pd.DataFrame]:
    """Features of windows ``w0``–``w1`` from their padded span ``data`` (µV, zeros outside the recording)."""
    data = sosfiltfilt_rows(plan.sos, data)
    rows = []
    for b0 in range(w0, w1, _BATCH):  # a few windows at a time: the Welch segments stay small
        b1 = min(b0 + _BATCH, w1)
        s0 = b0 * plan.n_win - (w0 * plan.n_win - plan.pad)
        batch = data[:, s0 : s0 + (b1 - b0) * plan.n_win].reshape(len(names), b1 - b0, plan.n_win).transpose(1, 0, 2)
        feats = _window_features(batch, plan.sfreq, names)
        feats["start"] = np.arange(b0, b1) * plan.window
        rows.append(feats)
    return rows


def _windows_frame(rows: list[pd.DataFrame], window: float) -> pd.DataFrame:
    """The windows table from the blocks' features, in order: duration and evolution added."""
    windows = pd.concat(rows, ignore_index=True)
    windows["duration"] = float(window)
    # Evolution: amplitude against the lowest of the one or two windows before (10–20 s before).
    amp = windows["amplitude"].to_numpy()
    before = np.full(amp.size, np.nan)
    for k in range(1, amp.size):
        before[k] = amp[max(0, k - 2) : k].min()
    windows["evolution"] = amp / before
    return windows[["start", "duration", *FEATURE_COLUMNS, *EVIDENCE_COLUMNS, "channels"]]


def _events(windows: pd.DataFrame, meas_date, duration: float, min_windows: int) -> pd.DataFrame:
    # A window counts towards a pattern event only with the ACNS evidence of its class (pattern_evidence).
    ev = pattern_evidence(windows)
    labels = np.array(
        [
            lab if lab not in ev.columns or ev.at[i, lab] else "other"
            for i, lab in zip(windows.index, windows["label"], strict=True)
        ],
        dtype=object,
    )
    onset, dur, kind, conf, chans = [], [], [], [], []
    k = 0
    while k < len(labels):
        j = k
        while j + 1 < len(labels) and labels[j + 1] == labels[k]:
            j += 1
        if labels[k] in PATTERN_EVENT_TYPES and j + 1 - k >= min_windows:
            run = windows.iloc[k : j + 1]
            onset.append(float(run["start"].iloc[0]))
            dur.append(float(run["duration"].sum()))
            kind.append(PATTERN_EVENT_TYPES[labels[k]])
            conf.append(float(run[labels[k]].mean()))
            chans.append(str(run["channels"].mode().iloc[0]))
        k = j + 1
    return make_events(
        onset,
        dur,
        kind,
        confidence=np.round(conf, 4) if conf else None,
        channels=chans,
        meas_date=meas_date,
        recording_duration=duration,
    )


def classify_segment(
    data, sfreq: float, ch_names, *, scored=(20.0, 30.0), classifier: PatternClassifier | None = None
) -> pd.Series:
    """Classify the scored window of a segment such as the IIIC 50 s samples.

    Parameters
    ----------
    data : array-like, shape (n_channels, n_times)
        Referential EEG in µV (the IIIC ``seg`` rows 1–19).
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised 10-20 names of the rows.
    scored : tuple of float
        Start and stop (s) of the scored window; the signal before it gives
        the context for evolution.
    classifier : PatternClassifier | None
        The classifier; None for the shipped model.

    Returns
    -------
    window : pandas.Series
        The row of :attr:`PatternResult.windows` for the scored window.
    """
    data = np.asarray(data, float)
    if data.ndim != 2 or data.shape[0] != len(ch_names):
        raise ParameterError(f"data must be (n_channels, n_times) with {len(ch_names)} rows, got shape {data.shape}")
    start, stop = float(scored[0]), float(scored[1])
    length = stop - start
    if not (0 <= start < stop <= data.shape[1] / sfreq) or start % length:
        raise ParameterError(f"scored must be a window inside the segment starting at a multiple of its length, got {scored!r}")
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(list(ch_names), float(sfreq), "eeg"), verbose="error")
    res = classify_patterns(raw, window=length, classifier=classifier)
    return res.windows.iloc[int(round(start / length))]


def plot_pattern_timeline(result: PatternResult, *, title: str | None = None, clock=None) -> MplFigure:
    """Pattern timeline: class probabilities stacked over time, the winning class, and the frequency.

    Parameters
    ----------
    result : PatternResult
        Output of :func:`classify_patterns`.
    title : str | None
        Figure title.
    clock : tuple of (datetime.datetime | None, bool) | None
        ``(start, multiday)`` of the recording: the time axis in dbrain's one time convention (clock time,
        ``D<n>`` on multi-day recordings, ``+h:mm`` when the start is unknown), as the report's other figures.
        None: elapsed time from the recording's start in s, min or h.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    w = result.windows
    total = float(w["start"].iloc[-1] + w["duration"].iloc[-1]) if len(w) else 1.0
    unit, scale = ("h", 3600.0) if total > 7200 else ("min", 60.0) if total > 600 else ("s", 1.0)
    if clock is not None:
        unit, scale = None, 1.0
    t = w["start"].to_numpy() / scale
    width = w["duration"].to_numpy() / scale
    colors = {"seizure": "#c0392b", "lpd": "#e67e22", "gpd": "#f1c40f", "lrda": "#2980b9", "grda": "#8e44ad", "other": "#bdc3c7"}
    fig = MplFigure(figsize=(12, 3.4), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2.0, 1.0])
    # Stacked probabilities as steps (one polygon per class, cheap for a 72 h recording's 26 000 windows).
    edges = np.append(t, t[-1] + width[-1]) if len(t) else np.zeros(1)
    bottom = np.zeros(edges.size)
    for c in PATTERN_CLASSES:
        values = w[c].to_numpy()
        top = bottom + (np.append(values, values[-1:]) if len(t) else 0.0)
        ax.fill_between(edges, bottom, top, step="post", color=colors[c], label=c.upper() if c != "other" else "other", lw=0)
        bottom = top
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", ncols=6, fontsize="small", bbox_to_anchor=(0, 1.25))
    if title:
        ax.set_title(title, pad=22)
    pattern = w["label"].isin(list(PATTERN_EVENT_TYPES) + ["seizure"]).to_numpy()
    ax2.scatter(t[pattern] + width[pattern] / 2, w["frequency"][pattern], s=8, c=[colors[c] for c in w["label"][pattern]])
    ax2.set_ylim(0, 4.2)
    ax2.set_ylabel("Hz")
    if clock is None:
        ax2.set_xlabel(f"time from recording start ({unit})")
    else:
        from ..qeeg._trends import time_ticks

        ticks, labels, xlabel = time_ticks(total, clock[0], multiday=clock[1])
        ax2.set_xticks(ticks, labels)
        ax2.set_xlim(0, total)
        ax2.set_xlabel(xlabel)
    return fig
