"""One decision per window across the seizure detector and the pattern classifier (ACNS 2021 continuum).

The seizure detector (:class:`~dbrain.detect.SeizureDetector`) and the
pattern classifier (:func:`~dbrain.detect.patterns.classify_patterns`) look
at the same EEG with different models. :func:`reconcile_windows` gives every
pattern window exactly one answer — ``seizure``, ``lpd``, ``gpd``, ``lrda``,
``grda`` or ``other`` — with both models' probabilities beside it, following
the ACNS 2021 continuum:

1. A window overlapping a seizure the detector reports is ``seizure``
   (a seizure takes precedence over the periodic/rhythmic pattern it may
   evolve from; the pattern the classifier saw is kept in ``pattern_label``).
2. A window that meets the ACNS definition of an electrographic seizure —
   periodic discharges at 2.5 Hz or faster over the 10 s window (the pattern
   classifier's ``seizure`` class after
   :func:`~dbrain.detect._pattern_model.apply_definitions`, with a regular
   train at that rate) — is ``seizure`` too, even if the detector stayed
   below its threshold (``source`` says which rule decided).
3. Otherwise the pattern classifier's most probable class *other than
   seizure* decides: a learned "seizure" guess that neither the detector nor
   the definition supports becomes a review note, not a seizure.

Pattern events are runs of at least ``min_windows`` windows with the same
pattern decision; seizure events by definition (rule 2) not covered by a
detector event are returned as ``sz`` events; detector seizures are left to
the seizure step. No two events of the result overlap a detector seizure or
each other, so the events table never says ``sz`` and ``lpd`` for the same
window.

ACNS descriptors per pattern window: frequency (Hz), prevalence (% of the
windows of the same clock hour with that decision, and the ACNS term:
continuous ≥ 90 %, abundant 50–89 %, frequent 10–49 %, occasional 1–9 %,
rare < 1 %) and plus modifiers measured on the window: ``+S`` for rhythmic
delta with sharp components (kurtosis above 0.3, i.e. discharge-like peaks
on the rhythm), ``+R`` for periodic discharges with rhythmic delta between
them (rhythmicity ≥ 0.6). ``+F`` (superimposed fast activity) is not
measured (the pattern features stop at 20 Hz).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..events import make_events
from ..utils import _check_range, _validate_type
from ._pattern_model import SEIZURE_FREQUENCY, pattern_evidence

PATTERNS = ("lpd", "gpd", "lrda", "grda")
DECISIONS = ("seizure", *PATTERNS, "other")
_PREVALENCE = ((90.0, "continuous"), (50.0, "abundant"), (10.0, "frequent"), (1.0, "occasional"), (0.0, "rare"))


@dataclass
class Reconciled:
    """Windows with one decision each, and the events they give.

    Attributes
    ----------
    windows : pandas.DataFrame
        The pattern windows plus ``decision``, ``source`` (``detector``,
        ``definition``, ``patterns``), ``pattern_label`` (the classifier's own
        top class), ``p_pattern`` (its probability of the decision, or of its
        top class for a seizure decision), ``p_seizure_pattern``,
        ``p_seizure_detector`` (highest smoothed detector probability in the
        window; NaN without detector), ``prevalence`` (%), ``prevalence_term``,
        ``plus`` and ``note``.
    events : pandas.DataFrame
        Pattern events and seizures by definition (events-table columns).
    """

    windows: pd.DataFrame
    events: pd.DataFrame


def _prevalence_term(pct: float) -> str:
    return next(term for lo, term in _PREVALENCE if pct >= lo)


def reconcile_windows(
    windows: pd.DataFrame,
    seizure_probability=None,
    seizure_events: pd.DataFrame | None = None,
    *,
    on_threshold: float = 0.5,
    min_windows: int = 2,
    require_evidence: bool = True,
    meas_date=None,
    recording_duration: float | None = None,
) -> Reconciled:
    """One decision per window from the pattern classifier and the seizure detector.

    Parameters
    ----------
    windows : pandas.DataFrame
        :attr:`dbrain.detect.patterns.PatternResult.windows` (``start``,
        ``duration``, the feature columns, ``side``, ``channels``, one
        probability column per class and ``label``).
    seizure_probability : array-like | None
        The detector's smoothed seizure probability per second
        (:attr:`dbrain.detect.SeizureResult.smoothed`); None if the detector
        did not run.
    seizure_events : pandas.DataFrame | None
        The detector's seizures (``onset``, ``duration``).
    on_threshold : float
        The detector's on threshold (shown in the notes; a window is
        ``seizure`` by the detector only if it overlaps a detected event).
    min_windows : int
        Consecutive windows a pattern needs to become an event.
    require_evidence : bool
        A pattern decision needs the ACNS evidence of its class
        (:func:`dbrain.detect._pattern_model.pattern_evidence`); without it the
        window is ``other`` (its probabilities are kept). False only to
        measure the classifier without the evidence.
    meas_date : datetime | None
        Recording start, for the events' ``dateTime``.
    recording_duration : float | None
        Recording length in seconds, for the events table.

    Returns
    -------
    result : Reconciled
    """
    _validate_type(windows, pd.DataFrame, "windows", "pandas.DataFrame")
    _check_range("on_threshold", float(on_threshold), 0.0, 1.0)
    _validate_type(min_windows, (int, np.integer), "min_windows", "int")
    _check_range("min_windows", int(min_windows), 1, None)
    w = windows.copy().reset_index(drop=True)
    n = len(w)
    start = w["start"].to_numpy(float)
    stop = start + w["duration"].to_numpy(float)
    # Detector: highest smoothed probability in each window, and overlap with its events.
    p_det = np.full(n, np.nan)
    if seizure_probability is not None:
        prob = np.asarray(seizure_probability, float).ravel()
        for k in range(n):
            seg = prob[int(start[k]) : max(int(np.ceil(stop[k])), int(start[k]) + 1)]
            p_det[k] = float(seg.max()) if seg.size else np.nan
    in_sz = np.zeros(n, bool)
    if seizure_events is not None and len(seizure_events):
        for onset, dur in zip(seizure_events["onset"].astype(float), seizure_events["duration"].astype(float), strict=True):
            in_sz |= (start < onset + dur) & (stop > onset)
    # The ACNS definition: periodic discharges averaging >= 2.5 Hz over the window.
    rate = w["n_discharges"].astype(float) / w["duration"].astype(float)
    regular = (w["n_discharges"] >= 4) & (w["interval_cv"].astype(float) <= 0.75)
    by_definition = ((w["label"] == "seizure") & (rate >= SEIZURE_FREQUENCY) & regular).to_numpy()
    best_non_sz = w[list(PATTERNS) + ["other"]].astype(float).idxmax(axis=1).to_numpy(dtype=object)
    if require_evidence:
        # ACNS: a pattern needs its definition's evidence (periodic train / rhythmic delta), not only a probability.
        ev = pattern_evidence(w)
        lacking = np.array([b in ev.columns and not ev.at[k, b] for k, b in enumerate(best_non_sz)], bool)
        best_non_sz[lacking] = "other"
    decision = np.where(in_sz | by_definition, "seizure", best_non_sz).astype(object)
    source = np.where(in_sz, "detector", np.where(by_definition, "definition", "patterns")).astype(object)
    note = np.full(n, "", dtype=object)
    unsupported = (w["label"] == "seizure").to_numpy() & ~in_sz & ~by_definition
    note[unsupported] = f"pattern model suggests seizure; detector below its event threshold (on {on_threshold:g}): review"
    disagree = in_sz & w["label"].isin(PATTERNS).to_numpy()
    note[disagree] = [
        f"detector seizure over a {lab.upper()} pattern (ictal-interictal continuum): review" for lab in w["label"][disagree]
    ]
    p_pattern = np.array([float(w.at[k, d]) if d != "seizure" else float(w.at[k, "seizure"]) for k, d in enumerate(decision)])
    w["decision"] = decision
    w["source"] = source
    w["pattern_label"] = w["label"]
    w["p_pattern"] = p_pattern
    w["p_seizure_pattern"] = w["seizure"].astype(float)
    w["p_seizure_detector"] = p_det
    # Prevalence of the decision within its clock hour (ACNS: % of the epoch); plus modifiers.
    hour = (start // 3600).astype(int)
    prev = np.zeros(n)
    for h in np.unique(hour):
        m = hour == h
        shares = pd.Series(decision[m]).value_counts(normalize=True) * 100.0
        prev[m] = shares.reindex(decision[m]).to_numpy()
    w["prevalence"] = np.round(prev, 1)
    w["prevalence_term"] = [_prevalence_term(p) if d in PATTERNS else "" for p, d in zip(prev, decision, strict=True)]
    plus = np.full(n, "", dtype=object)
    rda = np.isin(decision, ["lrda", "grda"])
    pdc = np.isin(decision, ["lpd", "gpd"])
    plus[rda & (w["kurtosis"].astype(float) > 0.3).to_numpy()] = "+S"
    plus[pdc & (w["rhythmicity"].astype(float) >= 0.6).to_numpy()] = "+R"
    w["plus"] = plus
    w["note"] = note
    events = _events(w, in_sz, int(min_windows), meas_date, recording_duration)
    return Reconciled(w, events)


def _events(w: pd.DataFrame, in_sz: np.ndarray, min_windows: int, meas_date, recording_duration) -> pd.DataFrame:
    dec = w["decision"].to_numpy(dtype=object)
    onset, dur, kind, conf, chans = [], [], [], [], []
    k = 0
    while k < len(dec):
        j = k
        while j + 1 < len(dec) and dec[j + 1] == dec[k] and in_sz[j + 1] == in_sz[k]:
            j += 1
        run = w.iloc[k : j + 1]
        if dec[k] in PATTERNS and j + 1 - k >= min_windows:
            kind.append(dec[k])
        elif dec[k] == "seizure" and not in_sz[k]:  # by definition only: the detector's seizures are its own events
            kind.append("sz")
        else:
            k = j + 1
            continue
        onset.append(float(run["start"].iloc[0]))
        dur.append(float(run["duration"].sum()))
        conf.append(float(run["p_pattern"].mean()))
        chans.append(str(run["channels"].mode().iloc[0]))
        k = j + 1
    return make_events(
        onset,
        dur,
        kind,
        confidence=np.round(conf, 4) if conf else None,
        channels=chans,
        meas_date=meas_date,
        recording_duration=recording_duration,
    )
