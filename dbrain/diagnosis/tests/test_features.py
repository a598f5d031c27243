import numpy as np
import pytest

from dbrain.diagnosis import FEATURES, compute_features
from dbrain.errors import ParameterError

SF = 128.0
CH19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"]
CH16 = ["Fp1", "Fp2", "F7", "F3", "F4", "F8", "T7", "C3", "C4", "T8", "P7", "P3", "P4", "P8", "O1", "O2"]
CH14 = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7", "T8"]


def _epochs(ch, alpha=10.0, n=6, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(2 * SF)) / SF
    x = rng.standard_normal((n, len(ch), t.size)) * 5e-6
    x += 20e-6 * np.sin(2 * np.pi * alpha * t + rng.uniform(0, 6.28, (n, len(ch), 1)))
    return x


@pytest.mark.parametrize("ch", [CH19, CH16, CH14], ids=["19ch", "16ch", "14ch"])
def test_any_10_20_subset(ch):
    res = compute_features(_epochs(ch), SF, ch, network=False, aperiodic=False)
    row = res.to_frame()
    assert list(row.columns) == list(FEATURES)
    assert abs(res.values["alpha_peak"] - 10.0) < 0.5
    rel = [res.values[f"rel_{b}_global"] for b in ("delta", "theta", "alpha", "beta")]
    assert np.isclose(sum(rel), 1.0) and rel[2] > 0.5
    assert res.values["clean_seconds"] == 12.0
    # every feature is either computed (finite) or named as missing with a reason
    for f in FEATURES:
        assert (f in res.missing) != np.isfinite(res.values[f])
    assert res.missing["alpha_wpli"] == "not requested"
    if ch is CH14:
        assert res.missing["rel_alpha_central"] == "no central channel"
        assert np.isfinite(res.values["rel_alpha_frontal"])  # AF3/AF4/FC5/FC6 count as frontal
    assert set(res.computable) == {f for f in FEATURES if f not in res.missing}


def test_slowing_lowers_peak_and_raises_ratio():
    fast = compute_features(_epochs(CH19, 10.0), SF, CH19, network=False, aperiodic=False).values
    slow = compute_features(_epochs(CH19, 7.5), SF, CH19, network=False, aperiodic=False).values
    assert slow["alpha_peak"] < fast["alpha_peak"] - 2
    assert slow["theta_alpha_ratio"] > fast["theta_alpha_ratio"]


def test_network_and_aperiodic_and_few_channels():
    res = compute_features(_epochs(CH16[:6], n=4), SF, CH16[:6])
    assert np.isfinite(res.values["alpha_wpli"]) and np.isfinite(res.values["aperiodic_exponent"])
    few = compute_features(_epochs(["O1", "O2", "Pz"]), SF, ["O1", "O2", "Pz"], aperiodic=False)
    assert few.missing["alpha_wpli"] == "fewer than 4 channels"
    assert few.missing["asym_alpha_frontal"] == "no homologous left/right pair"


def test_no_clean_epochs_and_bad_input():
    res = compute_features(np.empty((0, 3, 256)), SF, ["O1", "O2", "Pz"])
    assert res.clean_seconds == 0 and res.missing["alpha_peak"] == "no clean EEG"
    with pytest.raises(ParameterError, match="3-D"):
        compute_features(np.zeros((3, 256)), SF, ["O1", "O2", "Pz"])
    with pytest.raises(ParameterError, match="ch_names has 2 names"):
        compute_features(np.zeros((1, 3, 256)), SF, ["O1", "O2"])
    with pytest.raises(ParameterError, match="at least 2 s"):
        compute_features(np.zeros((1, 3, 100)), SF, ["O1", "O2", "Pz"])
