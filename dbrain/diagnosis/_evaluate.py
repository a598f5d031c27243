"""Nested, subject-wise cross-validation of a screen, with calibration summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ParameterError
from ..utils.check import _check_range
from ._screens import subject_folds


def _metrics(y, p, threshold):
    from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score

    pred = (p > threshold).astype(int)
    both = len(np.unique(y)) == 2
    pos, neg = y == 1, y == 0
    return {
        "n": int(len(y)),
        "n_positive": int(pos.sum()),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if both else None,
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "sensitivity": float(pred[pos].mean()) if pos.any() else None,
        "specificity": float(1 - pred[neg].mean()) if neg.any() else None,
        "brier": float(brier_score_loss(y, p, pos_label=1)) if len(y) else None,
    }


def reliability(y, p, n_bins: int = 5) -> list[dict]:
    """Reliability (calibration) curve in equal-width bins of the predicted probability.

    Parameters
    ----------
    y : array-like of int
        True labels (0/1).
    p : array-like of float
        Predicted probabilities of class 1.
    n_bins : int
        Number of bins of width ``1 / n_bins`` (empty bins are left out).

    Returns
    -------
    bins : list of dict
        Per bin: ``p_low``, ``p_high``, ``mean_predicted``, ``fraction_positive``, ``n``.
    """
    y, p = np.asarray(y, int), np.asarray(p, float)
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    out = []
    for k in range(len(edges) - 1):
        m = idx == k
        if m.any():
            out.append(
                {
                    "p_low": float(edges[k]),
                    "p_high": float(edges[k + 1]),
                    "mean_predicted": float(p[m].mean()),
                    "fraction_positive": float(y[m].mean()),
                    "n": int(m.sum()),
                }
            )
    return out


def nested_cross_validate(
    screen, X: pd.DataFrame, y, groups, *, outer_folds: int = 5, repeats: int = 3, random_state: int = 0
) -> dict:
    """Nested cross-validation with subject-wise outer and inner folds.

    The outer folds (stratified, grouped by subject) give the reported
    numbers; inside each outer training set the screen chooses its model
    (a logistic ``C`` or a LightGBM configuration) and calibrates it on its own
    subject-grouped inner folds, so no test subject ever influences the model
    that scores it. The outer split is repeated with different shuffles.

    Parameters
    ----------
    screen : DementiaScreen | EpilepsyScreen
        Unfitted screen (cloned per fold; bootstrap intervals are switched off).
    X : pandas.DataFrame
        Feature rows.
    y : array-like of int
        Labels (0/1).
    groups : array-like
        Subject of each row.
    outer_folds : int
        Outer folds.
    repeats : int
        Repetitions of the outer split.
    random_state : int
        Seed.

    Returns
    -------
    result : dict
        ``pooled`` (metrics over all out-of-fold predictions of all repeats),
        ``folds`` (metrics per fold), ``spread`` (mean, SD, min, max per metric
        over folds), ``reliability``, ``chosen_model`` (how often each
        candidate won the inner choice), ``inner_auroc`` (per candidate: mean,
        min and max over outer folds of its inner out-of-fold AUROC),
        ``n_subjects`` and ``oof`` (a DataFrame: repeat, fold, subject,
        label, probability, threshold).
    """
    _check_range("repeats", repeats, 1, 100)
    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    if len(y) != len(X) or len(groups) != len(X):
        raise ParameterError("X, y and groups must have the same length.")
    ok = screen.usable(X)
    X, y, groups = X.loc[ok].reset_index(drop=True), y[ok], groups[ok]
    rows, folds, chosen, inner = [], [], {}, {}
    for r in range(int(repeats)):
        for k, (tr, te) in enumerate(subject_folds(y, groups, outer_folds, random_state + r)):
            if set(groups[tr]) & set(groups[te]):  # cannot happen with grouped folds; guard the guarantee
                raise RuntimeError("a subject is in both the training and the test fold")
            est = clone(screen).set_params(n_bootstrap=0, random_state=random_state + r)
            est.fit(X.iloc[tr], y[tr], groups[tr])
            p = est.predict_proba(X.iloc[te])[:, 1]
            chosen[est.model_] = chosen.get(est.model_, 0) + 1
            for label, auc in est.inner_scores_.items():
                inner.setdefault(label, []).append(auc)
            m = _metrics(y[te], p, est.threshold_) | {
                "repeat": r,
                "fold": k,
                "model": est.model_,
                "C": est.C_,
                "threshold": est.threshold_,
                "inner_auroc": dict(est.inner_scores_),
            }
            if getattr(est, "feature_set_", None):  # a screen that chooses its feature set on the training fold
                m["feature_set"] = est.feature_set_
            folds.append(m)
            rows.append(
                pd.DataFrame(
                    {"repeat": r, "fold": k, "subject": groups[te], "label": y[te], "probability": p, "threshold": est.threshold_}
                )
            )
    oof = pd.concat(rows, ignore_index=True)
    pooled = [
        _metrics(g["label"].to_numpy(), g["probability"].to_numpy(), g["threshold"].to_numpy()) for _, g in oof.groupby("repeat")
    ]
    keys = ("balanced_accuracy", "auroc", "sensitivity", "specificity", "brier")
    spread = {}
    for key in keys:
        v = np.array([f[key] for f in folds if f[key] is not None], float)
        spread[key] = {
            "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()),
            "max": float(v.max()),
        }
    pooled_mean = {key: float(np.mean([p[key] for p in pooled])) for key in keys}
    pooled_sd = {key: float(np.std([p[key] for p in pooled], ddof=1)) if len(pooled) > 1 else 0.0 for key in keys}
    return {
        "n_recordings": int(len(y)),
        "n_subjects": int(len(np.unique(groups))),
        "n_positive_subjects": int(len(np.unique(groups[y == 1]))),
        "n_excluded_insufficient": int((~ok).sum()),
        "outer_folds": int(len(folds) // repeats),
        "repeats": int(repeats),
        "pooled": pooled_mean,
        "pooled_sd_over_repeats": pooled_sd,
        "spread": spread,
        "folds": folds,
        "reliability": reliability(oof["label"], oof["probability"]),
        "chosen_model": {label: chosen.get(label, 0) for label in inner},
        "inner_auroc": {
            label: {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v))} for label, v in inner.items()
        },
        "oof": oof,
    }
