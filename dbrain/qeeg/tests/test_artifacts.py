"""Tests of the artifact strength (dbrain.qeeg._artifacts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbrain.errors import ParameterError
from dbrain.qeeg._artifacts import ARTIFACT_TYPES, artifact_strength, compute_artifact_strength
from dbrain.simulate import simulate_eeg

NAMES = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8", "Fz", "Cz", "Pz"]
SF = 256.0


@pytest.fixture(scope="module")
def clean():
    raw, _ = simulate_eeg(120, artifacts=False, seed=3)
    raw.pick("eeg")
    return raw.get_data(), raw.ch_names


@pytest.fixture(scope="module")
def noisy():
    raw, events = simulate_eeg(1200, artifacts=True, seed=1)
    raw.pick("eeg")
    return raw, events


def _code(name):
    return ARTIFACT_TYPES.index(name)


def test_shapes_and_epoch_grid(clean):
    data, names = clean
    scores, dominant, types = artifact_strength(data, SF, names, window=2.0, step=1.0)
    assert types == ARTIFACT_TYPES
    assert scores.shape == dominant.shape == ((data.shape[1] - 512) // 256 + 1, len(names))
    assert scores.dtype == np.float32 and dominant.dtype == np.int8
    assert np.all((scores >= 0) & (scores <= 1))
    # Epoch k depends only on samples [k*step, k*step + window): scoring a slice gives the same numbers.
    part, _, _ = artifact_strength(data[:, 10 * 256 : 10 * 256 + 30 * 256], SF, names)
    np.testing.assert_allclose(part, scores[10 : 10 + part.shape[0]], atol=1e-5)
    # Windows that are not a whole number of steps go through the generic path.
    s2, _, _ = artifact_strength(data, SF, names, window=2.5, step=1.0)
    assert s2.shape[0] == (data.shape[1] - 640) // 256 + 1
    assert artifact_strength(data[:, :100], SF, names)[0].shape == (0, len(names))


def test_clean_background_scores_low(clean):
    data, names = clean
    scores, dominant, _ = artifact_strength(data, SF, names)
    assert np.quantile(scores, 0.99) < 0.1
    assert scores.max() < 0.5
    assert np.mean(dominant == 0) > 0.99


def test_flat_channel(clean):
    data, names = clean
    data = data.copy()
    data[3] = 2e-3  # constant (DC offset only)
    data[7] = np.round(data[7] * 1e7) / 1e7 * 0 + 1e-7 * np.sin(np.arange(data.shape[1]) / 50)  # < 0.5 µV
    scores, dominant, _ = artifact_strength(data, SF, names)
    for ch in (3, 7):
        assert scores[:, ch].min() > 0.99
        assert np.all(dominant[:, ch] == _code("flat"))
    assert np.quantile(np.delete(scores, [3, 7], axis=1), 0.99) < 0.1


def test_line_noise(clean):
    data, names = clean
    data = data.copy()
    t = np.arange(data.shape[1]) / SF
    data[5] += 30e-6 * np.sin(2 * np.pi * 50 * t)
    scores, dominant, _ = artifact_strength(data, SF, names, line_freq=50.0)
    assert scores[:, 5].min() > 0.9 and np.all(dominant[:, 5] == _code("line"))
    # At the wrong mains frequency a 50 Hz tone is not "line" (it is high-frequency power instead).
    for other in (60.0, None):
        assert not np.any(artifact_strength(data, SF, names, line_freq=other)[1][:, 5] == _code("line"))


def test_amplitude_and_step(clean):
    data, names = clean
    data = data.copy()
    t = np.arange(data.shape[1]) / SF
    data[8, 2560:5120] += 600e-6 * np.sin(2 * np.pi * 4 * t[2560:5120])  # 10 s of 1.2 mV peak-to-peak
    data[9, 7680:] += 500e-6  # baseline step at 30 s
    scores, dominant, _ = artifact_strength(data, SF, names)
    assert scores[12:18, 8].min() > 0.99
    assert scores[29, 9] > 0.9 and dominant[29, 9] == _code("pop")
    assert scores[40:, 9].max() < 0.1


def test_simulated_artifacts(noisy):
    """Epochs with the simulator's blinks, muscle and pops score higher, with the right type."""
    raw, events = noisy
    data = raw.get_data()
    scores, dominant, _ = artifact_strength(data, SF, raw.ch_names)
    n_ep = scores.shape[0]
    starts = np.arange(n_ep, dtype=float)
    touched = np.zeros(n_ep, bool)
    for ev in events.itertuples():
        touched |= (starts < ev.onset + ev.duration + 0.5) & (starts + 2.0 > ev.onset - 0.5)
    expected = {"eyeblink": "eye", "muscle": "muscle", "electrode_pop": "pop"}
    # Clean epochs: the 95th percentile of each channel stays low, except the one
    # electrode the simulator gives strong line noise (10–25 µV).
    per_channel = np.quantile(scores[~touched], 0.95, axis=0)
    assert np.sum(per_channel > 0.2) <= 1
    clean_ref = np.delete(scores[~touched], np.argmax(per_channel), axis=1)
    for kind, label in expected.items():
        sub = events[events.eventType == kind]
        assert len(sub) > 0
        hits, maxima = 0, []
        for ev in sub.itertuples():
            chans = [raw.ch_names.index(c) for c in ev.channels.split(",")]
            inside = (starts <= ev.onset) & (starts + 2.0 >= ev.onset + min(ev.duration, 1.0))
            block = scores[np.ix_(inside, chans)]
            i, j = np.unravel_index(block.argmax(), block.shape)
            maxima.append(block.max())
            hits += dominant[np.ix_(inside, chans)][i, j] == _code(label)
        maxima = np.array(maxima)
        # AUROC of event maxima against clean epoch/channel maxima over the same channels.
        ref = clean_ref.max(axis=1)
        auc = np.mean(maxima[:, None] > ref[None, :]) + 0.5 * np.mean(maxima[:, None] == ref[None, :])
        assert auc > 0.9, (kind, auc)
        assert hits / len(sub) >= 0.8, (kind, hits, len(sub))


def test_compute_artifact_strength_streams(noisy):
    raw, _ = noisy
    raw = raw.copy().crop(0, 300)
    table = compute_artifact_strength(raw, chunk_duration=37)
    full, dom, _ = artifact_strength(raw.get_data(), SF, raw.ch_names)
    assert list(table.columns) == ["start", "channel", "score", "type"]
    assert len(table) == full.size
    np.testing.assert_allclose(table["score"].to_numpy().reshape(full.shape), full, atol=1e-5)
    assert (table["type"].cat.codes.to_numpy().reshape(full.shape) == dom).all()
    assert table["start"].iloc[-1] == pytest.approx(full.shape[0] - 1)
    assert isinstance(table["type"].dtype, pd.CategoricalDtype)
    sub = compute_artifact_strength(raw, picks=["Fp1", "O2"])
    assert list(sub["channel"].cat.categories) == ["Fp1", "O2"]


def test_errors():
    data = np.zeros((2, 1000))
    with pytest.raises(ParameterError, match="2-D"):
        artifact_strength(np.zeros(10), SF, ["a"])
    with pytest.raises(ParameterError, match="ch_names"):
        artifact_strength(data, SF, ["a"])
    with pytest.raises(ParameterError, match="window"):
        artifact_strength(data, SF, ["a", "b"], window=-1)
    with pytest.raises(ParameterError, match="raw"):
        compute_artifact_strength(data)


@pytest.mark.parametrize(("win", "stp"), [(512, 256), (1024, 256), (400, 100)])
def test_block_features_equal_strided(noisy, win, stp):
    """The per-block reduction gives the features of the direct per-epoch definition."""
    from dbrain.qeeg._artifacts import _block_features, _strided_features

    raw, _ = noisy
    x = (raw.get_data(stop=300 * 256) * 1e6).astype(np.float32)
    x -= x[:, :1]
    x[3, 5000:9000] = 0.0  # a flat stretch: identical differences
    n_ep = (x.shape[1] - win) // stp + 1
    fast = _block_features(x, n_ep, stp, win // stp)
    slow = _strided_features(x, n_ep, win, stp)
    for name, a, b in zip(["std", "step", "ptp", "jump", "drms", "identical"], fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)
