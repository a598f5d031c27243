"""Resting-state features and figures."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from dbrain.errors import ParameterError
from dbrain.network import (
    RESTING_FEATURES,
    clean_epochs,
    compute_connectivity,
    connectivity_matrix,
    onset_network,
    plot_connectivity,
    plot_connectome,
    plot_onset,
    resting_state_features,
)
from dbrain.simulate import simulate_eeg


@pytest.fixture(scope="module")
def resting():
    raw, _ = simulate_eeg(120, seed=3, ekg=False, verbose="error")
    epochs, starts, names = clean_epochs(raw, max_duration=60.0)
    return epochs - epochs.mean(axis=1, keepdims=True), starts, names, raw.info["sfreq"]


def test_clean_epochs_bounded_and_spread(resting):
    epochs, starts, names, sfreq = resting
    assert len(epochs) == 15 and epochs.shape[1:] == (19, 1024)  # 60 s of 4-s epochs
    assert starts.min() < 20 and starts.max() > 90  # spread over the recording, not the first minute
    assert names[:2] == ["Fp1", "Fp2"]


def test_resting_features(resting):
    epochs, _, names, sfreq = resting
    f = resting_state_features(epochs, sfreq, names)
    assert list(f.columns) == list(RESTING_FEATURES) and len(f) == 1
    row = f.iloc[0]
    # the simulator's posterior alpha lies at 9.5-10.5 Hz
    assert 9.3 <= row["alpha_peak"] <= 10.7
    assert 0 < row["alpha_wpli"] < 1 and 0 < row["alpha_efficiency"] < 1 and row["n_epochs"] == 15


def test_resting_features_lower_alpha_peak():
    # an 8 Hz rhythm common to all channels with lags: the peak and the theta/alpha features follow it
    rng = np.random.default_rng(0)
    t = np.arange(20 * 1024) / 256.0
    x = np.array([np.sin(2 * np.pi * 8.0 * (t - 0.01 * k)) for k in range(6)]) + 0.5 * rng.standard_normal((6, t.size))
    ep = x.reshape(6, 20, 1024).transpose(1, 0, 2)
    f = resting_state_features(ep, 256.0, ["O1", "O2", "P3", "P4", "Pz", "Cz"]).iloc[0]
    assert f["alpha_peak"] == pytest.approx(8.0, abs=0.15)


def test_connectome_figures(resting):
    epochs, _, names, sfreq = resting
    tab = compute_connectivity(epochs, sfreq, names, measures=("wpli", "pdc"), bands={"alpha": (8, 13), "theta": (4, 8)})
    mat, _ = connectivity_matrix(tab, "alpha", "wpli")
    for kind in ("head", "circle"):
        assert isinstance(plot_connectome(mat, names, kind=kind, title=kind), Figure)
    assert isinstance(plot_connectome(connectivity_matrix(tab, "alpha", "pdc")[0], names), Figure)
    fig = plot_connectivity(tab)
    assert len(fig.axes) >= 8
    with pytest.raises(ParameterError, match="kind"):
        plot_connectome(mat, names, kind="sphere")
    with pytest.raises(ParameterError, match="square"):
        plot_connectome(mat[:3], names)


def test_onset_figure_non_1020_names():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 512 * 20))
    x[1, 512 * 10 :] += 5 * np.sin(2 * np.pi * 40 * np.arange(512 * 10) / 512)
    res = onset_network(x, 512.0, [f"G{i}" for i in range(6)], 10.0, pre=10.0, post=10.0, kind="intracranial")
    fig = plot_onset(res, title="t")
    assert isinstance(fig, Figure)  # circle layout for grid names
    # the node colours have a scale: a colour bar, symmetric about 0, spanning the largest strength change
    bars = [ax for ax in fig.axes if "strength change" in ax.get_xlabel()]
    assert len(bars) == 1
    change = res.ictal_matrix.sum(0) - res.pre_matrix.sum(0)
    lo, hi = bars[0].get_xlim()
    assert lo == pytest.approx(-np.abs(change).max()) and hi == pytest.approx(np.abs(change).max())


def test_adfsu_alpha_features_separate_groups(shared_data):
    """Real resting EEG, eyes closed (76 probable AD, 12 elderly controls, one 8-s segment each): alpha
    coherence and alpha peak are lower in AD, as the literature reports (a sanity check, not a classifier)."""
    path = shared_data / "dementia" / "adfsu" / "adfsu_128hz.npz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    d = np.load(path)
    rename = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
    names = [rename.get(str(c), str(c)) for c in d["ch_names"]]
    duplicates = {"Paciente41", "Paciente42", "Paciente43", "Paciente44"}  # one AD recording under five IDs
    feats = {"AD": [], "Healthy": []}
    for x, group, cond, person in zip(d["data"], d["group"], d["condition"], d["person"], strict=True):
        if cond != "Eyes_closed" or (group == "AD" and person in duplicates):
            continue
        x = x.astype(float) - x.mean(axis=0)
        f = resting_state_features(x.reshape(19, 4, 256).transpose(1, 0, 2), 128.0, names).iloc[0]
        feats[str(group)].append((f["alpha_coh"], f["alpha_peak"]))
    ad, hc = np.array(feats["AD"]), np.array(feats["Healthy"])
    assert len(ad) == 76 and len(hc) == 12

    def auroc(h, a):
        h, a = h[np.isfinite(h)], a[np.isfinite(a)]
        return ((h[:, None] > a[None, :]).sum() + 0.5 * (h[:, None] == a[None, :]).sum()) / (h.size * a.size)

    assert auroc(hc[:, 0], ad[:, 0]) > 0.8  # alpha coherence (0.88 at the time of writing)
    assert auroc(hc[:, 1], ad[:, 1]) > 0.7  # alpha peak where one exists in 7-13 Hz (0.78)
