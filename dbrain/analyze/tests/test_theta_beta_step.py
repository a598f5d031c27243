"""The theta/beta line of the diagnosis step: a z-score with its interval inside the norms' ages, none outside."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from dbrain.analyze._steps_diagnosis import _caveats, _theta_beta

NORMS = {
    "channel": "Cz",
    "bands_hz": {"theta": [4.0, 8.0], "beta": [13.0, 21.0]},
    "scale": "natural log of the power ratio",
    "mean_log": 1.5,
    "sd_log": 0.5,
    "n_controls": 34,
    "age_range": [7.0, 12.99],
    "ages": "7-12 y pooled",
    "condition": "task",
}
SCREEN = SimpleNamespace(applicability_={"theta_beta_norms": NORMS})


def test_z_with_its_interval_inside_the_norms_ages():
    ratio = float(np.exp(1.5 + 2 * 0.5))  # z = +2
    tb = _theta_beta(pd.Series({"theta_beta_ratio": ratio}), SCREEN, age=9)
    assert abs(tb["z"] - 2.0) < 1e-9
    lo, hi = tb["z_interval"]
    se = np.sqrt(1 / 34 + 4 / (2 * 33))
    assert abs(hi - lo - 2 * 1.645 * se) < 1e-9 and lo < 2.0 < hi
    line = _caveats({"theta_beta": tb})
    assert "z = +2.0 (+1.5 to +2.5)" in line and "NEBA" in line


def test_no_z_outside_the_norms_ages():
    tb = _theta_beta(pd.Series({"theta_beta_ratio": 5.0}), SCREEN, age=15)
    assert tb["z"] is None and tb["ratio"] == 5.0 and "no norms for age 15 y" in tb["no_z_reason"]
    assert "no norms for age 15 y (control children were 7-12 y)" in _caveats({"theta_beta": tb})
    assert _theta_beta(pd.Series({"theta_beta_ratio": np.nan}), SCREEN, age=9) is None
