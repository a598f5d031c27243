"""Calibrated screening models: :class:`DementiaScreen` and :class:`EpilepsyScreen`.

Both are the same model family on different data. The candidates are L2
logistic regressions (median imputation, standardisation, balanced class
weights; ``C`` from ``C_grid``) and small, strongly regularised LightGBM
gradient-boosting models (``lgbm_grid``: 2-4 leaves per tree, row and column
subsampling, L2 leaf penalty, balanced class weights, missing values handled
by the trees). One candidate is chosen by AUROC on out-of-fold scores of
subject-grouped inner folds, then Platt-calibrated
(:class:`sklearn.calibration.CalibratedClassifierCV`, ``method="sigmoid"``,
``ensemble=False``) on out-of-fold scores of the same subject-grouped folds.
Ties go to the logistic model with the smallest ``C``: a linear model's
coefficients can be shown and read by anyone. Models are stored as JSON
(coefficients, or the LightGBM text model as a string), never as a pickle.

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
from ._features import DEMENTIA_FEATURES, DESCRIPTORS, FEATURE_GROUPS, FEATURES

#: ``predict`` value of a recording with too little clean EEG.
INSUFFICIENT = -1

#: Outcome strings of :meth:`DementiaScreen.assess`.
OUTCOMES = ("positive", "negative", "insufficient data", "not applicable")

#: z of a one-sided 95 % bound: the widening of an interval in logit units is this times the shift SD.
_Z90 = 1.645

_MODELS = Path(__file__).parent / "models"
_DEFAULT_FEATURES = tuple(f for f in FEATURES if f not in DESCRIPTORS)

#: Default LightGBM candidates: stumps and depth-2 trees, slow learning, row and column subsampling and an L2
#: leaf penalty, sized for cohorts of 65-90 people (about 50-70 per inner training fold).
LGBM_GRID: tuple[dict, ...] = (
    {
        "num_leaves": 2,
        "n_estimators": 100,
        "learning_rate": 0.05,
        "min_child_samples": 5,
        "reg_lambda": 5.0,
        "subsample": 0.8,
        "colsample_bytree": 0.5,
    },
    {
        "num_leaves": 4,
        "max_depth": 2,
        "n_estimators": 100,
        "learning_rate": 0.05,
        "min_child_samples": 8,
        "reg_lambda": 5.0,
        "subsample": 0.8,
        "colsample_bytree": 0.5,
    },
)
_LGBM_KEYS = {
    "num_leaves",
    "max_depth",
    "n_estimators",
    "learning_rate",
    "min_child_samples",
    "reg_lambda",
    "reg_alpha",
    "subsample",
    "colsample_bytree",
    "min_split_gain",
}
_DESCRIPTORS = DESCRIPTORS
#: Features of the ADHD screen: relative powers (global and per region), ratios, spectral shape (incl. the
#: theta/beta ratio), aperiodic exponent, entropy and asymmetries; no connectivity, no amplitude.
ADHD_FEATURES: tuple[str, ...] = (
    *FEATURE_GROUPS["relative_power"],
    "log_theta_alpha_ratio",
    "log_slowing_ratio",
    "log_slowing_ratio_posterior",
    "dominant_frequency_posterior",
    "spectral_edge_90",
    "theta_beta_ratio",
    "spectral_entropy",
    "aperiodic_exponent",
    *FEATURE_GROUPS["asymmetry"],
)
_FORMAT = "dbrain-screen-platt-2"
_OLD_FORMAT = "dbrain-logistic-platt-1"


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


def _seconds(X):
    """Seconds of EEG behind each row: the clean seconds plus any seconds with artifact a fallback had to use."""
    secs = X["clean_seconds"].to_numpy(float)
    if "artifact_seconds" in X.columns:
        secs = secs + np.nan_to_num(X["artifact_seconds"].to_numpy(float))
    return secs


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _booster(p):
    """The LightGBM booster of a parameter set, rebuilt from its text model once."""
    if p.get("_booster") is None:
        import lightgbm as lgb

        p["_booster"] = lgb.Booster(model_str=p["lightgbm_model"])
    return p["_booster"]


def _score(p, X):
    """The uncalibrated score the Platt map was fitted on."""
    if p.get("kind", "logistic") == "lightgbm":
        # what CalibratedClassifierCV fitted the Platt map on: decision_function (raw score) where LightGBM's
        # classifier has one (LightGBM >= 4.6), else the probability of class 1
        return _booster(p).predict(X, raw_score=p.get("score", "raw") == "raw")
    Z = np.where(np.isnan(X), p["median"], X)
    Z = (Z - p["mean"]) / p["scale"]
    return Z @ p["coef"] + p["intercept"]


def _apply(p, X):
    """Calibrated probability of the positive class under one parameter set ``p``."""
    return _sigmoid(-(p["a"] * _score(p, X) + p["b"]))


def _contributions(p, X):
    """Per-feature contributions to the uncalibrated score (logit or LightGBM raw score).

    Logistic: coefficient × standardised (imputed) value. LightGBM: TreeSHAP
    values (``pred_contrib``) in raw-score units, without the bias column.
    """
    if p.get("kind", "logistic") == "lightgbm":
        return _booster(p).predict(X, pred_contrib=True)[:, :-1]
    Z = np.where(np.isnan(X), p["median"], X)
    Z = (Z - p["mean"]) / p["scale"]
    return p["coef"] * Z


def _lgbm(spec, seed):
    from lightgbm import LGBMClassifier

    spec = dict(spec)
    return LGBMClassifier(
        objective="binary",
        class_weight="balanced",
        subsample_freq=1 if spec.get("subsample", 1.0) < 1.0 else 0,
        random_state=int(seed),
        deterministic=True,
        force_col_wise=True,
        n_jobs=1,
        verbose=-1,
        **spec,
    )


def _candidate_label(kind, spec):
    if kind == "logistic":
        return f"logistic C={float(spec['C']):g}"
    depth = f", depth {spec['max_depth']}" if spec.get("max_depth", -1) not in (None, -1) else ""
    return f"lightgbm {spec.get('num_leaves', 31)} leaves{depth} x {spec.get('n_estimators', 100)} trees"


class _Screen(ClassifierMixin, BaseEstimator):
    _name = "screen"
    _positive = "positive"

    def __init__(
        self,
        *,
        features=None,
        C_grid=(0.01, 0.1, 1.0),
        lgbm_grid=LGBM_GRID,
        inner_folds: int = 4,
        min_clean_seconds: float = 4.0,
        min_channels: int = 4,
        n_bootstrap: int = 30,
        random_state: int = 0,
    ):
        self.features = features
        self.C_grid = C_grid
        self.lgbm_grid = lgbm_grid
        self.inner_folds = inner_folds
        self.min_clean_seconds = min_clean_seconds
        self.min_channels = min_channels
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------------

    def _candidates(self):
        """``(label, kind, spec)`` of every candidate, in tie-breaking order (logistic by C first)."""
        cands = [(_candidate_label("logistic", {"C": C}), "logistic", {"C": float(C)}) for C in sorted(map(float, self.C_grid))]
        cands += [(_candidate_label("lightgbm", spec), "lightgbm", dict(spec)) for spec in self.lgbm_grid]
        return cands

    @staticmethod
    def _estimator(kind, spec, seed):
        return _pipeline(spec["C"]) if kind == "logistic" else _lgbm(spec, seed)

    @staticmethod
    def _raw_score(est, kind, X):
        return est.decision_function(X) if kind == "logistic" else est.predict(X, raw_score=True)

    def _fit_once(self, X, y, groups, kind, spec, seed):
        from sklearn.calibration import CalibratedClassifierCV

        folds = subject_folds(y, groups, self.inner_folds, seed)
        est = self._estimator(kind, spec, seed)
        cal = CalibratedClassifierCV(est, method="sigmoid", cv=folds, ensemble=False).fit(X, y)
        cc = cal.calibrated_classifiers_[0]
        fitted, calib = cc.estimator, cc.calibrators[0]
        if kind == "lightgbm":
            return {
                "kind": "lightgbm",
                "lightgbm_model": fitted.booster_.model_to_string(),
                "score": "raw" if hasattr(fitted, "decision_function") else "probability",
                "a": float(calib.a_),
                "b": float(calib.b_),
            }
        imp, sc, lr = fitted.named_steps["impute"], fitted.named_steps["scale"], fitted.named_steps["logistic"]
        return {
            "kind": "logistic",
            "median": imp.statistics_.astype(float),
            "mean": sc.mean_.astype(float),
            "scale": sc.scale_.astype(float),
            "coef": lr.coef_[0].astype(float),
            "intercept": float(lr.intercept_[0]),
            "a": float(calib.a_),
            "b": float(calib.b_),
        }

    def _choose(self, X, y, groups):
        """The candidate with the best AUROC of out-of-fold scores on subject-grouped inner folds."""
        from sklearn.metrics import roc_auc_score

        folds = subject_folds(y, groups, self.inner_folds, self.random_state)
        cands = self._candidates()
        scores = {}
        for label, kind, spec in cands:
            oof = np.zeros(len(y))
            for tr, te in folds:
                est = self._estimator(kind, spec, self.random_state).fit(X[tr], y[tr])
                oof[te] = self._raw_score(est, kind, X[te])
            scores[label] = float(roc_auc_score(y, oof))
        best = max(scores.values())
        label, kind, spec = next(c for c in cands if scores[c[0]] >= best - 1e-12)
        return label, kind, spec, scores

    def fit(self, X, y, groups=None):
        """Choose a candidate model, fit and calibrate it, and bootstrap the screen.

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
        if any(float(c) <= 0 for c in self.C_grid):
            raise ParameterError(f"C_grid must hold positive numbers, got {self.C_grid!r}.")
        for spec in self.lgbm_grid:
            if not isinstance(spec, dict) or set(spec) - _LGBM_KEYS:
                raise ParameterError(f"lgbm_grid must hold dicts with keys among {sorted(_LGBM_KEYS)}, got {spec!r}.")
        labels = [c[0] for c in self._candidates()]
        if not labels:
            raise ParameterError("C_grid and lgbm_grid are both empty: there is no candidate model.")
        if len(set(labels)) != len(labels):
            raise ParameterError(f"the candidate models are not distinct: {labels}.")
        y = np.asarray(y).astype(int)
        if len(y) != len(X) or set(np.unique(y)) - {0, 1}:
            raise ParameterError("y must hold one 0/1 label per row of X.")
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if "clean_seconds" not in X.columns:
            raise ParameterError("X lacks the 'clean_seconds' column.")
        ok = self.usable(X)
        self.n_insufficient_ = int((~ok).sum())
        if ok.sum() < 4:
            raise ParameterError(
                f"only {int(ok.sum())} rows have at least {self.min_clean_seconds:g} s of clean EEG on at least "
                f"{self.min_channels} channels."
            )
        Xf, y, groups = X.loc[ok], y[ok], groups[ok]
        cand = self._feature_list(Xf, y, groups)
        Xm = _matrix(Xf, cand)
        usable = ~np.all(np.isnan(Xm), axis=0)
        self.features_ = [c for c, u in zip(cand, usable, strict=True) if u]
        Xm = Xm[:, usable]
        self.model_, kind, spec, self.inner_scores_ = self._choose(Xm, y, groups)
        self.candidate_ = {"kind": kind, **spec}
        self.C_ = spec["C"] if kind == "logistic" else None
        self.params_ = self._fit_once(Xm, y, groups, kind, spec, self.random_state)
        self.threshold_ = float(y.mean())
        self.classes_ = np.array([0, 1])
        self.n_train_ = {"recordings": int(len(y)), "subjects": int(len(np.unique(groups))), "positive": int(y.sum())}
        self.domain_ = {
            k: [float(np.nanmin(Xf[k])), float(np.nanmax(Xf[k]))]
            for k in _DESCRIPTORS
            if k in Xf.columns and np.isfinite(Xf[k].to_numpy(float)).any()
        }
        self.applicability_ = getattr(self, "applicability_", {}) or {}
        rng = np.random.default_rng(self.random_state)
        subjects = np.unique(groups)
        self.bootstrap_ = []
        for b in range(int(self.n_bootstrap)):
            pick = rng.choice(subjects, size=subjects.size, replace=True)
            idx = np.concatenate([np.flatnonzero(groups == s) for s in pick])
            new_groups = groups[idx]  # a subject drawn twice stays one group: its copies share a fold
            try:
                self.bootstrap_.append(self._fit_once(Xm[idx], y[idx], new_groups, kind, spec, self.random_state + b + 1))
            except (ParameterError, ValueError):  # a resample with too few of one class
                continue
        return self

    def _feature_list(self, X, y, groups):
        """The feature columns to fit (the ADHD screen may choose them from candidate sets)."""
        return list(self.features) if self.features is not None else list(_DEFAULT_FEATURES)

    # -- prediction -------------------------------------------------------------------------------

    def usable(self, X) -> np.ndarray:
        """Which rows have enough clean EEG (``clean_seconds``) on enough channels (``n_channels``).

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows.

        Returns
        -------
        mask : numpy.ndarray of bool
            True where the screen gives a probability.
        """
        ok = np.ones(len(X), bool)
        if "clean_seconds" in X.columns:
            ok &= _seconds(X) >= self.min_clean_seconds
        if "n_channels" in X.columns:
            ok &= ~(X["n_channels"].to_numpy(float) < getattr(self, "min_channels", 0))
        return ok

    def features_of(self, raw, *, max_duration: float = 300.0):
        """The features of a recording, computed the way this screen's training data were.

        Uses the ``scale_to_uv``, ``band_hz``, ``fallback_seconds`` and
        ``candidate_features`` the model stores (:meth:`set_applicability`);
        connectivity and the aperiodic fit only when the model uses them.

        Parameters
        ----------
        raw : mne.io.BaseRaw
            The recording (normalised channel names, volts).
        max_duration : float
            At most this many seconds are used.

        Returns
        -------
        result : FeatureResult
            Pass ``result.to_frame()`` to :meth:`assess`.
        """
        from ._features import recording_features

        check_is_fitted(self, "params_")
        _check_range("max_duration", max_duration, 4.0, None)
        app = getattr(self, "applicability_", None) or {}
        return recording_features(
            raw,
            max_duration=float(max_duration),
            network=any(f in FEATURE_GROUPS["network"] for f in self.features_),
            aperiodic="aperiodic_exponent" in self.features_,
            scale_to_uv=app.get("scale_to_uv"),
            band=tuple(app.get("band_hz", (0.5, 45.0))),
            fallback_seconds=app.get("fallback_seconds"),
            candidates=bool(app.get("candidate_features")),
        )

    def _prepare(self, X):
        check_is_fitted(self, "params_")
        enough = np.ones(len(X), bool)
        if isinstance(X, pd.DataFrame) and "clean_seconds" in X.columns:
            enough &= _seconds(X) >= self.min_clean_seconds
        if isinstance(X, pd.DataFrame) and "n_channels" in X.columns:
            enough &= ~(X["n_channels"].to_numpy(float) < getattr(self, "min_channels", 0))
        return _matrix(X, self.features_), enough

    def set_applicability(
        self, *, age_trained=None, age_limits=None, amplitude_uv_limits=None, shift_sd=None, age_required=False, extra=None
    ):
        """State where the model applies and how far a shifted input moves its probability.

        Stored with the model (``model.json``) and used by :meth:`assess`.

        Parameters
        ----------
        age_trained : (float, float) | None
            Age range (years) of the training people; outside it the screen
            is "not applicable" (no probability: nothing measured how the
            model behaves at ages it never saw).
        age_limits : (float, float) | None
            Outside these ages the screen is "not applicable".
        amplitude_uv_limits : (float, float) | None
            Median channel SD (µV) outside which the input is taken for a
            unit or calibration error ("not applicable").
        shift_sd : dict | None
            ``{"seconds": [[below_s, sd], ...], "channels": [[from_n, sd], ...]}``:
            the SD of logit(probability on the cut input) - logit(probability on
            the full input), measured on held-out training people. A
            recording with less clean EEG than ``below_s`` (the smallest
            bound above it) and one with fewer than 19 but at least ``from_n``
            channels (the largest such ``from_n``) get their interval widened
            by ``1.645 * sqrt(sum of sd²)`` in logit units on each side.
        age_required : bool
            Without an age the screen is "not applicable" (a screen for children
            must know it looks at a child).
        extra : dict | None
            Other JSON data stored with the model (e.g. norms). Keys read
            here: ``amplitude_action`` (``"widen"``: an amplitude outside
            ``amplitude_uv_limits`` widens the interval by the largest
            length shift instead of declining), ``unknown_age_sd`` (logit SD
            that widens the interval when the age is unknown), ``artifact_sd``
            (logit SD for features that had to include artifact),
            ``scale_to_uv`` and ``fallback_seconds`` (how the diagnosis step
            computes this screen's features, see :func:`array_features`).

        Returns
        -------
        self : object
            The screen.
        """
        check_is_fitted(self, "params_")
        self.applicability_ = {
            "age_trained": None if age_trained is None else [float(a) for a in age_trained],
            "age_limits": None if age_limits is None else [float(a) for a in age_limits],
            "amplitude_uv_limits": None if amplitude_uv_limits is None else [float(a) for a in amplitude_uv_limits],
            "shift_sd": shift_sd or {},
            "age_required": bool(age_required),
        } | (extra or {})
        return self

    def _shift(self, row):
        """Logit SD of the input shift of one row and the reasons (length, channels)."""
        app = getattr(self, "applicability_", None) or {}
        table = app.get("shift_sd") or {}
        sds, why = [], []
        secs = float(row.get("clean_seconds", np.nan))
        art = float(row.get("artifact_seconds", 0.0))
        art = art if np.isfinite(art) else 0.0
        what = f"{secs + art:g} s of EEG ({secs:g} s clean)" if art > 0 else f"{secs:g} s of clean EEG"
        for below, sd in sorted(table.get("seconds", [])):
            if np.isfinite(secs) and secs + art < below:
                sds.append(sd)
                why.append(f"{what} (shift below {below:g} s measured on held-out people: logit SD {sd:.2f})")
                break
        if art > 0:
            # too little clean EEG, so the features include artifact: no cohort measures that shift, so the largest
            # measured one stands in (a stated choice)
            sd = float(app.get("artifact_sd") or max([v for _, v in table.get("seconds", [])] + [1.0]))
            sds.append(sd)
            why.append(
                f"{art:g} s with artifact had to be used (fewer than {self.min_clean_seconds:g} s of clean EEG on "
                f"{getattr(self, 'min_channels', 0)} channels; not measured, the largest length shift stands in: logit SD {sd:.2f})"
            )
        nch = float(row.get("n_channels", np.nan))
        fits = [(n, sd) for n, sd in table.get("channels", []) if np.isfinite(nch) and n <= nch < 19]
        if fits:
            n, sd = max(fits)
            sds.append(sd)
            why.append(f"{nch:g} channels (shift measured for {n:g}-channel subsets: logit SD {sd:.2f})")
        return float(np.sqrt(np.sum(np.square(sds)))) if sds else 0.0, why

    def _gate(self, row, age):
        """``(reason it is not applicable | None, extra logit SD, notes)`` from age and amplitude scale."""
        app = getattr(self, "applicability_", None) or {}
        notes, extra = [], 0.0
        lim = app.get("age_limits")
        if age is None and app.get("age_required"):
            span = f" ({lim[0]:g}-{lim[1]:g} y)" if lim else ""
            return (
                f"age unknown (no --age and no birth date in the header): this screen runs only for its age range{span}",
                0.0,
                notes,
            )
        if age is not None and lim and not lim[0] <= age <= lim[1]:
            return f"age {age:g} y is outside the {lim[0]:g}-{lim[1]:g} y this screen applies to", 0.0, notes
        trained = app.get("age_trained")
        if age is None and app.get("unknown_age_sd"):
            sd = float(app["unknown_age_sd"])
            extra = float(np.hypot(extra, sd))
            notes.append(
                "age unknown (no --age and no birth date in the header): assumed inside the training ages, interval "
                f"widened by a stated convention (logit SD {sd:.2f})"
            )
        elif age is None and (lim or trained):
            notes.append("age unknown (no --age and no birth date in the header): assumed inside the training range")
        elif trained and age is not None and not trained[0] <= age <= trained[1]:
            # no measured figure says how the probability behaves at ages the model never saw: no number at all,
            # rather than one a reader would take as validated (a widened interval was a convention, not a measurement)
            return (
                f"age {age:g} y is outside the ages the screen was trained and validated on "
                f"({trained[0]:g}-{trained[1]:g} y): no probability",
                0.0,
                notes,
            )
        amp = app.get("amplitude_uv_limits")
        a = float(row.get("amplitude_uv", np.nan))
        if amp and np.isfinite(a) and a > 0 and not amp[0] <= a <= amp[1] and app.get("amplitude_action") == "widen":
            # the features are scale-free and the screen rescales before choosing clean EEG: an unusual scale is
            # more likely a unit or gain setting than a different brain, so it widens rather than declines
            sd = max([v for _, v in (app.get("shift_sd") or {}).get("seconds", [])] + [1.0])
            extra = float(np.hypot(extra, sd))
            notes.append(
                f"amplitude {a:.3g} µV (median channel SD) is outside {amp[0]:g}-{amp[1]:g} µV: check the units or "
                f"calibration (interval widened by the largest measured shift, logit SD {sd:.2f})"
            )
        elif amp and np.isfinite(a) and a > 0 and not amp[0] <= a <= amp[1]:  # flat (0): "insufficient data"
            return (
                f"amplitude {a:.3g} µV (median channel SD) is outside {amp[0]:g}-{amp[1]:g} µV: check the units or calibration",
                0.0,
                notes,
            )
        return None, extra, notes

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
        p = np.where(enough, _apply(self.params_, Xm), np.nan)
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

    def assess(self, X, *, n_drivers: int = 5, age=None) -> list[dict]:
        """Probability, interval, outcome and the features that drove each result.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows.
        age : float | None
            Age in years of the person(s), checked against the model's
            applicability (:meth:`set_applicability`).
        n_drivers : int
            Number of features listed per recording, by the size of their
            contribution to the uncalibrated score: coefficient ×
            standardised value for a logistic model, TreeSHAP value (raw-score
            units) for a LightGBM model.

        Returns
        -------
        results : list of dict
            Per row: ``screen``, ``model_choice`` (the chosen candidate),
            ``status`` and ``outcome`` (:data:`OUTCOMES`), ``applicable``,
            ``reason`` (why there is no probability, else None),
            ``probability``, ``interval`` (5th-95th bootstrap percentiles,
            widened for a shifted input), ``interval_notes`` (why it was
            widened, and other caveats), ``threshold``, ``drivers`` (feature,
            value, contribution, direction).
        """
        Xm, enough = self._prepare(X)
        p = _apply(self.params_, Xm)
        contrib_all = _contributions(self.params_, Xm)
        boots = np.array([_apply(b, Xm) for b in self.bootstrap_]) if self.bootstrap_ else None
        # the Platt map is sigmoid(-(a * score + b)): with a < 0 (the usual case) a higher score means "positive"
        towards = -np.sign(self.params_["a"]) or 1.0
        out = []
        for i in range(len(Xm)):
            res = {
                "screen": self._name,
                "model_choice": getattr(self, "model_", None),
                "threshold": self.threshold_,
                "condition": self._positive,
            }
            row = X.iloc[i] if isinstance(X, pd.DataFrame) else pd.Series(dtype=float)
            none = {"probability": None, "interval": None, "drivers": [], "interval_notes": []}
            why_not, extra, notes = self._gate(row, age)
            if why_not:
                res.update(none, outcome="not applicable", status="not applicable", applicable=False, reason=why_not)
                out.append(res)
                continue
            if not enough[i]:
                res.update(none, outcome="insufficient data", status="insufficient data", applicable=True)
                nch = float(row.get("n_channels", np.nan))
                if float(row.get("amplitude_uv", np.nan)) <= 0:
                    res["reason"] = "flat recording (no signal on the EEG channels)"
                elif np.isfinite(nch) and nch < getattr(self, "min_channels", 0):
                    res["reason"] = f"{nch:g} EEG channels, at least {self.min_channels} needed"
                else:
                    res["reason"] = f"fewer than {self.min_clean_seconds:g} s of clean EEG"
                out.append(res)
                continue
            shift, why = self._shift(row)
            widen = float(np.sqrt(shift**2 + extra**2))
            contrib = contrib_all[i]
            order = np.argsort(-np.abs(contrib))[:n_drivers]
            res.update(status="ok", applicable=True, reason=None, probability=float(p[i]))
            res["interval"] = (
                [float(np.percentile(boots[:, i], 5)), float(np.percentile(boots[:, i], 95))] if boots is not None else None
            )
            if widen > 0:
                lo, hi = res["interval"] or [float(p[i]), float(p[i])]
                res["interval"] = [float(_sigmoid(_logit(lo) - _Z90 * widen)), float(_sigmoid(_logit(hi) + _Z90 * widen))]
            res["interval_notes"] = [f"interval widened: {w}" for w in why] + notes
            res["outcome"] = "positive" if p[i] > self.threshold_ else "negative"
            res["drivers"] = [
                {
                    "feature": self.features_[k],
                    "value": None if np.isnan(Xm[i, k]) else float(Xm[i, k]),
                    "contribution": float(contrib[k]),
                    "direction": f"towards {self._positive}" if contrib[k] * towards > 0 else "towards control",
                }
                for k in order
            ]
            out.append(res)
        return out

    # -- persistence ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The fitted model as JSON-serialisable data (see :meth:`from_dict`).

        Returns
        -------
        data : dict
            Format ``dbrain-screen-platt-2``: parameters, chosen candidate,
            inner AUROCs, threshold, and per model (main and bootstrap) either
            the logistic coefficients with imputation and scaling, or the
            LightGBM text model, plus the Platt map ``a``, ``b``.
        """
        check_is_fitted(self, "params_")

        def ser(p):
            return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in p.items() if not k.startswith("_")}

        params = {k: v for k, v in self.get_params().items() if k not in ("features", "lgbm_grid", "C_grid")}
        return {
            "screen": self._name,
            "format": _FORMAT,
            "params": params
            | {
                "features": self.features,
                "C_grid": [float(c) for c in self.C_grid],
                "lgbm_grid": [dict(g) for g in self.lgbm_grid],
            },
            "features": self.features_,
            **(
                {"feature_set": self.feature_set_, "feature_set_scores": self.feature_set_scores_}
                if getattr(self, "feature_set_", None)
                else {}
            ),
            "model_choice": self.model_,
            "candidate": self.candidate_,
            "C": self.C_,
            "inner_scores": self.inner_scores_,
            "threshold": self.threshold_,
            "n_train": self.n_train_,
            "n_insufficient": self.n_insufficient_,
            "domain": getattr(self, "domain_", {}),
            "applicability": getattr(self, "applicability_", {}),
            "model": ser(self.params_),
            "bootstrap": [ser(b) for b in self.bootstrap_],
        }

    @classmethod
    def from_dict(cls, data: dict):
        """Rebuild a fitted screen from :meth:`to_dict` output.

        Files of the earlier logistic-only format ``dbrain-logistic-platt-1``
        load as logistic models.

        Parameters
        ----------
        data : dict
            The stored model.

        Returns
        -------
        screen : object
            The fitted screen.
        """
        fmt = data.get("format")
        if fmt not in (_FORMAT, _OLD_FORMAT) or data.get("screen") != cls._name:
            raise ParameterError(f"not a {cls.__name__} model file (format {fmt!r}, screen {data.get('screen')!r}).")

        def de(p):
            p = {k: (np.asarray(v, float) if isinstance(v, list) else v) for k, v in p.items()}
            p.setdefault("kind", "logistic")
            return p

        params = dict(data["params"])
        params["C_grid"] = tuple(params["C_grid"])
        if "lgbm_grid" in params:
            params["lgbm_grid"] = tuple(dict(g) for g in params["lgbm_grid"])
        elif fmt == _OLD_FORMAT:
            params["lgbm_grid"] = ()  # that format only knew logistic candidates
        self = cls(**params)
        self.features_ = list(data["features"])
        if "feature_set" in data:
            self.feature_set_, self.feature_set_scores_ = data["feature_set"], data.get("feature_set_scores", {})
        self.C_, self.inner_scores_ = data["C"], data.get("inner_scores", {})
        self.candidate_ = data.get("candidate", {"kind": "logistic", "C": self.C_})
        self.model_ = data.get("model_choice") or _candidate_label("logistic", {"C": self.C_})
        self.threshold_ = float(data["threshold"])
        self.n_train_, self.n_insufficient_ = data.get("n_train", {}), data.get("n_insufficient", 0)
        self.params_ = de(data["model"])
        self.bootstrap_ = [de(b) for b in data.get("bootstrap", [])]
        self.domain_ = data.get("domain", {})
        self.applicability_ = data.get("applicability", {})
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

    The shipped model (:meth:`load` without a path) is a logistic regression
    (C = 0.01) on six scale-free ratios of each recording's spectrum
    (``DEMENTIA_FEATURES``: relative powers within 2-30 Hz, theta/alpha
    ratio, posterior dominant frequency; no connectivity, no midline
    electrode needed) trained on two cohorts, ADFSU and ds004504 (AD vs
    cognitively normal), chosen and evaluated leave-one-cohort-out on
    256-Hz, 16-channel, 5-8 s cuts; see
    ``dbrain/diagnosis/models/dementia/MODEL_CARD.md``. Compute its input
    with :meth:`features_of`. It declines only for unusable input (fewer
    than 12 non-flat EEG channels, less than 4 s of EEG, a flat recording,
    a known age under 18); short, reduced, artifact-laden or oddly scaled
    input and an unknown age widen its interval instead. A research aid,
    not a diagnosis.

    Parameters
    ----------
    features : list of str | None
        Feature columns to use (``DEMENTIA_FEATURES`` by default); all of
        :data:`FEATURES` but the input descriptors when None. Columns that
        are missing in every training row are dropped (``features_``).
    C_grid : tuple of float
        Inverse regularisation strengths of the logistic candidates (empty:
        no logistic candidate).
    lgbm_grid : tuple of dict
        LightGBM candidates (none by default: on two small, disagreeing cohorts
        trees would learn the cohort; where they were offered in the
        leave-one-cohort-out check, the inner folds chose the logistic model;
        :data:`LGBM_GRID` for the usual ones), each a
        dict of ``num_leaves``, ``max_depth``, ``n_estimators``,
        ``learning_rate``, ``min_child_samples``, ``reg_lambda``, ``reg_alpha``,
        ``subsample``, ``colsample_bytree`` and/or ``min_split_gain``.
    inner_folds : int
        Subject-grouped folds for choosing the candidate and for calibration.
    min_clean_seconds : float
        Less clean EEG than this gives "insufficient data".
    min_channels : int
        Fewer EEG channels than this give "insufficient data".
    n_bootstrap : int
        Bootstrap refits for the probability intervals (0: none).
    random_state : int
        Seed of folds and bootstrap.
    """

    _name = "dementia"
    _positive = "dementia (Alzheimer type)"

    def __init__(
        self,
        *,
        features=DEMENTIA_FEATURES,
        C_grid=(0.01, 0.1, 1.0),
        lgbm_grid=(),
        inner_folds: int = 4,
        min_clean_seconds: float = 4.0,
        min_channels: int = 12,
        n_bootstrap: int = 30,
        random_state: int = 0,
    ):
        super().__init__(
            features=features,
            C_grid=C_grid,
            lgbm_grid=lgbm_grid,
            inner_folds=inner_folds,
            min_clean_seconds=min_clean_seconds,
            min_channels=min_channels,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )


class ADHDScreen(_Screen):
    """Calibrated screen for ADHD vs typically developing children from task or resting EEG.

    The shipped model (:func:`dbrain.diagnosis.adhd_screen`,
    ``scripts/train_adhd_model.py``; ``dbrain train adhd`` reproduces it)
    was trained on 72 usable of 80 children aged 7-12 (40 ADHD on
    methylphenidate, 40 control; 60 s of a visual counting task each) and
    chose its feature set among candidate sets on inner folds: phase
    connectivity (debiased wPLI and coherence summaries); see
    ``dbrain/diagnosis/models/adhd/MODEL_CARD.md``. It runs only for people
    under 18 with a known age. What its connectivity difference reflects
    (ADHD, medication or the recording) is open: a research aid beside
    clinical assessment, never a diagnosis.

    Parameters
    ----------
    features : list of str | None
        Feature columns (scale- and length-free: relative powers, ratios,
        spectral shape, aperiodic exponent, asymmetries).
    C_grid : tuple of float
        Inverse regularisation strengths of the logistic candidates.
    lgbm_grid : tuple of dict
        LightGBM candidates (none by default).
    inner_folds : int
        Subject-grouped folds for choosing the candidate and for calibration.
    min_clean_seconds : float
        Less clean EEG than this gives "insufficient data".
    min_channels : int
        Fewer EEG channels than this give "insufficient data".
    n_bootstrap : int
        Bootstrap refits for the probability intervals (0: none).
    random_state : int
        Seed of folds and bootstrap.
    feature_sets : dict of str to list of str | None
        Candidate feature sets: ``fit`` chooses the one whose screen has the
        best AUROC of out-of-fold probabilities on subject-grouped inner
        folds of the training rows (ties: the first), stored as
        ``feature_set_`` with every set's score in ``feature_set_scores_``;
        ``features`` is then not used. Inside :func:`nested_cross_validate`
        the choice is made on each outer training fold only.
    """

    _name = "adhd"
    _positive = "ADHD"

    def __init__(
        self,
        *,
        features=ADHD_FEATURES,
        C_grid=(0.01, 0.1, 1.0),
        lgbm_grid=(),
        inner_folds: int = 4,
        min_clean_seconds: float = 10.0,
        min_channels: int = 12,
        n_bootstrap: int = 30,
        random_state: int = 0,
        feature_sets=None,
    ):
        self.feature_sets = feature_sets
        super().__init__(
            features=features,
            C_grid=C_grid,
            lgbm_grid=lgbm_grid,
            inner_folds=inner_folds,
            min_clean_seconds=min_clean_seconds,
            min_channels=min_channels,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )

    def _feature_list(self, X, y, groups):
        """The fixed ``features``, or the candidate set that wins on inner subject-grouped folds."""
        self.feature_set_, self.feature_set_scores_ = None, {}
        if not self.feature_sets:
            return super()._feature_list(X, y, groups)
        from sklearn.base import clone
        from sklearn.metrics import roc_auc_score

        folds = subject_folds(y, groups, self.inner_folds, self.random_state)
        for name, cols in self.feature_sets.items():
            oof = np.full(len(y), np.nan)
            for tr, te in folds:
                est = clone(self).set_params(feature_sets=None, features=list(cols), n_bootstrap=0)
                oof[te] = est.fit(X.iloc[tr], y[tr], groups[tr]).predict_proba(X.iloc[te])[:, 1]
            self.feature_set_scores_[name] = float(roc_auc_score(y, oof))
        best = max(self.feature_set_scores_.values())
        self.feature_set_ = next(k for k, v in self.feature_set_scores_.items() if v >= best - 1e-12)
        return list(self.feature_sets[self.feature_set_])


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
        Inverse regularisation strengths of the logistic candidates (empty:
        no logistic candidate).
    lgbm_grid : tuple of dict
        LightGBM candidates (:data:`LGBM_GRID` by default; empty: none), each a
        dict of ``num_leaves``, ``max_depth``, ``n_estimators``,
        ``learning_rate``, ``min_child_samples``, ``reg_lambda``, ``reg_alpha``,
        ``subsample``, ``colsample_bytree`` and/or ``min_split_gain``.
    inner_folds : int
        Subject-grouped folds for choosing the candidate and for calibration.
    min_clean_seconds : float
        Less clean EEG than this gives "insufficient data".
    min_channels : int
        Fewer EEG channels than this give "insufficient data".
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
        lgbm_grid=LGBM_GRID,
        inner_folds: int = 4,
        min_clean_seconds: float = 30.0,
        min_channels: int = 4,
        n_bootstrap: int = 30,
        random_state: int = 0,
    ):
        super().__init__(
            features=features,
            C_grid=C_grid,
            lgbm_grid=lgbm_grid,
            inner_folds=inner_folds,
            min_clean_seconds=min_clean_seconds,
            min_channels=min_channels,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
