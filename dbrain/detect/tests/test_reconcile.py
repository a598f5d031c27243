"""One decision per window across the seizure detector and the pattern classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbrain.detect import reconcile_windows
from dbrain.detect.patterns import FEATURE_COLUMNS, PATTERN_CLASSES
from dbrain.errors import ParameterError


def _windows(labels, n_discharges, probs):
    n = len(labels)
    w = pd.DataFrame({"start": np.arange(n) * 10.0, "duration": 10.0})
    for c in FEATURE_COLUMNS:
        w[c] = 0.5
    w["n_discharges"] = n_discharges
    w["interval_cv"] = 0.2
    w["frequency"] = 1.5
    w["periodicity"] = 0.8  # clear ACNS evidence (pattern_evidence) unless a test says otherwise
    w["delta_rhythm"] = 0.8
    w["side"] = "left"
    w["channels"] = "T3,F7,T5"
    for c, col in zip(PATTERN_CLASSES, np.asarray(probs, float).T, strict=True):
        w[c] = col
    w["label"] = labels
    return w


#            seizure lpd  gpd  lrda grda other
P_LPD = [0.05, 0.80, 0.05, 0.05, 0.03, 0.02]
P_SZ_LPD = [0.70, 0.20, 0.05, 0.02, 0.01, 0.02]
P_GRDA = [0.02, 0.02, 0.05, 0.06, 0.80, 0.05]
P_OTHER = [0.01, 0.01, 0.01, 0.01, 0.01, 0.95]


def test_one_decision_per_window_and_no_contradictory_events():
    labels = ["lpd", "lpd", "seizure", "seizure", "grda", "grda", "other", "lpd"]
    w = _windows(labels, [12, 12, 30, 12, 0, 0, 0, 12], [P_LPD, P_LPD, P_SZ_LPD, P_SZ_LPD, P_GRDA, P_GRDA, P_OTHER, P_LPD])
    prob = np.zeros(80)
    prob[3:14] = 0.9
    detected = pd.DataFrame({"onset": [3.0], "duration": [11.0]})
    rec = reconcile_windows(w, prob, detected, on_threshold=0.8)
    r = rec.windows
    assert r["decision"].tolist() == ["seizure", "seizure", "seizure", "lpd", "grda", "grda", "other", "lpd"]
    assert r["source"].tolist()[:4] == ["detector", "detector", "definition", "patterns"]
    assert r["p_seizure_detector"].tolist()[:3] == [pytest.approx(0.9), pytest.approx(0.9), 0.0]
    assert r["p_seizure_pattern"].iloc[2] == pytest.approx(0.70)
    assert "ictal-interictal" in r["note"].iloc[0] and "review" in r["note"].iloc[3]
    assert r["pattern_label"].iloc[0] == "lpd"
    # events: the 3 Hz train is a seizure by definition; lpd at window 3 alone is no event; grda (2 windows) is;
    # nothing overlaps the detector's seizure (0-14 s), which stays the seizure step's own event
    ev = rec.events
    assert ev["eventType"].tolist() == ["sz", "grda"]
    assert ev["onset"].tolist() == [20.0, 40.0] and ev["duration"].tolist() == [10.0, 20.0]
    for onset, dur in zip(ev["onset"], ev["duration"], strict=True):
        assert onset >= 3.0 + 11.0 or onset + dur <= 3.0
    # prevalence over the hour: 2 of 8 windows grda = 25 %, frequent
    assert r.loc[4, "prevalence"] == 25.0 and r.loc[4, "prevalence_term"] == "frequent"


def test_without_detector_and_bad_input():
    w = _windows(["seizure", "gpd"], [30, 8], [P_SZ_LPD, P_LPD])
    rec = reconcile_windows(w)
    assert rec.windows["decision"].tolist() == ["seizure", "lpd"]  # definition; the gpd label's best probability is lpd
    assert rec.windows["p_seizure_detector"].isna().all()
    with pytest.raises(ParameterError, match="min_windows"):
        reconcile_windows(w, min_windows=0)
    with pytest.raises(ParameterError, match="on_threshold"):
        reconcile_windows(w, on_threshold=2.0)
