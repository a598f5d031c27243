"""viewer_trends.parquet: the viewer's hemisphere DSA and artifact share by type."""

from __future__ import annotations

import mne
import numpy as np

from dbrain.analyze._steps_qeeg import viewer_trends
from dbrain.qeeg import ARTIFACT_TYPES, compute_qeeg

LEFT = ("Fp1", "F3", "C3", "P3", "O1", "F7", "T7", "P7")
RIGHT = ("Fp2", "F4", "C4", "P4", "O2", "F8", "T8", "P8")


def _raw(seconds=180, sf=128):
    rng = np.random.default_rng(0)
    names = [*LEFT, *RIGHT, "Fz", "Cz", "Pz"]
    t = np.arange(seconds * sf) / sf
    data = rng.normal(0, 5e-6, (len(names), t.size))
    for i, name in enumerate(names):
        if name in LEFT:  # a 10 Hz rhythm on the left only
            data[i] += 40e-6 * np.sin(2 * np.pi * 10 * t)
    return mne.io.RawArray(data, mne.create_info(names, sf, "eeg"), verbose="error")


def test_dsa_shows_the_left_alpha_and_artifact_shares_are_fractions():
    result = compute_qeeg(_raw(), window=2.0, step=1.0, fmin=0.5, fmax=30.0, n_jobs=1)
    table = viewer_trends(result, resolution=60.0, freq_bin=1.0)
    assert list(table.columns) == ["start", "channel", "measure", "freq", "value"]
    assert sorted(table["start"].unique()) == [0.0, 60.0, 120.0]
    dsa = table[table["measure"] == "dsa"]
    assert set(dsa["channel"]) == {"left", "right"}
    for side, expect_peak in (("left", True), ("right", False)):
        spec = dsa[dsa["channel"] == side].groupby("freq")["value"].mean()
        assert (spec.idxmax() == 10.0) == expect_peak, (side, spec.idxmax())
    left = dsa[dsa["channel"] == "left"].groupby("freq")["value"].mean()
    right = dsa[dsa["channel"] == "right"].groupby("freq")["value"].mean()
    assert left[10.0] - right[10.0] > 15  # dB: 40 µV vs noise
    art = table[table["measure"].str.startswith("artifact_")]
    assert set(art["measure"]) == {f"artifact_{t}" for t in ARTIFACT_TYPES[1:]}
    assert art["value"].between(0, 1).all()
    assert (art.groupby("start")["value"].sum() <= 1 + 1e-6).all()
