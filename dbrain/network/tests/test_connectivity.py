"""Connectivity measures against known coupling, mne-connectivity, and surrogates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from dbrain.errors import ParameterError
from dbrain.network import (
    ALL_MEASURES,
    CONNECTIVITY_COLUMNS,
    MEASURES,
    compute_connectivity,
    connectivity_matrix,
    select_clean_epochs,
)
from dbrain.network._connectivity import _phase_randomize
from dbrain.simulate import simulate_eeg

SFREQ = 256.0
NAMES = ["src", "lagged", "mixed", "indep"]


def _alpha_noise(rng, n):
    """Narrow-band 10 Hz noise (AR(2) resonator)."""
    r, f = 0.98, 10.0
    a = [1.0, -2 * r * np.cos(2 * np.pi * f / SFREQ), r * r]
    return lfilter([1.0], a, rng.standard_normal(n))


@pytest.fixture(scope="module")
def coupled():
    """Four channels: a 10 Hz source; a copy lagged 25 ms (a quarter cycle) with noise; the
    source mixed in at zero lag (volume conduction) with noise; an independent channel."""
    rng = np.random.default_rng(42)
    n_ep, n_t, lag = 60, 1024, int(0.025 * SFREQ)
    n = n_ep * n_t + lag
    src = _alpha_noise(rng, n)
    sd = src.std()
    lagged = 0.8 * np.roll(src, lag) + 0.6 * sd * _alpha_noise(rng, n) / sd
    mixed = 0.8 * src + 0.6 * sd * _alpha_noise(rng, n) / sd
    indep = _alpha_noise(rng, n)
    x = np.vstack([src, lagged, mixed, indep])[:, lag:]
    return x.reshape(4, n_ep, n_t).transpose(1, 0, 2).copy()


@pytest.fixture(scope="module")
def table(coupled):
    return compute_connectivity(
        coupled, SFREQ, NAMES, measures=ALL_MEASURES, bands={"alpha": (8.0, 12.0)}, n_surrogates=19, random_state=1
    )


def _val(table, measure, a, b):
    m, names = connectivity_matrix(table, "alpha", measure)
    return m[names.index(b), names.index(a)] if measure == "pdc" else m[names.index(a), names.index(b)]


def test_table_layout(table):
    assert tuple(table.columns) == CONNECTIVITY_COLUMNS
    # 6 pairs per undirected measure, 12 ordered pairs for pdc
    assert table.groupby("measure").size().to_dict() == {**{m: 6 for m in MEASURES}, "pdc": 12}
    assert table.attrs["n_epochs"] == 60 and table.attrs["channels"] == NAMES


def test_lagged_coupling_recovered(table):
    for m in ("coh", "plv", "wpli", "aec"):
        assert _val(table, m, "src", "lagged") > 0.5, m
        assert _val(table, m, "src", "indep") < 0.2, m
    assert abs(_val(table, "imcoh", "src", "lagged")) > 0.4
    sig = table.set_index(["measure", "node_a", "node_b"])["significant"]
    for m in MEASURES:
        assert sig[(m, "src", "lagged")], m


def test_zero_lag_mixing_rejected_by_lag_measures(table):
    # coherence and PLV see the zero-lag mixture; wPLI, imaginary coherence and orthogonalised AEC do not
    assert _val(table, "coh", "src", "mixed") > 0.6
    assert _val(table, "plv", "src", "mixed") > 0.6
    sig = table.set_index(["measure", "node_a", "node_b"])["significant"]
    for m in ("wpli", "imcoh", "aec"):
        # at the level of the independent pair (the estimators' small-sample bias) and not significant
        assert abs(_val(table, m, "src", "mixed")) < abs(_val(table, m, "src", "indep")) + 0.02, m
        assert not sig[(m, "src", "mixed")], m
    assert abs(_val(table, "imcoh", "src", "mixed")) < 0.05


def test_pdc_direction(table):
    assert _val(table, "pdc", "src", "lagged") > 3 * _val(table, "pdc", "lagged", "src")
    assert _val(table, "pdc", "src", "lagged") > 0.2


def test_equal_to_mne_connectivity(coupled, monkeypatch):
    mc = pytest.importorskip("mne_connectivity")
    x = coupled[:20]
    bands = {"a": (8.0, 13.0), "b": (13.0, 30.0)}
    tab = compute_connectivity(x, SFREQ, NAMES, bands=bands)
    for m in ("coh", "imcoh", "plv", "wpli"):
        con = mc.spectral_connectivity_epochs(
            x, method=m, mode="fourier", sfreq=SFREQ, fmin=(8, 13), fmax=(13, 30), faverage=True, verbose=False
        )
        dense = np.abs(con.get_data(output="dense"))
        for k, band in enumerate(bands):
            mine, _ = connectivity_matrix(tab, band, m)
            np.testing.assert_allclose(mine, dense[:, :, k] + dense[:, :, k].T, atol=1e-10, err_msg=m)
    # AEC: the same band-limited analytic signal (ideal band-pass) through mne-connectivity
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / SFREQ)
    sel = np.flatnonzero((freqs >= 8) & (freqs <= 13))
    spec = np.fft.fft(x - x.mean(-1, keepdims=True), axis=-1)
    keep = np.zeros_like(spec)
    keep[:, :, sel] = 2 * spec[:, :, sel]
    ref = (
        mc.envelope_correlation(np.fft.ifft(keep, axis=-1), orthogonalize="pairwise").combine().get_data(output="dense")[:, :, 0]
    )
    np.fill_diagonal(ref, 0)
    # default: the base-band analytic signal on a coarser grid (8 x the band width): equal within 0.005
    mine, _ = connectivity_matrix(tab, "a", "aec")
    np.testing.assert_allclose(mine, ref, atol=5e-3)
    # on the full grid: equal to rounding
    monkeypatch.setattr("dbrain.network._connectivity._AEC_OVERSAMPLE", 10**6)
    full, _ = connectivity_matrix(compute_connectivity(x, SFREQ, NAMES, measures=("aec",), bands=bands), "a", "aec")
    np.testing.assert_allclose(full, ref, atol=1e-10)


def test_surrogates_keep_spectra_and_break_coupling(coupled):
    rng = np.random.default_rng(0)
    s = _phase_randomize(coupled[:10], rng)
    np.testing.assert_allclose(np.abs(np.fft.rfft(s, axis=-1)), np.abs(np.fft.rfft(coupled[:10], axis=-1)), rtol=1e-8, atol=1e-8)
    tab = compute_connectivity(_phase_randomize(coupled, rng), SFREQ, NAMES, measures=("coh",), bands={"alpha": (8, 12)})
    assert tab["value"].max() < 0.3


def test_surrogate_false_positive_rate():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((30, 8, 256))
    names = [f"c{i}" for i in range(8)]
    tab = compute_connectivity(x, SFREQ, names, measures=("coh", "wpli"), bands={"b": (10, 40)}, n_surrogates=39, random_state=2)
    assert 0.0 <= tab["significant"].mean() <= 0.15  # nominal 5 % on 56 tests
    assert tab["threshold"].notna().all()


def test_surrogate_measures_subset(coupled):
    tab = compute_connectivity(
        coupled[:20], SFREQ, NAMES, measures=("coh", "aec"), bands={"a": (8, 12)}, n_surrogates=19, surrogate_measures=("coh",)
    )
    assert tab.loc[tab.measure == "coh", "threshold"].notna().all()
    assert tab.loc[tab.measure == "aec", "threshold"].isna().all() and not tab.loc[tab.measure == "aec", "significant"].any()


def test_bands_above_nyquist_left_out():
    x = np.random.default_rng(0).standard_normal((4, 3, 128))
    tab = compute_connectivity(x, 64.0, ["a", "b", "c"], measures=("coh",))
    assert set(tab["band"]) == {"delta", "theta", "alpha", "beta"}  # gamma 30-45 Hz is above 32 Hz


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": np.zeros((5, 3))}, "3-D"),
        ({"epochs": np.zeros((1, 3, 64))}, "at least 2 epochs"),
        ({"ch_names": ["a", "b"]}, "2 names for 3 channels"),
        ({"ch_names": ["a", "a", "b"]}, "unique"),
        ({"measures": ("coh", "granger")}, "measures"),
        ({"n_surrogates": 5}, "at least 19"),
        ({"bands": {"x": (10, 5)}}, "fmin < fmax"),
        ({"bands": {"x": (200, 300)}}, "Nyquist"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"epochs": np.random.default_rng(0).standard_normal((4, 3, 256)), "sfreq": SFREQ, "ch_names": ["a", "b", "c"]}
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        compute_connectivity(args.pop("epochs"), args.pop("sfreq"), args.pop("ch_names"), **args)


def test_connectivity_matrix_unknown_band(table):
    with pytest.raises(ParameterError, match="no rows for band 'beta'"):
        connectivity_matrix(table, "beta", "coh")


def test_select_clean_epochs_rejects_artifact():
    raw, _ = simulate_eeg(40, seed=0, ekg=False, verbose="error")
    names = raw.ch_names
    x = raw.get_data()
    x[2, int(13 * SFREQ) : int(13.05 * SFREQ)] += 2e-3  # an electrode pop in the 4th 4-s epoch
    x[:, int(30 * SFREQ) :] = 0.0  # flat line over the last 10 s
    ep, starts, kept = select_clean_epochs(x, SFREQ, names, length=4.0)
    assert 12.0 not in starts and 32.0 not in starts and 36.0 not in starts
    assert 0.0 in starts and 20.0 in starts
    assert ep.shape[1:] == (19, 1024) and len(ep) == len(starts) and kept == names
    with pytest.raises(ParameterError, match="whole number"):
        select_clean_epochs(x, SFREQ, names, length=2.5)


def test_mne_epochs_input(coupled):
    import mne

    info = mne.create_info(NAMES, SFREQ, "eeg")
    ep = mne.EpochsArray(coupled[:10], info, verbose="error")
    a = compute_connectivity(ep, measures=("wpli",), bands={"a": (8, 12)})
    b = compute_connectivity(coupled[:10], SFREQ, NAMES, measures=("wpli",), bands={"a": (8, 12)})
    np.testing.assert_allclose(a["value"], b["value"])
    with pytest.raises(ParameterError, match="disagrees"):
        compute_connectivity(ep, 100.0)
    with pytest.raises(ParameterError, match="needed with an array"):
        compute_connectivity(coupled[:10])
