import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from dbrain.diagnosis import (
    FEATURES,
    INSUFFICIENT,
    DementiaScreen,
    EpilepsyScreen,
    nested_cross_validate,
    reliability,
    subject_folds,
    write_model,
)
from dbrain.errors import ParameterError

#: A small feature subset and grid (two logistic candidates, one small LightGBM candidate) keep these tests fast.
FAST = {
    "features": list(FEATURES[:12]) + ["alpha_peak", "theta_alpha_ratio", "aperiodic_exponent"],
    "C_grid": (0.1, 1.0),
    "lgbm_grid": ({"num_leaves": 2, "n_estimators": 30, "learning_rate": 0.1, "min_child_samples": 3},),
}


def _table(n_subjects=40, per_subject=2, seed=0, shift=1.5):
    """Synthetic feature rows; several recordings per subject, label per subject."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        label = int(s % 3 != 0)  # imbalanced, 2:1
        base = rng.standard_normal(80)[: len(FEATURES)]  # a fixed-size draw: adding a feature keeps the data
        for _ in range(per_subject):
            v = base + 0.3 * rng.standard_normal(80)[: len(FEATURES)]
            v[FEATURES.index("alpha_peak")] = 10.0 - shift * label + rng.normal(0, 0.5)
            v[FEATURES.index("theta_alpha_ratio")] = 0.5 + shift * label * 0.5 + rng.normal(0, 0.3)
            v[FEATURES.index("clean_seconds")] = 60.0
            v[FEATURES.index("n_channels")] = 19.0
            rows.append({"subject": f"s{s}", "label": label, **dict(zip(FEATURES, v, strict=True))})
    X = pd.DataFrame(rows)
    X.loc[X.index[::7], "aperiodic_exponent"] = np.nan  # missing values are imputed
    return X


def test_subject_folds_never_share_a_subject():
    X = _table(n_subjects=30, per_subject=3)
    for seed in range(3):
        folds = subject_folds(X["label"], X["subject"], 5, seed)
        seen = []
        for tr, te in folds:
            assert not set(X["subject"].iloc[tr]) & set(X["subject"].iloc[te])
            seen.extend(te)
        assert sorted(seen) == list(range(len(X)))  # a partition


def test_nested_cv_is_subject_wise_and_reports_spread():
    X = _table(n_subjects=24)
    res = nested_cross_validate(DementiaScreen(min_clean_seconds=4.0, **FAST), X, X["label"], X["subject"], repeats=2)
    oof = res["oof"]
    # per repeat every subject is scored exactly once, always with all its recordings in one test fold
    for _, g in oof.groupby("repeat"):
        assert g.groupby("subject")["fold"].nunique().max() == 1
        assert len(g) == len(X)
    assert res["pooled"]["auroc"] > 0.8 and 0 <= res["pooled"]["brier"] < 0.25
    assert res["spread"]["balanced_accuracy"]["sd"] >= 0
    assert len(res["folds"]) == 10 and sum(b["n"] for b in res["reliability"]) == 2 * len(X)


def test_fit_predict_insufficient_and_roundtrip(tmp_path):
    X = _table(n_subjects=24)
    screen = EpilepsyScreen(n_bootstrap=5, **FAST).fit(X, X["label"], X["subject"])
    assert screen.model_ in {c[0] for c in screen._candidates()} and 0 < screen.threshold_ < 1
    assert (screen.C_ in screen.C_grid) if screen.candidate_["kind"] == "logistic" else screen.C_ is None
    assert screen.features_ == FAST["features"]
    proba = screen.predict_proba(X)
    assert np.all((proba >= 0) & (proba <= 1)) and np.allclose(proba.sum(1), 1)
    short = X.head(3).copy()
    short["clean_seconds"] = [5.0, 60.0, 10.0]
    pred = screen.predict(short)
    assert pred[0] == INSUFFICIENT and pred[2] == INSUFFICIENT and pred[1] in (0, 1)
    assert np.isnan(screen.predict_proba(short)[0, 1])
    res = screen.assess(short)
    assert res[0]["outcome"] == "insufficient data" and res[0]["probability"] is None
    assert res[1]["outcome"] in ("positive", "negative")
    lo, hi = res[1]["interval"]
    assert lo <= hi and len(res[1]["drivers"]) == 5
    assert res[1]["drivers"][0]["feature"] in ("alpha_peak", "theta_alpha_ratio")
    loaded = EpilepsyScreen.load(screen.save(tmp_path / "model.json"))
    assert np.allclose(loaded.predict_proba(X), proba)
    assert clone(screen).get_params() == screen.get_params()
    with pytest.raises(ParameterError, match="not a DementiaScreen model"):
        DementiaScreen.load(tmp_path / "model.json")


def test_bad_input():
    X = _table(n_subjects=12)
    with pytest.raises(ParameterError, match="DataFrame"):
        DementiaScreen().fit(X[list(FEATURES)].to_numpy(), X["label"])
    with pytest.raises(ParameterError, match="C_grid"):
        DementiaScreen(C_grid=(0.0,)).fit(X, X["label"], X["subject"])
    with pytest.raises(ParameterError, match="lacks feature columns"):
        DementiaScreen(n_bootstrap=0, **FAST).fit(X, X["label"], X["subject"]).predict(X.drop(columns="alpha_peak"))
    with pytest.raises(ParameterError, match="at least 2 subjects of each class"):
        subject_folds([0, 1, 1], ["a", "b", "c"], 5)


def test_reliability_bins():
    bins = reliability([0, 0, 1, 1], [0.1, 0.15, 0.85, 0.95], n_bins=5)
    assert [b["n"] for b in bins] == [2, 2] and bins[1]["fraction_positive"] == 1.0


def test_shipped_models_load_and_cards_report_cv():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "models"
    for cls, name in ((DementiaScreen, "dementia"), (EpilepsyScreen, "epilepsy")):
        screen = cls.load()
        row = pd.DataFrame([dict.fromkeys(FEATURES, np.nan) | {"clean_seconds": 60.0}])
        p = screen.predict_proba(row)[0, 1]  # all features missing: imputed medians, still a probability
        assert 0 <= p <= 1
        card = (root / name / "MODEL_CARD.md").read_text()
        assert "Nested subject-wise cross-validation" in card and "balanced_accuracy" in card and "Cross-cohort" in card


def test_write_model_smoke(tmp_path):
    X = _table(n_subjects=15, per_subject=1)
    m = write_model(
        DementiaScreen(n_bootstrap=2, **FAST), X, X["label"], X["subject"], tmp_path / "m", cohort="synthetic", repeats=1
    )
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {"model.json", "metrics.json", "MODEL_CARD.md", "features.parquet"}
    assert m["nested_cv"]["n_subjects"] == 15
