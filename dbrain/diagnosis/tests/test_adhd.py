"""The ADHD screen: age gating, the theta/beta ratio and its norms, and 'dbrain train adhd'."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dbrain.diagnosis import ADHDScreen, array_features, compute_features
from dbrain.diagnosis.tests.test_dementia_robust import CH19, _eeg


def test_runs_only_for_children_with_a_known_age():
    screen = ADHDScreen.load()
    X = array_features(_eeg(CH19, 60.0, 128.0), 128.0, CH19, network=False, scale_to_uv=10.0, candidates=True).to_frame()
    unknown = screen.assess(X)[0]
    assert unknown["status"] == "not applicable" and "age unknown" in unknown["reason"]
    adult = screen.assess(X, age=30)[0]
    assert adult["status"] == "not applicable" and "age 30" in adult["reason"]
    child = screen.assess(X, age=9)[0]
    assert child["status"] == "ok" and 0 <= child["probability"] <= 1
    # a teenager is inside the screen's limits but outside the ages it was trained on (7-12): no probability at all
    teen = screen.assess(X, age=15)[0]
    assert teen["status"] == teen["outcome"] == "not applicable" and teen["probability"] is None
    assert teen["interval"] is None and "age 15" in teen["reason"] and "7-12 y" in teen["reason"]
    norms = screen.applicability_["theta_beta_norms"]
    assert norms["bands_hz"] == {"theta": [4.0, 8.0], "beta": [13.0, 21.0]} and norms["sd_log"] > 0


def test_theta_beta_ratio_at_cz_or_c3_c4():
    sf, n = 128.0, 256
    t = np.arange(n) / sf
    rng = np.random.default_rng(0)
    ep = rng.standard_normal((6, 3, n)) * 1e-6
    ep[:, 1] += 20e-6 * np.sin(2 * np.pi * 6.0 * t)  # theta at Cz only
    with_cz = compute_features(ep, sf, ["C3", "Cz", "C4"], network=False, aperiodic=False)
    without = compute_features(ep[:, [0, 2]], sf, ["C3", "C4"], network=False, aperiodic=False)
    assert with_cz.values["theta_beta_ratio"] > 10 * without.values["theta_beta_ratio"]
    none = compute_features(ep[:, :1], sf, ["O1"], network=False, aperiodic=False)
    assert none.missing["theta_beta_ratio"] == "no Cz, C3 or C4"


def test_train_adhd_cli_from_manifest(tmp_path):
    import mne

    rows = []
    for i in range(8):
        label = "adhd" if i % 2 else "control"
        x = _eeg(CH19, 40.0, 128.0, alpha=8.0 if label == "adhd" else 10.5, seed=i)
        f = tmp_path / f"child{i}_raw.fif"
        mne.io.RawArray(x, mne.create_info(CH19, 128.0, "eeg"), verbose="error").save(f, verbose="error")
        rows.append({"path": f.name, "label": label, "subject": f"c{i}"})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    out = tmp_path / "model"
    cmd = [sys.executable, "-m", "dbrain", "train", "adhd", str(tmp_path / "manifest.csv"), "--out", str(out), "--repeats", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["screen"] == "adhd" and m["nested_cv"]["n_subjects"] == 8 and m["n_train"]["positive"] == 4
    assert ADHDScreen.load(out).features_


def _child_raw(x, sfreq=128.0):
    import mne

    return mne.io.RawArray(x, mne.create_info(CH19, sfreq, "eeg"), verbose="error")


def _adhd_probability(raw, screen):
    """The probability the way the diagnosis step computes it (first 60 s, rescaled to the model's scale)."""
    from dbrain.diagnosis import recording_features

    scale = screen.applicability_["scale_to_uv"]
    fa = recording_features(raw, max_duration=60.0, network=False, scale_to_uv=scale, candidates=True)
    res = screen.assess(fa.to_frame(), age=9)[0]
    assert res["status"] == "ok", res
    return res["probability"], fa.values


def test_probability_does_not_depend_on_amplitude_scale_or_recording_length():
    screen = ADHDScreen.load()
    x = _eeg(CH19, 150.0, 128.0, seed=3)
    p, v = _adhd_probability(_child_raw(x), screen)
    for factor in (10.0, 0.1):
        q, w = _adhd_probability(_child_raw(x * factor), screen)
        assert abs(q - p) < 1e-6, (factor, p, q)
        assert abs(w["amplitude_uv"] / v["amplitude_uv"] - factor) < 1e-6  # the descriptor moves, the screen does not
    # only the first 60 s are read: what follows (the child's speed sets the length) cannot change the probability
    q, _ = _adhd_probability(_child_raw(x[:, : 60 * 128]), screen)
    assert abs(q - p) < 1e-9


def test_real_child_probability_is_scale_free(shared_data):
    """The same on a real child of the training set (int16 values on a coarse grid, units unknown)."""
    f = shared_data / "developmental" / "adhd-children" / "adhd_children_128hz.npz"
    with np.load(f) as z:
        x = z["eeg_v108"][:, : 90 * 128].astype(float) * 1e-6
    screen = ADHDScreen.load()
    p, _ = _adhd_probability(_child_raw(x), screen)
    for factor in (10.0, 0.1):
        q, _ = _adhd_probability(_child_raw(x * factor), screen)
        assert abs(q - p) < 1e-6, (factor, p, q)


def test_theta_beta_variants_share_the_feature_path():
    from dbrain.diagnosis import theta_beta_ratio
    from dbrain.errors import ParameterError

    sf, n = 128.0, 256
    t = np.arange(n) / sf
    rng = np.random.default_rng(1)
    ch = ["Fz", "C3", "Cz", "C4"]
    ep = rng.standard_normal((6, 4, n)) * 1e-6
    ep[:, 0] += 20e-6 * np.sin(2 * np.pi * 6.0 * t)  # theta at Fz only
    feat = compute_features(ep, sf, ch, network=False, aperiodic=False).values["theta_beta_ratio"]
    assert abs(theta_beta_ratio(ep, sf, ch) - feat) < 1e-12  # the default is the feature's definition (Cz, 4-8/13-21)
    assert theta_beta_ratio(ep, sf, ch, site=("Fz",)) > 10 * feat
    wide = theta_beta_ratio(ep, sf, ch, beta=(13.0, 30.0))
    assert wide < feat  # more beta power in the denominator
    assert np.isnan(theta_beta_ratio(ep, sf, ch, site=("Pz",)))
    with np.testing.assert_raises(ParameterError):
        theta_beta_ratio(ep, sf, ch, beta=(21.0, 13.0))


def test_shipped_card_holds_the_confound_check():
    """The shipped model reads no descriptor, and its card's subject-wise check says duration does not drive it."""
    from pathlib import Path

    import dbrain.diagnosis as diag

    folder = Path(diag.__file__).parent / "models" / "adhd"
    m = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    screen = ADHDScreen.load(folder)
    assert not {"amplitude_uv", "duration_s", "clean_seconds", "n_channels"} & set(screen.features_)
    assert screen.applicability_["band_hz"] == m["band_hz"]
    conf = m["confounds"]
    assert set(conf) >= {"duration_s", "clean_seconds", "n_channels", "amplitude_uv", "amplitude_1_40", "slow_excess"}
    for col in ("duration_s", "clean_seconds"):
        # within each group: over all children any screen that separates the groups follows duration (it differs by group)
        rho = conf[col]["spearman_screen"]
        assert max(abs(rho["control"]), abs(rho["adhd"])) < 0.3, col
    # the decision rule ran in the same run, against the baseline's spread over repeats
    d = m["decision"]
    assert d["ship_new"] == (d["margin_over_baseline"] > d["spread_over_repeats"] and d["new_mean"] > d["current_mean"])
    for col in ("amplitude_uv", "amplitude_1_40", "slow_excess"):
        assert len(conf[col]["residualised_auroc_per_repeat"]) == m["nested_cv"]["repeats"]
        assert len(conf[col]["strata_auroc_screen"]) == 3
    # the leaky window-wise figure sits beside the subject-wise one, and the baseline ran in the same run
    assert m["leaky_windows"]["auroc_pooled_mean"] > m["subject_wise_windows"]["auroc_pooled_mean"]
    assert len(m["baseline_auroc_per_repeat"]) == m["nested_cv"]["repeats"]
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "LEAKY" in card and "residualised in the training folds" in card and "NEBA" in card


@pytest.mark.slow
def test_train_adhd_reproduces_the_shipped_model(shared_data, tmp_path):
    """`dbrain train adhd` on the shipped model's training children gives the shipped model (features, coefficients,
    calibration, bootstrap, norms) and the same probabilities."""
    import mne

    from dbrain.channels import normalize_label

    f = shared_data / "developmental" / "adhd-children" / "adhd_children_128hz.npz"
    rows = []
    with np.load(f) as z:
        ch = [normalize_label(str(c)).name for c in z["channels"]]
        sf = float(z["sfreq"])
        for sub, grp in zip(z["subject"], z["group"], strict=True):
            # the first 60 s are all the screen reads; 'double' keeps the values the training script used exactly
            x = z[f"eeg_{sub}"][:, : int(60 * sf)].astype(float) * 1e-6
            path = tmp_path / f"{sub}_raw.fif"
            raw = mne.io.RawArray(x, mne.create_info(ch, sf, "eeg"), verbose="error")
            raw.save(path, fmt="double", verbose="error")
            rows.append({"path": path.name, "label": str(grp), "subject": str(sub)})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    out = tmp_path / "model"
    cmd = [sys.executable, "-m", "dbrain", "train", "adhd", str(tmp_path / "manifest.csv"), "--out", str(out), "--repeats", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    mine, shipped = ADHDScreen.load(out), ADHDScreen.load()
    assert mine.features_ == shipped.features_ and mine.feature_set_ == shipped.feature_set_
    assert mine.feature_set_scores_ == pytest.approx(shipped.feature_set_scores_, abs=1e-12)
    assert mine.model_ == shipped.model_ and mine.n_train_ == shipped.n_train_
    assert mine.threshold_ == shipped.threshold_
    for key in ("median", "mean", "scale", "coef"):
        np.testing.assert_allclose(mine.params_[key], shipped.params_[key], rtol=1e-9, atol=1e-12)
    for key in ("intercept", "a", "b"):
        assert abs(mine.params_[key] - shipped.params_[key]) < 1e-9, key
    assert len(mine.bootstrap_) == len(shipped.bootstrap_)
    for a, b in zip(mine.bootstrap_, shipped.bootstrap_, strict=True):
        np.testing.assert_allclose(a["coef"], b["coef"], rtol=1e-9, atol=1e-12)
    for key in ("mean_log", "sd_log", "n_controls"):
        assert abs(mine.applicability_["theta_beta_norms"][key] - shipped.applicability_["theta_beta_norms"][key]) < 1e-9
    for key in ("scale_to_uv", "band_hz", "age_limits", "age_trained"):
        assert mine.applicability_[key] == shipped.applicability_[key], key
    X = pd.read_parquet(out / "features.parquet")
    np.testing.assert_allclose(mine.predict_proba(X)[:, 1], shipped.predict_proba(X)[:, 1], rtol=0, atol=1e-9)
    a = [r for r in mine.assess(X, age=9) if r["status"] == "ok"]
    b = [r for r in shipped.assess(X, age=9) if r["status"] == "ok"]
    assert len(a) == len(b) == mine.n_train_["recordings"]
    for ra, rb in zip(a, b, strict=True):
        assert abs(ra["probability"] - rb["probability"]) < 1e-9
        np.testing.assert_allclose(ra["interval"], rb["interval"], atol=1e-9)


def test_candidate_features_are_scale_free_and_follow_the_feature_row():
    from scipy.signal import butter, sosfiltfilt

    from dbrain.diagnosis import adhd_candidate_features
    from dbrain.diagnosis._adhd import CANDIDATE_COLUMNS

    sf, n = 128.0, 256
    rng = np.random.default_rng(2)
    noise = rng.standard_normal((12, len(CH19), n))
    # a beta-band source seen at Cz and, one sample later, at Pz: lagged coupling (37-84 degrees across 13-30 Hz)
    src = sosfiltfilt(butter(4, [13.0, 30.0], btype="band", fs=sf, output="sos"), rng.standard_normal((12, n + 1)))
    src *= 3.0 / src.std()
    ep = noise.copy()
    cz, pz = CH19.index("Cz"), CH19.index("Pz")
    ep[:, cz] += src[:, 1:]
    ep[:, pz] += src[:, :-1]
    ep, noise = ep * 1e-6, noise * 1e-6
    a = adhd_candidate_features(ep, sf, CH19)
    b = adhd_candidate_features(ep * 37.0, sf, CH19)
    assert set(a) == set(CANDIDATE_COLUMNS)
    for k in CANDIDATE_COLUMNS:
        assert np.isnan(a[k]) == np.isnan(b[k]) and (np.isnan(a[k]) or abs(a[k] - b[k]) < 1e-6 * max(1.0, abs(a[k]))), k
    plain = adhd_candidate_features(noise, sf, CH19)
    assert a["wpli_beta_frontal"] == plain["wpli_beta_frontal"]  # no frontal channel changed
    assert a["wpli_beta_centroparietal"] > plain["wpli_beta_centroparietal"] + 0.03  # one of its 15 pairs is coupled
    row = compute_features(ep, sf, CH19, network=False, aperiodic=False, candidates=True)
    frame = row.to_frame()
    assert list(frame.columns[-len(CANDIDATE_COLUMNS) :]) == list(CANDIDATE_COLUMNS)
    assert abs(frame["wpli_beta_centroparietal"].iloc[0] - a["wpli_beta_centroparietal"]) < 1e-12
    empty = compute_features(np.empty((0, len(CH19), n)), sf, CH19, network=False, candidates=True)
    assert empty.missing["wpli_beta_frontal"] == "no clean EEG" and "wpli_beta_frontal" in empty.to_frame().columns


def test_screen_chooses_its_feature_set_on_the_training_children():
    rng = np.random.default_rng(0)
    n = 60
    y = np.repeat([0, 1], n // 2)
    X = pd.DataFrame({"clean_seconds": 60.0, "n_channels": 19.0}, index=range(n))
    X["signal"] = y + rng.normal(0, 0.7, n)
    X["noise_a"], X["noise_b"] = rng.normal(size=n), rng.normal(size=n)
    sets = {"noise": ["noise_a", "noise_b"], "signal": ["signal", "noise_a"]}
    screen = ADHDScreen(feature_sets=sets, n_bootstrap=2).fit(X, y, np.arange(n))
    assert screen.feature_set_ == "signal" and screen.features_ == ["signal", "noise_a"]
    assert screen.feature_set_scores_["signal"] > screen.feature_set_scores_["noise"]
    again = ADHDScreen.from_dict(json.loads(json.dumps(screen.to_dict())))
    assert again.feature_set_ == "signal"
    np.testing.assert_allclose(again.predict_proba(X)[:, 1], screen.predict_proba(X)[:, 1])


def test_multitaper_connectivity_matches_mne_connectivity():
    """The candidate features' wPLI and coherence are mne-connectivity's definitions, without the runtime dependency."""
    mne_connectivity = pytest.importorskip("mne_connectivity")
    from dbrain.diagnosis._adhd import _multitaper_connectivity

    rng = np.random.default_rng(0)
    ep = rng.standard_normal((9, 6, 256))
    ep[:, 1] += 0.5 * np.roll(ep[:, 0], 1, axis=-1)  # a lagged coupling, so wPLI is not only noise
    bands = [(4.0, 8.0), (8.0, 13.0), (13.0, 30.0)]
    wpli, coh = _multitaper_connectivity(ep, 128.0, bands)
    cons = mne_connectivity.spectral_connectivity_epochs(
        ep,
        method=["wpli2_debiased", "coh"],
        sfreq=128.0,
        mode="multitaper",
        fmin=[b[0] for b in bands],
        fmax=[b[1] for b in bands],
        faverage=True,
        verbose="error",
    )
    low = np.tril_indices(6, -1)
    for mine, con in ((wpli, cons[0]), (coh, cons[1])):
        ref = con.get_data(output="dense")
        for k in range(len(bands)):
            np.testing.assert_allclose(mine[k][low], ref[:, :, k][low], atol=1e-12)
    assert wpli[2][1, 0] > 0.3  # the coupled pair
