"""SzCORE event and sample scoring of one recording's seizure annotations.

The rules are those of SzCORE (Dan et al., "SzCORE: Seizure Community
Open-source Research Evaluation framework for the validation of
electroencephalography-based automated seizure detection algorithms",
Epilepsia 2024, doi:10.1111/epi.18113), as implemented by its reference
scorer, the ``timescoring`` package, and its dataset driver
``szcore-evaluation``. The code here is dbrain's own; the tests check that it
gives exactly timescoring's numbers.

Both scorings start from the same picture of a recording as SzCORE's tools
build it: the seizure events (see :func:`is_seizure`) are laid on a 1 Hz grid
of ``int(recordingDuration)`` samples, each event covering samples
``int(onset)`` to ``int(onset + duration)`` (exclusive), exactly as
epilepsy2bids' ``Annotations.getMask(1)`` does. Overlapping or touching
events therefore become one.

Event scoring (SzCORE §2.4, "any-overlap" with tolerances):

1. reference and hypothesis events closer than ``min_gap`` (90 s) are merged
   into one event that spans the gap;
2. events longer than ``max_duration`` (5 min) are cut into consecutive pieces
   of ``max_duration`` (the last piece holds the rest), each counted as an event;
3. each reference event is widened by ``tolerance_before`` (30 s) before its
   onset and ``tolerance_after`` (60 s) after its offset, clipped to the
   recording; it is *detected* (a true positive) if any hypothesis sample
   falls inside the widened window;
4. a hypothesis event is a false positive if it touches none of the widened
   windows of detected reference events.

Time is handled at 10 Hz during event scoring (timescoring's precision):
boundaries are ``round(t * 10)`` ticks.

Sample scoring compares the two masks sample by sample at ``fs`` (1 Hz in
SzCORE). In both, sensitivity = TP / n_ref, precision = TP / (TP + FP),
F1 = 2 TP / (2 TP + FP + FN), FP per 24 h = FP / (duration / 86400 s).
Undefined ratios (no reference seizure, no detection) are ``nan``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import EventsError, ParameterError
from ..utils.check import _check_range, _validate_type

__all__ = ["is_seizure", "score_events", "score_samples", "SCORE_KEYS"]

#: Keys of the dictionaries returned by :func:`score_events` and :func:`score_samples`.
SCORE_KEYS = ("n_ref", "n_hyp", "tp", "fp", "fn", "sensitivity", "precision", "f1", "fp_per_24h", "duration")

#: Hz; SzCORE lays annotations on a 1 s grid before scoring.
SZCORE_FS = 1
#: Hz; time precision of event scoring (the same as timescoring's).
EVENT_FS = 10


def is_seizure(event_type) -> bool:
    """Tell whether an ``eventType`` label denotes a seizure.

    Seizures are ``sz`` (SzCORE's unclassified seizure, which ``dbrain
    simulate`` and dbrain's detector write) and the HED-SCORE / ILAE 2017 type
    names of epilepsy2bids, which all start with ``sz_`` (``sz_foc_ia``,
    ``sz_gen_m_tonicClonic`` …). Case is ignored. Everything else —
    background ``bckg``, spikes, artifacts, free text — is not a seizure.

    Parameters
    ----------
    event_type : str
        The label.

    Returns
    -------
    seizure : bool
    """
    if not isinstance(event_type, str):
        return False
    label = event_type.strip().lower()
    return label == "sz" or label.startswith("sz_")


def _seizure_intervals(events: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and offsets (s) of the seizure rows of an events table."""
    _validate_type(events, pd.DataFrame, name, "pandas.DataFrame (a dbrain events table)")
    missing = [c for c in ("onset", "duration", "eventType") if c not in events.columns]
    if missing:
        raise EventsError(f"{name} events table has no {', '.join(repr(c) for c in missing)} column")
    rows = events[[is_seizure(t) for t in events["eventType"]]] if len(events) else events
    try:
        onset = np.asarray(rows["onset"], dtype=float)
        duration = np.asarray(rows["duration"], dtype=float)
    except (TypeError, ValueError) as exc:
        raise EventsError(f"{name} events: onset and duration must be numbers") from exc
    if not (np.all(np.isfinite(onset)) and np.all(np.isfinite(duration))):
        raise EventsError(f"{name} events: seizure onsets and durations must be finite numbers")
    if np.any(duration < 0):
        raise EventsError(f"{name} events: seizure durations must not be negative")
    return onset, onset + duration


def _grid_mask(events: pd.DataFrame, n_samples: int, fs: float, name: str) -> np.ndarray:
    """Seizure mask of ``n_samples`` samples at ``fs``, as epilepsy2bids' ``getMask``.

    An event covers samples ``int(onset * fs)`` to ``int(offset * fs)``
    (exclusive). Parts outside the recording are dropped.
    """
    starts, stops = _seizure_intervals(events, name)
    mask = np.zeros(n_samples, dtype=bool)
    for start, stop in zip(starts, stops, strict=True):
        first = min(max(int(start * fs), 0), n_samples)
        last = min(max(int(stop * fs), 0), n_samples)
        mask[first:last] = True
    return mask


def _runs(mask: np.ndarray, fs: float) -> list[tuple[float, float]]:
    """``(start, stop)`` in seconds of each run of True samples."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [(int(a) / fs, int(b) / fs) for a, b in zip(starts, stops, strict=True)]


def _merge_close(events: list[tuple[float, float]], min_gap: float) -> list[tuple[float, float]]:
    """Join consecutive events separated by less than ``min_gap`` seconds."""
    merged: list[tuple[float, float]] = []
    for start, stop in events:
        if merged and start - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _split_long(events: list[tuple[float, float]], max_duration: float) -> list[tuple[float, float]]:
    """Cut events longer than ``max_duration`` into pieces of ``max_duration`` (and the rest)."""
    pieces: list[tuple[float, float]] = []
    for start, stop in events:
        while stop - start > max_duration:
            pieces.append((start, start + max_duration))
            start = start + max_duration
        pieces.append((start, stop))
    return pieces


def _tick(seconds: float) -> int:
    """Index on the 10 Hz event-scoring grid (Python's round, as timescoring)."""
    return round(seconds * EVENT_FS)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _metrics(n_ref: int, n_hyp: int, tp: int, fp: int, duration: float) -> dict:
    """The score dictionary from counts (the formulas of timescoring's ``computeScores``)."""
    fn = n_ref - tp
    return {
        "n_ref": int(n_ref),
        "n_hyp": int(n_hyp),
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "sensitivity": _ratio(tp, n_ref),
        "precision": _ratio(tp, tp + fp),
        "f1": 2 * tp / (2 * tp + fp + fn) if n_ref + fp > 0 else math.nan,
        # Same operation order as timescoring, so the floats are bit-identical.
        "fp_per_24h": fp / (duration / 3600 / 24) if duration > 0 else math.nan,
        "duration": float(duration),
    }


def _n_samples(recording_duration, fs) -> int:
    if isinstance(recording_duration, np.integer | np.floating):
        recording_duration = float(recording_duration)
    _check_range("recording_duration", recording_duration, 0, None, inclusive=False)
    if not math.isfinite(recording_duration):
        raise ParameterError(f"recording_duration must be finite, got {recording_duration!r}.")
    n = int(recording_duration * fs)
    if n < 1:
        raise ParameterError(f"recording_duration must cover at least one {1 / fs:g} s sample, got {recording_duration!r} s.")
    return n


def score_events(
    ref: pd.DataFrame,
    hyp: pd.DataFrame,
    recording_duration: float,
    *,
    tolerance_before: float = 30.0,
    tolerance_after: float = 60.0,
    min_gap: float = 90.0,
    max_duration: float = 300.0,
) -> dict:
    """Score detected seizures against reference seizures, event by event (SzCORE).

    Parameters
    ----------
    ref : pandas.DataFrame
        Reference events (a dbrain events table, see :mod:`dbrain.events`);
        only seizure rows count (:func:`is_seizure`).
    hyp : pandas.DataFrame
        Hypothesis (detected) events, same layout.
    recording_duration : float
        Length of the recording in seconds; scoring covers
        ``int(recording_duration)`` whole seconds, as in SzCORE.
    tolerance_before : float
        Seconds before a reference onset where a detection still counts.
    tolerance_after : float
        Seconds after a reference offset where a detection still counts.
    min_gap : float
        Events separated by less than this many seconds are merged.
    max_duration : float
        Events longer than this many seconds are split into several events.

    Returns
    -------
    scores : dict
        ``n_ref`` and ``n_hyp`` (events after merging and splitting), ``tp``
        (detected reference events), ``fp`` (hypothesis events overlapping no
        detected reference window), ``fn``, ``sensitivity``, ``precision``,
        ``f1``, ``fp_per_24h`` and ``duration`` (scored seconds). Ratios that
        are undefined are ``nan``.

    Raises
    ------
    dbrain.errors.EventsError
        If a table lacks ``onset``, ``duration`` or ``eventType`` or has
        non-finite or negative seizure times.
    dbrain.errors.ParameterError
        If a duration or tolerance is out of range.

    Notes
    -----
    The rules (merge, split, tolerances, any overlap) and their defaults are
    SzCORE's (Dan et al., Epilepsia 2024); the module docstring of
    ``dbrain.evaluate._scoring`` gives them step by step. Results equal those
    of ``timescoring.scoring.EventScoring`` on SzCORE's 1 Hz masks.
    """
    for pname, value in (("tolerance_before", tolerance_before), ("tolerance_after", tolerance_after), ("min_gap", min_gap)):
        _check_range(pname, value, 0, None)
    _check_range("max_duration", max_duration, 0, None, inclusive=False)
    n = _n_samples(recording_duration, SZCORE_FS)
    ref_events = _runs(_grid_mask(ref, n, SZCORE_FS, "reference"), SZCORE_FS)
    hyp_events = _runs(_grid_mask(hyp, n, SZCORE_FS, "hypothesis"), SZCORE_FS)
    ref_events = _split_long(_merge_close(ref_events, min_gap), max_duration)
    hyp_events = _split_long(_merge_close(hyp_events, min_gap), max_duration)

    n_ticks = round(n / SZCORE_FS * EVENT_FS)
    file_duration = n_ticks / EVENT_FS
    hyp_mask = np.zeros(n_ticks, dtype=bool)
    for start, stop in hyp_events:
        hyp_mask[_tick(start) : _tick(stop)] = True

    # A reference event is detected if any hypothesis sample lies in its widened window
    # ("any overlap"; timescoring asks for a relative overlap above 1e-6, which one
    # 0.1 s tick gives for any window shorter than 27 h).
    tp = 0
    detected = np.zeros(n_ticks, dtype=bool)  # union of the widened windows of detected events
    for start, stop in ref_events:
        window = slice(_tick(max(0, start - tolerance_before)), _tick(min(file_duration, stop + tolerance_after)))
        if hyp_mask[window].any():
            tp += 1
            detected[window] = True
    # A hypothesis event is false if it touches no detected window.
    fp = sum(1 for start, stop in hyp_events if not detected[_tick(start) : _tick(stop)].any())
    return _metrics(len(ref_events), len(hyp_events), tp, fp, file_duration)


def score_samples(ref: pd.DataFrame, hyp: pd.DataFrame, recording_duration: float, *, fs: float = 1.0) -> dict:
    """Score detected seizures against reference seizures, sample by sample (SzCORE).

    Parameters
    ----------
    ref : pandas.DataFrame
        Reference events (a dbrain events table); only seizure rows count
        (:func:`is_seizure`).
    hyp : pandas.DataFrame
        Hypothesis (detected) events, same layout.
    recording_duration : float
        Length of the recording in seconds; scoring covers
        ``int(recording_duration * fs)`` samples.
    fs : float
        Rate of the scoring grid in Hz; SzCORE scores 1 s samples (1 Hz).

    Returns
    -------
    scores : dict
        The keys of :func:`score_events`, counted in samples: ``n_ref`` and
        ``n_hyp`` are the seizure samples of each, ``tp`` samples in both,
        ``fp`` hypothesis samples outside reference seizures, ``fn`` reference
        samples missed; ``fp_per_24h`` is false-positive *samples* per 24 h
        (timescoring's ``fpRate``), ``duration`` the scored seconds.

    Raises
    ------
    dbrain.errors.EventsError
        If a table lacks ``onset``, ``duration`` or ``eventType``.
    dbrain.errors.ParameterError
        If ``fs`` or ``recording_duration`` is out of range.
    """
    _check_range("fs", fs, 0, None, inclusive=False)
    n = _n_samples(recording_duration, fs)
    ref_mask = _grid_mask(ref, n, fs, "reference")
    hyp_mask = _grid_mask(hyp, n, fs, "hypothesis")
    tp = int(np.count_nonzero(ref_mask & hyp_mask))
    fp = int(np.count_nonzero(~ref_mask & hyp_mask))
    return _metrics(int(ref_mask.sum()), int(hyp_mask.sum()), tp, fp, n / fs)
