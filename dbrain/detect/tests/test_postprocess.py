"""Post-processing: smoothing, hysteresis, gap merging, minimum duration, lateralisation."""

from __future__ import annotations

import numpy as np
import pytest

from dbrain.detect._postprocess import channel_side, events_from_probability, hysteresis, lateralisation, merge_and_filter, smooth


def test_smoothing_is_a_centred_moving_average():
    p = np.zeros(21)
    p[10] = 1.0
    s = smooth(p, 5)
    assert s[8:13] == pytest.approx([0.2] * 5)
    assert s.sum() == pytest.approx(1.0)
    assert smooth(p, 1) == pytest.approx(p)


def test_hysteresis_needs_on_to_start_and_off_to_end():
    p = np.array([0, 0.5, 0.9, 0.6, 0.45, 0.3, 0.5, 0.0, 0.6, 0.6, 0.0])
    # run 1 reaches 0.9 ≥ on and stays ≥ off=0.4 from index 1 to 4; the 0.6 run never reaches on
    assert hysteresis(p, 0.8, 0.4) == [(1, 5)]
    assert hysteresis(p, 0.55, 0.4) == [(1, 5), (8, 10)]


def test_merge_then_minimum_duration():
    runs = [(0, 4), (8, 12), (40, 44)]
    assert merge_and_filter(runs, merge_gap=5, min_duration=0) == [(0, 12), (40, 44)]
    assert merge_and_filter(runs, merge_gap=5, min_duration=10) == [(0, 12)]
    assert merge_and_filter(runs, merge_gap=0, min_duration=5) == []


def test_events_from_probability_on_a_block():
    p = np.zeros(300)
    p[100:160] = 0.95
    p[200:203] = 0.95  # a 3 s blip: smoothed away / too short
    runs, ps = events_from_probability(p, on=0.7, off=0.4, smoothing=5, merge_gap=10, min_duration=10)
    assert len(runs) == 1
    start, stop = runs[0]
    assert abs(start - 100) <= 2 and abs(stop - 160) <= 2
    assert ps.max() == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("name", "side"),
    [
        ("Fp1-F7", "left"),
        ("T8-P8", "right"),
        ("Fz-Cz", "mid"),
        ("Fp1-Fp2", "mid"),
        ("C3", "left"),
        ("O2-AVG", "right"),
        ("ECG", "mid"),
    ],
)
def test_channel_side(name, side):
    assert channel_side(name) == side


def test_lateralisation():
    assert lateralisation(["F7-T7", "T7-P7", "Fz-Cz"], np.array([0.9, 0.8, 0.9])) == "left"
    assert lateralisation(["F7-T7", "F8-T8"], np.array([0.9, 0.8])) == "bilateral"
    assert lateralisation(["F8-T8", "F7-T7"], np.array([0.9, 0.1])) == "right"
    assert lateralisation(["Fz-Cz"], np.array([0.9])) == "n/a"
