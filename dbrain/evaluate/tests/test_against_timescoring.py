"""dbrain's SzCORE scoring gives exactly timescoring's numbers on the same inputs.

timescoring (MIT, esl-epfl) is SzCORE's reference scorer. SzCORE feeds it the
1 Hz masks that epilepsy2bids builds from the events TSVs
(``mask[int(onset):int(onset + duration)] = 1`` over ``int(recordingDuration)``
samples); the helper :func:`_szcore_mask` below builds them the same way,
independently of dbrain's code.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dbrain.evaluate import score_events, score_samples
from dbrain.events import make_events

scoring = pytest.importorskip("timescoring.scoring", reason="timescoring is in the 'test' extra")
from timescoring.annotations import Annotation  # noqa: E402

N_RANDOM = 400


def _szcore_mask(events: pd.DataFrame, duration: float, fs: float = 1) -> np.ndarray:
    mask = np.zeros(int(duration * fs), dtype=bool)
    for row in events.itertuples(index=False):
        if row.eventType == "sz" or str(row.eventType).startswith("sz_"):
            mask[int(row.onset * fs) : int((row.onset + row.duration) * fs)] = True
    return mask


def _timescoring(ref, hyp, duration, *, fs=1, **params):
    ref_ann = Annotation(_szcore_mask(ref, duration), 1)
    hyp_ann = Annotation(_szcore_mask(hyp, duration), 1)
    names = {
        "tolerance_before": "toleranceStart",
        "tolerance_after": "toleranceEnd",
        "min_gap": "minDurationBetweenEvents",
        "max_duration": "maxEventDuration",
    }
    param = scoring.EventScoring.Parameters(**{names[k]: v for k, v in params.items()})
    event = scoring.EventScoring(ref_ann, hyp_ann, param)
    if fs == 1:
        sample = scoring.SampleScoring(ref_ann, hyp_ann)
    else:
        sample = scoring.SampleScoring(
            Annotation(_szcore_mask(ref, duration, fs), fs), Annotation(_szcore_mask(hyp, duration, fs), fs), fs=fs
        )
    return event, sample


def _same(ours: dict, theirs, n_hyp: int) -> None:
    assert ours["tp"] == theirs.tp
    assert ours["fp"] == theirs.fp
    assert ours["n_ref"] == theirs.refTrue
    assert ours["fn"] == theirs.refTrue - theirs.tp
    assert ours["n_hyp"] == n_hyp
    assert ours["duration"] == theirs.numSamples / theirs.fs
    for key, attr in (("sensitivity", "sensitivity"), ("precision", "precision"), ("f1", "f1"), ("fp_per_24h", "fpRate")):
        a, b = ours[key], float(getattr(theirs, attr))
        assert (math.isnan(a) and math.isnan(b)) or a == b, f"{key}: dbrain {a!r} != timescoring {b!r}"


def _compare(ref, hyp, duration, *, fs=1, **params):
    event_ts, sample_ts = _timescoring(ref, hyp, duration, fs=fs, **params)
    _same(score_events(ref, hyp, duration, **params), event_ts, len(event_ts.hyp.events))
    _same(score_samples(ref, hyp, duration, fs=fs), sample_ts, int(sample_ts.hyp.mask.sum()))
    return event_ts


def _random_events(rng, duration, n_max, *, long=False):
    n = rng.integers(0, n_max + 1)
    onset = rng.uniform(-20, duration + 20, n)
    scale = 400 if long else 60
    length = rng.exponential(scale, n) + rng.uniform(0, 3, n)
    # Clusters of close events (< 90 s apart), which SzCORE merges.
    if n and rng.random() < 0.5:
        k = rng.integers(1, 4)
        base = rng.uniform(0, duration)
        onset = np.concatenate([onset, base + np.cumsum(rng.uniform(5, 150, k))])
        length = np.concatenate([length, rng.uniform(1, 40, k)])
    onset = np.clip(onset, 0, None)
    types = rng.choice(["sz", "sz", "sz_foc_ia", "bckg", "spike"], onset.size)
    return make_events(onset, length, list(types), recording_duration=duration)


def _perturbed(rng, ref, duration):
    """Detections near the reference seizures (shifted, cut, missed) plus false alarms."""
    sz = ref[ref["eventType"].str.startswith("sz")]
    keep = rng.random(len(sz)) < 0.7
    onset = sz["onset"].to_numpy()[keep] + rng.normal(0, 45, keep.sum())
    length = sz["duration"].to_numpy()[keep] * rng.uniform(0.1, 1.5, keep.sum())
    n_false = rng.integers(0, 6)
    onset = np.clip(np.concatenate([onset, rng.uniform(0, duration, n_false)]), 0, None)
    length = np.concatenate([length, rng.exponential(30, n_false)])
    return make_events(onset, length, "sz", confidence=rng.uniform(0, 1, onset.size), recording_duration=duration)


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_random_cases_identical(seed):
    rng = np.random.default_rng(seed)
    duration = float(rng.choice([300.0, 1800.5, 3600.0, 7199.9, 4 * 3600.0]))
    ref = _random_events(rng, duration, 6, long=seed % 5 == 0)
    hyp = _random_events(rng, duration, 8, long=seed % 7 == 0) if seed % 3 == 0 else _perturbed(rng, ref, duration)
    _compare(ref, hyp, duration)


@pytest.mark.parametrize("seed", range(40))
def test_random_cases_other_parameters(seed):
    rng = np.random.default_rng(10_000 + seed)
    duration = 3600.0
    ref = _random_events(rng, duration, 6)
    hyp = _perturbed(rng, ref, duration)
    params = {
        "tolerance_before": float(rng.choice([0, 5, 30.5])),
        "tolerance_after": float(rng.choice([0, 10, 60])),
        "min_gap": float(rng.choice([0, 30, 90, 200])),
        "max_duration": float(rng.choice([60, 300, 1e4])),
    }
    _compare(ref, hyp, duration, **params)


@pytest.mark.parametrize("fs", [2, 4, 256])
def test_sample_scoring_other_rates(fs):
    rng = np.random.default_rng(fs)
    for _ in range(10):
        ref = _random_events(rng, 1800.0, 5)
        hyp = _perturbed(rng, ref, 1800.0)
        _, sample_ts = _timescoring(ref, hyp, 1800.0, fs=fs)
        _same(score_samples(ref, hyp, 1800.0, fs=fs), sample_ts, int(sample_ts.hyp.mask.sum()))


def _ev(pairs, duration, event_type="sz"):
    onsets = [p[0] for p in pairs]
    durations = [p[1] for p in pairs]
    return make_events(onsets, durations, event_type, recording_duration=duration)


EDGE_CASES = {
    "both empty": ([], [], 3600),
    "empty reference": ([], [(100, 20), (2000, 5)], 3600),
    "empty hypothesis": ([(100, 20)], [], 3600),
    "at recording start": ([(0, 15)], [(0, 3)], 3600),
    "at recording end": ([(3580, 20)], [(3599, 1)], 3600),
    "runs past the end": ([(3590, 50)], [(3500, 200)], 3600),
    "whole recording": ([(0, 600)], [(0, 600)], 600),
    "long reference > 5 min": ([(100, 1000)], [(150, 10)], 3600),
    "long hypothesis > 5 min": ([(100, 30)], [(50, 1300)], 3600),
    "exactly 5 min": ([(100, 300)], [(100, 300.5)], 3600),
    "close references < 90 s": ([(100, 10), (180, 10), (260, 10)], [(265, 2)], 3600),
    "gap of exactly 90 s": ([(100, 10), (200, 10)], [(100, 10), (200, 10)], 3600),
    "close detections < 90 s": ([(1000, 60)], [(500, 5), (560, 5), (620, 5), (2000, 5)], 3600),
    "detection within 30 s before": ([(1000, 60)], [(971, 5)], 3600),
    "detection 31 s before": ([(1000, 60)], [(964, 5)], 3600),
    "detection within 60 s after": ([(1000, 60)], [(1119, 1)], 3600),
    "detection 61 s after": ([(1000, 60)], [(1121, 5)], 3600),
    "fractional times": ([(10.4, 0.7), (500.95, 30.1)], [(11.9, 0.2), (531.0, 0.99)], 1234.56),
    "overlapping events": ([(100, 50), (120, 50)], [(90, 10), (95, 100)], 3600),
    "zero-duration events": ([(100, 0)], [(100, 0)], 3600),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_identical(case):
    ref_pairs, hyp_pairs, duration = EDGE_CASES[case]
    _compare(_ev(ref_pairs, duration), _ev(hyp_pairs, duration), float(duration))


def test_edge_case_values():
    """A few hand-checked figures, so that agreement is not agreement on nonsense."""
    ref, hyp = _ev([(1000, 60)], 3600), _ev([(971, 5)], 3600)
    scores = score_events(ref, hyp, 3600.0)
    assert (scores["tp"], scores["fp"], scores["sensitivity"], scores["precision"], scores["f1"]) == (1, 0, 1.0, 1.0, 1.0)
    scores = score_events(ref, _ev([(964, 5)], 3600), 3600.0)  # ends 31 s before onset: outside tolerance
    assert (scores["tp"], scores["fp"], scores["fn"]) == (0, 1, 1)
    assert scores["fp_per_24h"] == 24.0
    scores = score_events(_ev([(100, 1000)], 3600), _ev([(150, 10)], 3600), 3600.0)  # split into 300+300+300+100 s
    assert (scores["n_ref"], scores["tp"], scores["fn"]) == (4, 1, 3)
    scores = score_events(_ev([(100, 10), (180, 10), (260, 10)], 3600), _ev([], 3600), 3600.0)  # merged into one
    assert scores["n_ref"] == 1 and math.isnan(scores["precision"]) and scores["f1"] == 0.0
    both_empty = score_events(_ev([], 3600), _ev([], 3600), 3600.0)
    assert math.isnan(both_empty["sensitivity"]) and math.isnan(both_empty["f1"]) and both_empty["fp_per_24h"] == 0.0
    samples = score_samples(ref, hyp, 3600.0)
    assert (samples["n_ref"], samples["n_hyp"], samples["tp"], samples["fp"]) == (60, 5, 0, 5)


def test_only_seizure_types_count():
    duration = 3600.0
    hyp = make_events([100, 500, 900, 1300], 20, ["bckg", "spike", "SZ", "sz_gen_m_tonicClonic"], recording_duration=duration)
    scores = score_events(_ev([], duration), hyp, duration)
    assert scores["n_hyp"] == 2 and scores["fp"] == 2
