"""The LightGBM candidate of the screens: inner choice, calibration, storage, subject-wise folds."""

import json

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV

from dbrain.diagnosis import DementiaScreen, EpilepsyScreen, _screens, nested_cross_validate, subject_folds
from dbrain.diagnosis._screens import _lgbm, _pipeline
from dbrain.diagnosis.tests.test_screens import FAST, _table
from dbrain.errors import ParameterError

LGBM = FAST["lgbm_grid"][0]
ONLY_LGBM = {"features": FAST["features"], "C_grid": (), "lgbm_grid": (LGBM,)}


def test_lightgbm_candidate_matches_sklearn_calibration_and_roundtrips(tmp_path):
    X = _table(n_subjects=30)
    y, g = X["label"].to_numpy(), X["subject"].to_numpy()
    screen = EpilepsyScreen(n_bootstrap=3, **ONLY_LGBM).fit(X, y, g)
    assert screen.candidate_["kind"] == "lightgbm" and screen.C_ is None
    assert screen.model_.startswith("lightgbm") and set(screen.inner_scores_) == {screen.model_}
    # the stored booster + Platt map give exactly what scikit-learn's calibrated model gives
    Xm = X[screen.features_].to_numpy(float)
    ref = CalibratedClassifierCV(
        _lgbm(LGBM, screen.random_state), method="sigmoid", cv=subject_folds(y, g, screen.inner_folds, 0), ensemble=False
    ).fit(Xm, y)
    assert np.allclose(screen.predict_proba(X)[:, 1], ref.predict_proba(Xm)[:, 1], atol=1e-12)
    # plain JSON with the LightGBM text model inside: no pickle, loads offline
    path = screen.save(tmp_path / "model.json")
    data = json.loads(path.read_text())
    assert data["format"] == "dbrain-screen-platt-2" and data["model"]["kind"] == "lightgbm"
    assert data["model"]["lightgbm_model"].startswith("tree\n") and len(data["bootstrap"]) == 3
    loaded = EpilepsyScreen.load(path)
    assert np.allclose(loaded.predict_proba(X), screen.predict_proba(X))
    res = loaded.assess(X.head(2))
    assert res[0]["model_choice"] == screen.model_ and len(res[0]["drivers"]) == 5
    lo, hi = res[0]["interval"]
    assert lo <= hi
    # TreeSHAP drivers: the informative features come first, and the direction follows the probability
    assert res[0]["drivers"][0]["feature"] in ("alpha_peak", "theta_alpha_ratio")
    bump = X.head(1).copy()
    top = res[0]["drivers"][0]
    bump[top["feature"]] = X[top["feature"]].max() if top["contribution"] > 0 else X[top["feature"]].min()
    assert loaded.predict_proba(bump)[0, 1] >= loaded.predict_proba(X.head(1))[0, 1] - 1e-9


def test_inner_choice_picks_the_best_inner_auroc_and_prefers_logistic_on_ties():
    X = _table(n_subjects=30)
    screen = DementiaScreen(n_bootstrap=0, **FAST).fit(X, X["label"], X["subject"])
    best = max(screen.inner_scores_.values())
    assert screen.inner_scores_[screen.model_] == best
    labels = [c[0] for c in screen._candidates()]
    assert labels[0].startswith("logistic") and labels[-1].startswith("lightgbm")
    # the first candidate reaching the best score wins (logistic by increasing C first)
    assert screen.model_ == next(lab for lab in labels if screen.inner_scores_[lab] >= best - 1e-12)


def test_nested_cv_with_lightgbm_never_lets_a_test_subject_into_training(monkeypatch):
    """Every fold split (outer and inner, every candidate) is subject-disjoint, and no outer test subject reaches fit."""
    X = _table(n_subjects=24, per_subject=2)
    splits = []
    real_folds = _screens.subject_folds

    def spy_folds(y, groups, n_splits, random_state=0):
        folds = real_folds(y, groups, n_splits, random_state)
        groups = np.asarray(groups)
        for tr, te in folds:
            splits.append(set(groups[tr]) & set(groups[te]))
        return folds

    fitted_groups = []
    real_fit = _screens._Screen.fit

    def spy_fit(self, X, y, groups=None):
        fitted_groups.append(set(np.asarray(groups)))
        return real_fit(self, X, y, groups)

    monkeypatch.setattr(_screens, "subject_folds", spy_folds)
    monkeypatch.setattr("dbrain.diagnosis._evaluate.subject_folds", spy_folds)
    monkeypatch.setattr(_screens._Screen, "fit", spy_fit)
    for params in (FAST, ONLY_LGBM):
        splits.clear()
        fitted_groups.clear()
        res = nested_cross_validate(DementiaScreen(**params), X, X["label"], X["subject"], repeats=2)
        assert splits and all(not shared for shared in splits)  # outer folds, inner choice and calibration folds
        oof = res["oof"]
        tests = [set(g["subject"]) for _, g in oof.groupby(["repeat", "fold"], sort=True)]
        assert len(tests) == len(fitted_groups) == len(res["folds"])
        for train_subjects, test_subjects in zip(fitted_groups, tests, strict=True):
            assert not train_subjects & test_subjects
        assert sum(res["chosen_model"].values()) == len(res["folds"])
        assert set(res["inner_auroc"]) == {c[0] for c in DementiaScreen(**params)._candidates()}
    assert res["chosen_model"] == {DementiaScreen(**ONLY_LGBM)._candidates()[0][0]: len(res["folds"])}
    assert all(f["model"].startswith("lightgbm") and f["C"] is None for f in res["folds"])


def test_logistic_only_format_1_files_still_load(tmp_path):
    X = _table(n_subjects=20)
    screen = DementiaScreen(n_bootstrap=2, features=FAST["features"], C_grid=(0.1,), lgbm_grid=()).fit(
        X, X["label"], X["subject"]
    )
    data = screen.to_dict()
    old = {k: v for k, v in data.items() if k not in ("model_choice", "candidate")}
    old["format"] = "dbrain-logistic-platt-1"
    old["params"] = {k: v for k, v in data["params"].items() if k != "lgbm_grid"}
    for p in [old["model"], *old["bootstrap"]]:
        p.pop("kind")
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = DementiaScreen.load(tmp_path / "old.json")
    assert loaded.lgbm_grid == () and loaded.model_ == "logistic C=0.1"
    assert np.allclose(loaded.predict_proba(X), screen.predict_proba(X))


def test_candidate_validation():
    X = _table(n_subjects=12)
    with pytest.raises(ParameterError, match="no candidate model"):
        DementiaScreen(C_grid=(), lgbm_grid=()).fit(X, X["label"], X["subject"])
    with pytest.raises(ParameterError, match="lgbm_grid must hold dicts"):
        DementiaScreen(lgbm_grid=({"boosting": "dart"},)).fit(X, X["label"], X["subject"])
    with pytest.raises(ParameterError, match="not distinct"):
        DementiaScreen(C_grid=(0.1,), lgbm_grid=(LGBM, dict(LGBM))).fit(X, X["label"], X["subject"])
    assert _pipeline(0.1).named_steps["logistic"].C == 0.1
