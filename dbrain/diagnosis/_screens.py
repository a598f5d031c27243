"""Calibrated screening models: :class:`DementiaScreen` and :class:`EpilepsyScreen`.

Both are the same model on different data: median imputation, standardisation
and an L2 logistic regression with balanced class weights, its ``C`` chosen
from a small grid by subject-grouped inner cross-validation (AUROC), then
Platt-calibrated (:class:`sklearn.calibration.CalibratedClassifierCV`,
``method="sigmoid"``, ``ensemble=False``) on out-of-fold scores of the same
subject-grouped inner folds. A linear model is the deliberate choice for
cohorts of 65-88 people: its coefficients can be shown, stored as JSON and
read by anyone.

The decision threshold is the training prevalence of the positive class: a
calibrated probability above it means the EEG is more typical of the
positive class than the base rate (likelihood ratio > 1). Probability
intervals are the 5th-95th percentiles over models refitted on bootstrap
resamples of the training subjects. Recordings with fewer than
``min_clean_seconds`` of clean EEG get no probability (NaN) and the outcome
"insufficient data".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ParameterError
from ..utils.check import _check_range
from ._features import FEATURES

#: ``predict`` value of a recording with too little clean EEG.
INSUFFICIENT = -1

#: Outcome strings of :meth:`DementiaScreen.assess`.
OUTCOMES = ("positive", "negative", "insufficient data")

_MODELS = Path(__file__).parent / "models"
_DEFAULT_FEATURES = tuple(f for f in FEATURES if f not in ("clean_seconds", "n_channels"))


def subject_folds(y, groups, n_splits: int, random_state: int = 0):
    """Stratified folds that keep every subject in one fold.

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Labels (0/1).
    groups : array-like, shape (n_samples,)
        Subject (person) of each sample; identical recordings must share one.
    n_splits : int
        Number of folds (reduced to the size of the smaller class when needed).
    random_state : int
        Seed of the shuffle.

    Returns
    -------
    folds : list of (numpy.ndarray, numpy.ndarray)
        ``(train_index, test_index)`` pairs.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    n_min = min(len(np.unique(groups[y == c])) for c in (0, 1))
    k = min(int(n_splits), n_min)
    if k < 2:
        raise ParameterError(f"need at least 2 subjects of each class for {n_splits} folds, got {n_min}.")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    return list(cv.split(np.zeros(len(y)), y, groups))


def _matrix(X, features):
    if isinstance(X, pd.DataFrame):
        miss = [f for f in features if f not in X.columns]
        if miss:
            raise ParameterError(f"X lacks feature columns {miss[:5]}{' ...' if len(miss) > 5 else ''}.")
        return X[list(features)].to_numpy(float)
    X = np.asarray(X, float)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise ParameterError(f"X must be a DataFrame or an array with {len(features)} columns, got shape {X.shape}.")
    return X


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _apply(p, X):
    """Calibrated probability of the positive class under one parameter set ``p``."""
    Z = np.where(np.isnan(X), p["median"], X)
    Z = (Z - p["mean"]) / p["scale"]
    f = Z @ p["coef"] + p["intercept"]
    return _sigmoid(-(p["a"] * f + p["b"])), Z


class _Screen(ClassifierMixin, BaseEstimator):
    _name = "screen"
    _positive = "positive"

    def __init__(
        self,
        *,
        features=None,
        C_grid=(0.01, 0.1, 1.0),
        inner_folds: int = 4,
        min_clean_seconds: float = 4.0,
        n_bootstrap: int = 30,
        random_state: int = 0,
    ):
        self.features = features
        self.C_grid = C_grid
        self.inner_folds = inner_folds
        self.min_clean_seconds = min_clean_seconds
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------------

    def _fit_once(self, X, y, groups, C, seed):
        from sklearn.calibration import CalibratedClassifierCV

        folds = subject_folds(y, groups, self.inner_folds, seed)
        cal = CalibratedClassifierCV(_pipeline(C), method="sigmoid", cv=folds, ensemble=False).fit(X, y)
        cc = cal.calibrated_classifiers_[0]
        pipe, calib = cc.estimator, cc.calibrators[0]
        imp, sc, lr = pipe.named_steps["impute"], pipe.named_steps["scale"], pipe.named_steps["logistic"]
        return {
            "median": imp.statistics_.astype(float),
            "mean": sc.mean_.astype(float),
            "scale": sc.scale_.astype(float),
            "coef": lr.coef_[0].astype(float),
            "intercept": float(lr.intercept_[0]),
            "a": float(calib.a_),
            "b": float(calib.b_),
        }

    def _choose_C(self, X, y, groups):
        from sklearn.metrics import roc_auc_score

        folds = subject_folds(y, groups, self.inner_folds, self.random_state)
        scores = {}
        for C in self.C_grid:
            oof = np.zeros(len(y))
            for tr, te in folds:
                oof[te] = _pipeline(C).fit(X[tr], y[tr]).decision_function(X[te])
            scores[float(C)] = float(roc_auc_score(y, oof))
        best = max(scores.values())
        return min(C for C, s in scores.items() if s >= best - 1e-12), scores

    def fit(self, X, y, groups=None):
        """Fit, choose ``C``, calibrate and bootstrap the screen.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per recording with the :data:`FEATURES` columns
            (``clean_seconds`` among them).
        y : array-like of int, shape (n_recordings,)
            1 = the screened condition, 0 = control.
        groups : array-like | None
            Subject of each row for the grouped inner folds; every row its own
            subject when None.

        Returns
        -------
        self : object
            The fitted screen.
        """
        if not isinstance(X, pd.DataFrame):
            raise ParameterError("X must be a pandas.DataFrame of diagnosis features (dbrain.diagnosis.FEATURES).")
        _check_range("min_clean_seconds", self.min_clean_seconds, 0.0, None)
        _check_range("n_bootstrap", self.n_bootstrap, 0, 1000)
        if not len(self.C_grid) or any(float(c) <= 0 for c in self.C_grid):
            raise ParameterError(f"C_grid must hold positive numbers, got {self.C_grid!r}.")
        y = np.asarray(y).astype(int)
        if len(y) != len(X) or set(np.unique(y)) - {0, 1}:
            raise ParameterError("y must hold one 0/1 label per row of X.")
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if "clean_seconds" not in X.columns:
            raise ParameterError("X lacks the 'clean_seconds' column.")
        ok = X["clean_seconds"].to_numpy(float) >= self.min_clean_seconds
        self.n_insufficient_ = int((~ok).sum())
        Xf, y, groups = X.loc[ok], y[ok], groups[ok]
        cand = list(self.features) if self.features is not None else list(_DEFAULT_FEATURES)
        Xm = _matrix(Xf, cand)
        usable = ~np.all(np.isnan(Xm), axis=0)
        self.features_ = [c for c, u in zip(cand, usable, strict=True) if u]
        Xm = Xm[:, usable]
        self.C_, self.inner_scores_ = self._choose_C(Xm, y, groups)
        self.params_ = self._fit_once(Xm, y, groups, self.C_, self.random_state)
        self.threshold_ = float(y.mean())
        self.classes_ = np.array([0, 1])
        self.n_train_ = {"recordings": int(len(y)), "subjects": int(len(np.unique(groups))), "positive": int(y.sum())}
        rng = np.random.default_rng(self.random_state)
        subjects = np.unique(groups)
        self.bootstrap_ = []
        for b in range(int(self.n_bootstrap)):
            pick = rng.choice(subjects, size=subjects.size, replace=True)
            idx = np.concatenate([np.flatnonzero(groups == s) for s in pick])
            new_groups = groups[idx]  # a subject drawn twice stays one group: its copies share a fold
            try:
                self.bootstrap_.append(self._fit_once(Xm[idx], y[idx], new_groups, self.C_, self.random_state + b + 1))
            except (ParameterError, ValueError):  # a resample with too few of one class
                continue
        return self

    # -- prediction -------------------------------------------------------------------------------

    def _prepare(self, X):
        check_is_fitted(self, "params_")
        if isinstance(X, pd.DataFrame) and "clean_seconds" in X.columns:
            enough = X["clean_seconds"].to_numpy(float) >= self.min_clean_seconds
        else:
            enough = np.ones(len(X), bool)
        return _matrix(X, self.features_), enough

    def predict_proba(self, X):
        """Calibrated class probabilities; NaN rows for insufficient data.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows (the fitted ``features_`` and ``clean_seconds``).

        Returns
        -------
        proba : numpy.ndarray, shape (n_recordings, 2)
            Probabilities of control and of the screened condition.
        """
        Xm, enough = self._prepare(X)
        p, _ = _apply(self.params_, Xm)
        p = np.where(enough, p, np.nan)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        """Screen outcome per recording: 1 positive, 0 negative, ``INSUFFICIENT`` (-1).

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows.

        Returns
        -------
        labels : numpy.ndarray of int, shape (n_recordings,)
            1, 0 or -1 (insufficient clean EEG).
        """
        p = self.predict_proba(X)[:, 1]
        out = (p > self.threshold_).astype(int)
        out[np.isnan(p)] = INSUFFICIENT
        return out

    def assess(self, X, *, n_drivers: int = 5) -> list[dict]:
        """Probability, interval, outcome and the features that drove each result.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows.
        n_drivers : int
            Number of features listed per recording, by the size of their
            contribution (coefficient × standardised value) to the score.

        Returns
        -------
        results : list of dict
            Per row: ``screen``, ``outcome`` (:data:`OUTCOMES`), ``probability``,
            ``interval`` (5th-95th bootstrap percentiles), ``threshold``,
            ``drivers`` (feature, value, contribution, direction).
        """
        Xm, enough = self._prepare(X)
        p, Z = _apply(self.params_, Xm)
        boots = np.array([_apply(b, Xm)[0] for b in self.bootstrap_]) if self.bootstrap_ else None
        coef = self.params_["coef"]
        out = []
        for i in range(len(Xm)):
            res = {"screen": self._name, "threshold": self.threshold_, "condition": self._positive}
            if not enough[i]:
                res.update(outcome="insufficient data", probability=None, interval=None, drivers=[])
                res["reason"] = f"fewer than {self.min_clean_seconds:g} s of clean EEG"
                out.append(res)
                continue
            contrib = coef * Z[i]
            order = np.argsort(-np.abs(contrib))[:n_drivers]
            res["probability"] = float(p[i])
            res["interval"] = (
                [float(np.percentile(boots[:, i], 5)), float(np.percentile(boots[:, i], 95))] if boots is not None else None
            )
            res["outcome"] = "positive" if p[i] > self.threshold_ else "negative"
            res["drivers"] = [
                {
                    "feature": self.features_[k],
                    "value": None if np.isnan(Xm[i, k]) else float(Xm[i, k]),
                    "contribution": float(contrib[k]),
                    "direction": f"towards {self._positive}" if contrib[k] > 0 else "towards control",
                }
                for k in order
            ]
            out.append(res)
        return out

    # -- persistence ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The fitted model as JSON-serialisable data (see :meth:`from_dict`)."""
        check_is_fitted(self, "params_")

        def ser(p):
            return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in p.items()}

        return {
            "screen": self._name,
            "format": "dbrain-logistic-platt-1",
            "params": {k: v for k, v in self.get_params().items() if k != "features"} | {"features": self.features},
            "features": self.features_,
            "C": self.C_,
            "inner_scores": self.inner_scores_,
            "threshold": self.threshold_,
            "n_train": self.n_train_,
            "n_insufficient": self.n_insufficient_,
            "model": ser(self.params_),
            "bootstrap": [ser(b) for b in self.bootstrap_],
        }

    @classmethod
    def from_dict(cls, data: dict):
        """Rebuild a fitted screen from :meth:`to_dict` output.

        Parameters
        ----------
        data : dict
            The stored model.

        Returns
        -------
        screen : object
            The fitted screen.
        """
        if data.get("format") != "dbrain-logistic-platt-1" or data.get("screen") != cls._name:
            raise ParameterError(
                f"not a {cls.__name__} model file (format {data.get('format')!r}, screen {data.get('screen')!r})."
            )

        def de(p):
            return {k: (np.asarray(v, float) if isinstance(v, list) else v) for k, v in p.items()}

        params = dict(data["params"])
        params["C_grid"] = tuple(params["C_grid"])
        self = cls(**params)
        self.features_ = list(data["features"])
        self.C_, self.inner_scores_ = data["C"], data.get("inner_scores", {})
        self.threshold_ = float(data["threshold"])
        self.n_train_, self.n_insufficient_ = data.get("n_train", {}), data.get("n_insufficient", 0)
        self.params_ = de(data["model"])
        self.bootstrap_ = [de(b) for b in data.get("bootstrap", [])]
        self.classes_ = np.array([0, 1])
        return self

    def save(self, path) -> Path:
        """Write the fitted model to ``path`` (JSON).

        Parameters
        ----------
        path : str | pathlib.Path
            File to write.

        Returns
        -------
        path : pathlib.Path
            The file written.
        """
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path=None):
        """Load a model file, or the shipped model when ``path`` is None.

        Parameters
        ----------
        path : str | pathlib.Path | None
            A ``model.json`` (or its folder) written by :meth:`save`.

        Returns
        -------
        screen : object
            The fitted screen.
        """
        path = Path(path) if path is not None else _MODELS / cls._name / "model.json"
        if path.is_dir():
            path = path / "model.json"
        if not path.is_file():
            raise ParameterError(f"model file '{path}' not found.")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _pipeline(C):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(C=float(C), class_weight="balanced", max_iter=2000)),
        ]
    )


class DementiaScreen(_Screen):
    """Calibrated screen for Alzheimer-type dementia vs healthy ageing from resting EEG.

    The shipped model (:meth:`load` without a path) was trained on the ADFSU
    cohort (76 probable AD, 12 healthy elderly, 8 s eyes-closed per person);
    see ``dbrain/diagnosis/models/dementia/MODEL_CARD.md``. A research aid,
    not a diagnosis.

    Parameters
    ----------
    features : list of str | None
        Feature columns to use; all of :data:`FEATURES` but ``clean_seconds``
        and ``n_channels`` when None. Columns that are missing in every
        training row are dropped (``features_``).
    C_grid : tuple of float
        Inverse regularisation strengths compared by the inner folds.
    inner_folds : int
        Subject-grouped folds for choosing ``C`` and for calibration.
    min_clean_seconds : float
        Less clean EEG than this gives "insufficient data".
    n_bootstrap : int
        Bootstrap refits for the probability intervals (0: none).
    random_state : int
        Seed of folds and bootstrap.
    """

    _name = "dementia"
    _positive = "dementia (Alzheimer type)"


class EpilepsyScreen(_Screen):
    """Calibrated screen for epilepsy vs control from interictal resting EEG.

    The shipped model was trained on the Guinea-Bissau cohort (14-channel
    Emotiv headset); see ``dbrain/diagnosis/models/epilepsy/MODEL_CARD.md``.
    A research aid, not a diagnosis; it does not replace the search for
    interictal discharges.

    Parameters
    ----------
    features : list of str | None
        Feature columns to use; all of :data:`FEATURES` but ``clean_seconds``
        and ``n_channels`` when None.
    C_grid : tuple of float
        Inverse regularisation strengths compared by the inner folds.
    inner_folds : int
        Subject-grouped folds for choosing ``C`` and for calibration.
    min_clean_seconds : float
        Less clean EEG than this gives "insufficient data".
    n_bootstrap : int
        Bootstrap refits for the probability intervals (0: none).
    random_state : int
        Seed of folds and bootstrap.
    """

    _name = "epilepsy"
    _positive = "epilepsy"

    def __init__(
        self,
        *,
        features=None,
        C_grid=(0.01, 0.1, 1.0),
        inner_folds: int = 4,
        min_clean_seconds: float = 30.0,
        n_bootstrap: int = 30,
        random_state: int = 0,
    ):
        super().__init__(
            features=features,
            C_grid=C_grid,
            inner_folds=inner_folds,
            min_clean_seconds=min_clean_seconds,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
