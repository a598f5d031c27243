"""The seizure detector: channel-level LightGBM on 2 s windows, aggregated over channels."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..channels._raw import as_normalized
from ..errors import ParameterError, RecordingError
from ..events import make_events
from ..utils import _check_option, _check_range, _validate_type, logger, verbose
from . import _features as F
from ._base import BaseDetector
from ._postprocess import PRESETS, channel_side, events_from_probability, lateralisation

#: The model shipped with dbrain.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "seizure"
MODEL_FORMAT = "dbrain-seizure-model"
_MIN_SFREQ = 60.0
_FLAT_LOG_POWER = -4.0  # log10 µV² in 1-30 Hz: below 0.01 µV RMS
_MONTAGES = ("auto", "double-banana", "as-recorded", "referential", "average")
SEIZURE_COLUMNS = [
    "onset",
    "duration",
    "eventType",
    "confidence",
    "channels",
    "dateTime",
    "recordingDuration",
    "lateralisation",
]

_LGB_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
}


def _lightgbm():
    import lightgbm

    return lightgbm


@dataclass
class SeizureResult:
    """Everything one pass of the detector over a recording gives.

    Attributes
    ----------
    probability : ndarray, shape (n_seconds,)
        Seizure probability of each second ``[s, s + 1)`` of the recording.
    smoothed : ndarray, shape (n_seconds,)
        The same after moving-average smoothing (what the thresholds apply to).
    channel_probability : ndarray, shape (n_seconds, n_channels)
        Probability of each channel.
    channels : list of str
        Channel labels (double-banana derivations or the channels as recorded).
    montage : str
        ``"double-banana"`` or ``"as-recorded"``.
    events : pandas.DataFrame
        Detected seizures (:data:`SEIZURE_COLUMNS`).
    thresholds : tuple of float
        The (on, off) thresholds used.
    """

    probability: np.ndarray
    smoothed: np.ndarray
    channel_probability: np.ndarray
    channels: list[str]
    montage: str
    events: pd.DataFrame
    thresholds: tuple[float, float]

    def to_frame(self) -> pd.DataFrame:
        """One row per second: ``time`` (s), ``probability``, ``smoothed``."""
        return pd.DataFrame(
            {
                "time": np.arange(self.probability.size, dtype=np.float32),
                "probability": self.probability.astype(np.float32),
                "smoothed": self.smoothed.astype(np.float32),
            }
        )


def select_channels(raw: mne.io.BaseRaw, montage: str = "auto") -> tuple[mne.io.BaseRaw, list[str], str]:
    """The channels the detector reads: double banana where possible, else EEG as recorded.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording with normalised channel names (lazy is fine).
    montage : str
        ``"auto"`` (double banana if at least 4 of its derivations can be
        formed, else the EEG channels as recorded), ``"double-banana"``,
        ``"referential"``, ``"average"`` or ``"as-recorded"``.

    Returns
    -------
    source : mne.io.BaseRaw
        The (lazy) recording to read.
    picks : list of str
        Its channels to use.
    used : str
        The montage used.
    """
    from ..montages import apply_montage, apply_montage_with_fallback

    _check_option("montage", montage, _MONTAGES)
    if montage in ("double-banana", "referential", "average"):
        derived, _ = apply_montage(raw, montage)
        return derived, list(derived.ch_names), montage
    tried = ("double-banana",) if montage == "auto" else ()
    source, picks, _, used = apply_montage_with_fallback(raw, tried, min_derivations=4, exclude_bads=True)
    if not picks:
        raise RecordingError("the recording has no EEG channels for seizure detection")
    return source, picks, used


def _window_labels(n: int, events: pd.DataFrame, channels: list[str]) -> np.ndarray:
    """Label of each (window, channel): 1 seizure, 0 not, -1 ambiguous (left out of training).

    A window is seizure when it lies wholly inside a seizure (``eventType``
    starting with ``sz``), non-seizure when it touches none; windows across
    a boundary are ambiguous. When a seizure lists its channels, channels
    with none of those electrodes are ambiguous during it.
    """
    starts = np.arange(n) * F.STEP
    stops = starts + F.WINDOW
    labels = np.zeros((n, len(channels)), np.int8)
    if events is None or not len(events):
        return labels
    sz = events[events["eventType"].astype(str).str.lower().str.startswith("sz")]
    electrodes = [set(c.replace(" ", "").split("-")) for c in channels]
    for onset, duration, chans in zip(sz["onset"], sz["duration"], sz["channels"], strict=True):
        end = float(onset) + float(duration)
        inside = (starts >= onset) & (stops <= end)
        touch = (stops > onset) & (starts < end)
        labels[touch & ~inside] = -1
        if isinstance(chans, str) and chans not in ("", "n/a"):
            involved = {c.strip() for c in chans.split(",")}
            mask = np.array([bool(e & involved) for e in electrodes])
        else:
            mask = np.ones(len(channels), bool)
        labels[np.ix_(inside, mask)] = np.maximum(labels[np.ix_(inside, mask)], 1)
        labels[np.ix_(inside, ~mask)] = np.where(labels[np.ix_(inside, ~mask)] == 1, 1, -1)
    return labels


def with_short_views(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training rows plus every other row again as a recording under 2 minutes sees it (background missing).

    At inference a recording shorter than 2 minutes has no background
    features; without such rows in training the model would meet missing
    background only at inference (issue 17: "no background = seizure").
    """
    cols = [F.FEATURES.index(n) for n in (*F.BACKGROUND_FEATURES, "log_power_bg_ctx")]
    short = X[::2].copy()
    short[:, cols] = np.nan
    return np.concatenate([X, short]), np.concatenate([y, y[::2]])


def _per_second(window_values: np.ndarray, n_seconds: int) -> np.ndarray:
    """Window values (start ``i`` s, 2 s long) → mean of the windows covering each second."""
    E = window_values.shape[0]
    shape = (n_seconds,) + window_values.shape[1:]
    total = np.zeros(shape, np.float64)
    count = np.zeros((n_seconds,) + (1,) * (window_values.ndim - 1))
    for shift in (0, 1):
        stop = min(E, n_seconds - shift)
        total[shift : shift + stop] += window_values[:stop]
        count[shift : shift + stop] += 1
    with np.errstate(invalid="ignore"):
        return (total / np.maximum(count, 1)).astype(np.float32)


def _aggregate(channel_p: np.ndarray, top_k: int) -> np.ndarray:
    """Recording-level probability per window: mean of the ``top_k`` highest channel probabilities."""
    k = max(1, min(top_k, channel_p.shape[1]))
    part = np.partition(channel_p, channel_p.shape[1] - k, axis=1)[:, -k:]
    return part.mean(axis=1)


class SeizureDetector(BaseDetector):
    """Seizure detection on scalp EEG, in the scikit-learn style.

    A gradient-boosted tree model (LightGBM) gives each channel of each 2 s
    window (every 1 s) a seizure probability from spectral, spatial and
    background-normalised features (see ``dbrain.detect._features``); the
    recording's probability per window is the mean of the ``top_k`` highest
    channel probabilities. :meth:`detect` smooths the probability per second,
    applies hysteresis thresholds, merges close events and drops short ones.

    The estimator works before :meth:`fit`: it then uses ``model`` (by
    default the model shipped with dbrain; see its ``MODEL_CARD.md``).

    Parameters
    ----------
    model : path-like | None
        A model folder (``model.txt`` + ``model.json``, as written by
        :meth:`save` or ``dbrain train seizures``); None for the shipped model.
        Ignored once :meth:`fit` has run.
    sensitivity : {"low", "medium", "high"}
        Threshold preset; the model folder may define its own presets.
    on_threshold, off_threshold : float | None
        Explicit hysteresis thresholds of the smoothed probability, instead
        of the preset.
    smoothing : float
        Moving-average length in seconds.
    min_duration : float
        Shortest event kept, in seconds.
    merge_gap : float
        Events closer than this (s) are merged.
    top_k : int
        Channels averaged for the recording-level probability of a model
        trained by :meth:`fit` (a loaded model folder brings its own value).
    montage : str
        Channels read: ``"auto"`` (double banana where possible, else EEG as
        recorded), ``"double-banana"``, ``"referential"``, ``"average"``,
        ``"as-recorded"``.
    n_estimators : int
        Boosting rounds for :meth:`fit`.
    max_background : int
        Non-seizure windows kept per recording for :meth:`fit` (all seizure
        windows are kept).
    random_state : int
        Seed of the background subsampling and of LightGBM.
    n_jobs : int
        Threads.
    """

    def __init__(
        self,
        model=None,
        *,
        sensitivity: str = "medium",
        on_threshold: float | None = None,
        off_threshold: float | None = None,
        smoothing: float = 5.0,
        min_duration: float = 10.0,
        merge_gap: float = 10.0,
        top_k: int = 2,
        montage: str = "auto",
        n_estimators: int = 300,
        max_background: int = 3000,
        random_state: int = 0,
        n_jobs: int = 2,
    ):
        self.model = model
        self.sensitivity = sensitivity
        self.on_threshold = on_threshold
        self.off_threshold = off_threshold
        self.smoothing = smoothing
        self.min_duration = min_duration
        self.merge_gap = merge_gap
        self.top_k = top_k
        self.montage = montage
        self.n_estimators = n_estimators
        self.max_background = max_background
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _validate(self):
        _check_option("sensitivity", self.sensitivity, list(PRESETS))
        _check_option("montage", self.montage, _MONTAGES)
        for name in ("smoothing", "min_duration", "merge_gap"):
            _check_range(name, getattr(self, name), 0)
        for name in ("on_threshold", "off_threshold"):
            if getattr(self, name) is not None:
                _check_range(name, getattr(self, name), 0, 1)
        for name in ("top_k", "n_estimators", "max_background", "n_jobs"):
            _validate_type(getattr(self, name), (int, np.integer), name, "int")
            _check_range(name, int(getattr(self, name)), 1)
        if self.model is not None:
            _validate_type(self.model, (str, os.PathLike), "model", "path-like or None")

    # --- model ---------------------------------------------------------------------------------
    def _booster(self):
        if hasattr(self, "booster_"):
            return self.booster_, self.meta_
        cached = getattr(self, "_loaded", None)
        key = str(self.model)
        if cached is None or cached[0] != key:
            self._loaded = (key, *load_model(self.model))
        return self._loaded[1], self._loaded[2]

    def thresholds(self) -> tuple[float, float]:
        """The (on, off) thresholds in use: explicit ones, else the model's preset for ``sensitivity``.

        Returns
        -------
        on, off : float
        """
        self._validate()
        _, meta = self._booster()
        presets = {k: tuple(v) for k, v in meta.get("presets", PRESETS).items()}
        on, off = presets.get(self.sensitivity, PRESETS[self.sensitivity])
        on = self.on_threshold if self.on_threshold is not None else on
        off = self.off_threshold if self.off_threshold is not None else min(off, on)
        if off > on:
            raise ParameterError(f"off_threshold ({off}) must not exceed on_threshold ({on}).")
        return float(on), float(off)

    def save(self, model_dir, *, extra: dict | None = None) -> Path:
        """Write the fitted model as a folder: ``model.txt`` (LightGBM text) and ``model.json``.

        Parameters
        ----------
        model_dir : path-like
            Folder to create or fill.
        extra : dict | None
            More facts for ``model.json`` (training data, metrics).

        Returns
        -------
        model_dir : pathlib.Path
        """
        if not hasattr(self, "booster_"):
            raise ParameterError("this SeizureDetector is not fitted yet: call fit() before save().")
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(model_dir / "model.txt"))
        meta = dict(self.meta_)
        meta.update(extra or {})
        (model_dir / "model.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        return model_dir

    # --- training ------------------------------------------------------------------------------
    def _recording_rows(self, raw, events, rng) -> tuple[np.ndarray, np.ndarray]:
        source, picks, _ = select_channels(raw, self.montage)
        X = F.recording_features(source, picks=picks, workers=1)
        y = _window_labels(X.shape[0], events, picks)
        X, y = X.reshape(-1, X.shape[-1]), y.reshape(-1)
        pos = np.flatnonzero(y == 1)
        neg = np.flatnonzero(y == 0)
        keep_neg = self.max_background * len(picks)
        if neg.size > keep_neg:
            neg = np.sort(rng.choice(neg, keep_neg, replace=False))
        idx = np.concatenate([pos, neg])
        return X[idx], y[idx].astype(np.float32)

    def fit(self, recordings, events) -> SeizureDetector:
        """Train on continuous recordings with their seizure annotations.

        Parameters
        ----------
        recordings : list of (mne.io.BaseRaw | path-like)
            Recordings (or files :func:`dbrain.io.read_recording` reads).
        events : list of (pandas.DataFrame | path-like)
            One events table (or TSV) per recording; rows whose ``eventType``
            starts with ``sz`` are seizures (SzCORE convention), others are
            ignored. If a seizure's ``channels`` are given, only channels with
            those electrodes are positive during it.

        Returns
        -------
        self : SeizureDetector
        """
        from ..events import read_events
        from ..io import read_recording

        self._validate()
        recordings, events = list(recordings), list(events)
        if len(recordings) != len(events) or not recordings:
            raise ParameterError(
                f"fit needs one events table per recording, got {len(recordings)} recordings and {len(events)} events tables."
            )
        rng = np.random.default_rng(self.random_state)
        Xs, ys = [], []
        for rec, ev in zip(recordings, events, strict=True):
            raw = read_recording(rec)[0] if isinstance(rec, str | os.PathLike) else rec
            ev = read_events(ev) if isinstance(ev, str | os.PathLike) else ev
            X, y = self._recording_rows(raw, ev, rng)
            Xs.append(X)
            ys.append(y)
        X, y = with_short_views(np.concatenate(Xs), np.concatenate(ys))
        if y.min() == y.max():
            raise ParameterError("fit needs both seizure and non-seizure windows; the events contain no usable seizure.")
        self._fit_arrays(X, y)
        self.n_recordings_ = len(recordings)
        return self

    def _fit_arrays(self, X, y, weight=None, extra_meta: dict | None = None, features=None):
        lgb = _lightgbm()
        params = dict(_LGB_PARAMS, seed=int(self.random_state), num_threads=int(self.n_jobs))
        features = list(F.FEATURES if features is None else features)
        data = lgb.Dataset(X, label=y, weight=weight, feature_name=features, free_raw_data=True)
        self.booster_ = lgb.train(params, data, num_boost_round=int(self.n_estimators))
        self.n_windows_ = int(len(y))
        self.n_seizure_windows_ = int(np.sum(y == 1))
        self.meta_ = {
            "format": MODEL_FORMAT,
            "version": 1,
            "features": features,
            "window": F.WINDOW,
            "step": F.STEP,
            "top_k": int(self.top_k),
            "presets": {k: list(v) for k, v in PRESETS.items()},
            "training_rows": self.n_windows_,
            "training_seizure_rows": self.n_seizure_windows_,
            **(extra_meta or {}),
        }
        return self

    # --- inference -----------------------------------------------------------------------------
    def _channel_window_proba(self, raw) -> tuple[np.ndarray, list[str], str, int]:
        _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
        sfreq = float(raw.info["sfreq"])
        if sfreq < _MIN_SFREQ:
            raise RecordingError(f"seizure detection needs a sampling rate of at least 64 Hz, the recording has {sfreq:g} Hz")
        n_seconds = int(np.floor(raw.n_times / sfreq))
        if n_seconds < F.WINDOW:
            raise RecordingError(f"the recording is too short for seizure detection ({raw.n_times / sfreq:.2f} s < 2 s)")
        source, picks, used = select_channels(raw, self.montage)
        booster, meta = self._booster()
        if list(meta.get("features", [])) != list(F.FEATURES):
            raise ParameterError("the seizure model was trained on other features than this dbrain computes: retrain it.")
        X = F.recording_features(source, picks=picks, workers=1)
        return _window_proba(booster, X, self.n_jobs, meta, short=X.shape[0] < F.MIN_BACKGROUND_WINDOWS), picks, used, n_seconds

    def predict_channel_proba(self, raw) -> tuple[np.ndarray, list[str]]:
        """Seizure probability of each channel per second.

        Parameters
        ----------
        raw : mne.io.BaseRaw
            A recording read by :func:`dbrain.io.read_recording` (lazy is fine).

        Returns
        -------
        probability : ndarray, shape (n_seconds, n_channels)
        channels : list of str
        """
        self._validate()
        p, picks, _, n_seconds = self._channel_window_proba(raw)
        return _per_second(p, n_seconds), picks

    def predict_proba(self, raw) -> np.ndarray:
        """Seizure probability of each second ``[s, s + 1)`` of the recording.

        Parameters
        ----------
        raw : mne.io.BaseRaw
            A recording read by :func:`dbrain.io.read_recording` (lazy is fine).

        Returns
        -------
        probability : ndarray, shape (n_seconds,)
            float32 in [0, 1], before smoothing.
        """
        raw = as_normalized(raw)
        self._validate()
        p, _, _, n_seconds = self._channel_window_proba(raw)
        _, meta = self._booster()
        return _per_second(_aggregate(p, int(meta.get("top_k", self.top_k))), n_seconds)

    def run(self, raw) -> SeizureResult:
        """Probabilities and events in one pass (what :meth:`detect` and ``dbrain analyze`` use).

        Parameters
        ----------
        raw : mne.io.BaseRaw
            A recording read by :func:`dbrain.io.read_recording` (lazy is fine).

        Returns
        -------
        result : SeizureResult
        """
        self._validate()
        raw = as_normalized(raw)
        p, picks, used, n_seconds = self._channel_window_proba(raw)
        return self._result(p, picks, used, n_seconds, raw.info["meas_date"], raw.n_times / raw.info["sfreq"])

    def _result(self, p, picks, used, n_seconds, meas_date, duration) -> SeizureResult:
        """Per-second probabilities and events from channel probabilities per window (file and stream paths)."""
        on, off = self.thresholds()
        _, meta = self._booster()
        prob = _per_second(_aggregate(p, int(meta.get("top_k", self.top_k))), n_seconds)
        chan = _per_second(p, n_seconds)
        runs, smoothed = events_from_probability(
            prob, on=on, off=off, smoothing=self.smoothing, merge_gap=self.merge_gap, min_duration=self.min_duration
        )
        onsets, durations, conf, channels, sides = [], [], [], [], []
        for start, stop in runs:
            mean_ch = chan[start:stop].mean(axis=0)
            involved = np.flatnonzero(mean_ch >= off)
            if involved.size == 0:
                involved = np.array([int(mean_ch.argmax())])
            involved = involved[np.argsort(-mean_ch[involved], kind="stable")]
            names = [picks[i] for i in involved]
            onsets.append(float(start))
            durations.append(float(stop - start))
            conf.append(float(np.clip(smoothed[start:stop].max(), 0, 1)))
            channels.append(names)
            sides.append(lateralisation(names, mean_ch[involved]))
        events = make_events(
            onsets,
            durations,
            "sz",
            confidence=conf,
            channels=channels,
            meas_date=meas_date,
            recording_duration=duration,
        )
        events["lateralisation"] = pd.Series(sides, dtype=object) if len(events) else pd.Series(dtype=object)
        logger.info("seizure detection: %d event(s) in %.0f s (%s, %d channels)", len(events), duration, used, len(picks))
        return SeizureResult(prob, smoothed, chan, list(picks), used, events[SEIZURE_COLUMNS], (on, off))

    def detect(self, raw) -> pd.DataFrame:
        """Detect seizures.

        Parameters
        ----------
        raw : mne.io.BaseRaw
            A recording read by :func:`dbrain.io.read_recording` (lazy is fine).

        Returns
        -------
        events : pandas.DataFrame
            One row per seizure with the :mod:`dbrain.events` columns
            (``eventType`` ``sz``; ``confidence`` the highest smoothed
            probability; ``channels`` the involved channels, most probable
            first) plus ``lateralisation`` (``left``, ``right``,
            ``bilateral`` or ``n/a``). Empty (same columns) when none.
        """
        return self.run(raw).events


def _window_proba(booster, X: np.ndarray, n_jobs: int, meta: dict, *, short: bool) -> np.ndarray:
    """Channel probability of each window from model features ``X`` (n_windows, n_channels, n_features).

    ``short``: the windows belong to a recording (or a stream so far) under 2 minutes, whose
    probabilities are mapped by :func:`short_recording_map`.
    """
    E, C, K = X.shape
    p = booster.predict(X.reshape(-1, K), num_threads=int(n_jobs)).astype(np.float32).reshape(E, C)
    if short:
        p = short_recording_map(p, meta)
    # Flat windows (EDF+D gaps filled with zeros, disconnected electrodes) carry no EEG: probability 0.
    p[X[..., F.FEATURES.index("log_power")] < _FLAT_LOG_POWER] = 0.0
    return p


def short_recording_map(p: np.ndarray, meta: dict) -> np.ndarray:
    """Probabilities of a recording shorter than 2 minutes, mapped onto the scale of a long recording.

    Under 2 minutes the background features are missing (as in training), and
    the model's raw probability of a window is on another scale than that of the
    same window inside a long recording. The model folder's
    ``short_recordings.map`` ``[a, b]`` — fitted by
    ``scripts/train_seizure_model.py`` on held-out windows seen both ways — maps
    it as ``sigmoid(a · logit(p) + b)``, so one threshold means the same on a
    50 s segment and on a 72 h recording. A model without the map is unchanged.
    """
    ab = (meta.get("short_recordings") or {}).get("map") if isinstance(meta.get("short_recordings"), dict) else None
    if not ab:
        return p
    q = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    z = float(ab[0]) * np.log(q / (1 - q)) + float(ab[1])
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def load_model(model_dir=None):
    """Load a seizure model folder.

    Parameters
    ----------
    model_dir : path-like | None
        Folder with ``model.txt`` and ``model.json``; None for the shipped model.

    Returns
    -------
    booster : lightgbm.Booster
    meta : dict
    """
    path = DEFAULT_MODEL_DIR if model_dir is None else Path(model_dir)
    text, meta_path = path / "model.txt", path / "model.json"
    if not path.is_dir() or not text.is_file() or not meta_path.is_file():
        raise ParameterError(f"'{path}' is not a seizure model folder (it needs model.txt and model.json).")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read '{meta_path}': {exc}") from exc
    if meta.get("format") != MODEL_FORMAT:
        raise ParameterError(f"'{meta_path}' is not a dbrain seizure model (format {meta.get('format')!r}).")
    lgb = _lightgbm()
    try:
        booster = lgb.Booster(model_file=str(text))
    except lgb.basic.LightGBMError as exc:
        raise ParameterError(f"cannot load the LightGBM model '{text}': {' '.join(str(exc).split())}") from exc
    return booster, meta


@verbose
def detect_seizures(raw, *, sensitivity: str = "medium", verbose=None, **kwargs) -> pd.DataFrame:
    """Detect seizures with a trained model (the shipped one by default).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording (from :func:`dbrain.read_recording` or a plain MNE ``Raw``).
    sensitivity : {"low", "medium", "high"}
        Threshold preset.
    **kwargs
        Other :class:`SeizureDetector` parameters (``model``, ``smoothing``, ``n_jobs``, ``random_state`` …).
    verbose : bool | str | int | None
        Log level for this call (MNE-style); None keeps the current one.

    Returns
    -------
    events : pandas.DataFrame
        As :meth:`SeizureDetector.detect`.
    """
    return SeizureDetector(sensitivity=sensitivity, **kwargs).detect(raw)


__all__ = ["SeizureDetector", "SeizureResult", "channel_side", "detect_seizures", "load_model", "select_channels"]
