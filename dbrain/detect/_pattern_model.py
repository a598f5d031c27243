"""A small learned classifier of ACNS 2021 ICU patterns from definition features.

:class:`PatternClassifier` is a multinomial logistic regression (L2,
standardised inputs) on features that each measure one ACNS 2021 definition
(:data:`MODEL_FEATURES`, derived from the window features of
:mod:`dbrain.detect.patterns`): delta dominance, how discharge-like the
waves are (kurtosis), the discharge rate and the regularity of the
intervals, the hemisphere asymmetry and the bilateral synchrony of
homologous electrodes (generalised = bilateral and synchronous), amplitude
and evolution, the rhythmicity, and the frontal-polar share (eye movements). Which combination
of them makes an LPD, GPD, LRDA, GRDA, seizure or "other" is learned from
labelled windows, not set by hand. Rules are applied only where they *are*
the definition (:func:`apply_definitions`): periodic discharges at 2.5 Hz or
faster are a seizure.

The shipped model (``models/patterns/model.json``: coefficients as plain
numbers, no pickle) is written by ``scripts/train_pattern_model.py``; its
``metrics.json`` holds the leave-one-segment-out result on the 12 IIIC
development segments and the result on held-out simulated patterns.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..utils import _check_range, _validate_type
from ._base import BaseDetector

DEFAULT_PATTERN_MODEL = Path(__file__).resolve().parent / "models" / "patterns" / "model.json"
PATTERN_MODEL_FORMAT = "dbrain-pattern-model"
CLASSES = ("seizure", "lpd", "gpd", "lrda", "grda", "other")
#: ACNS 2021: periodic discharges averaging more than 2.5 Hz over 10 s are an electrographic seizure.
SEIZURE_FREQUENCY = 2.5
#: Window columns that carry the ACNS evidence of a pattern (not model inputs; see :func:`pattern_evidence`).
EVIDENCE_COLUMNS = ("periodicity", "delta_rhythm")
#: Minimum evidence for a pattern decision (ACNS 2021). Periodic discharges: a regular train (>= 4 discharges per
#: 10 s window, interval CV <= 0.75; two windows give >= 6 cycles) whose envelope recurs at its period
#: (``periodicity``); rhythmic delta: the signal repeats at one period of its delta frequency (``delta_rhythm``).
#: The two cut-offs maximise Youden's J (true-pattern minus "other" windows passing) on held-out simulated windows
#: (seeds 7000-7019, basic and varied forms, and normal simulations 7500-7504; LPD+GPD resp. LRDA+GRDA against
#: "other"), chosen before and without the real normal EEG they are evaluated on (see docs/patterns.md).
EVIDENCE = {"periodicity": 0.16, "delta_rhythm": 0.23, "min_discharges": 4, "max_interval_cv": 0.75}
#: Inputs of the model, each one ACNS definition measured on the window (see :func:`model_features`).
MODEL_FEATURES = (
    "delta_share",
    "kurtosis",
    "discharge_rate",
    "regular_train",
    "abs_lateralisation",
    "log_amplitude",
    "log_evolution",
    "rhythmicity",
    "log_eye_ratio",
    "frequency",
    "symmetry",
)


def model_features(windows: pd.DataFrame) -> pd.DataFrame:
    """Definition features of each window from the pattern window features.

    Parameters
    ----------
    windows : pandas.DataFrame
        Columns ``frequency``, ``delta_share``, ``kurtosis``,
        ``lateralisation``, ``amplitude``, ``evolution``, ``rhythmicity``,
        ``eye_ratio``, ``n_discharges``, ``interval_cv``, ``symmetry``
        (optional) and ``duration`` (window length in s; 10 if absent).
        Missing values (no context, one hemisphere, no homologous pair, no
        frontal electrodes) become the neutral value.

    Returns
    -------
    features : pandas.DataFrame
        Columns :data:`MODEL_FEATURES`, no missing values.
    """
    w = windows
    dur = w["duration"].astype(float) if "duration" in w else pd.Series(10.0, index=w.index)
    cv = w["interval_cv"].astype(float)
    rate = w["n_discharges"].astype(float) / dur
    regular = ((w["n_discharges"] >= 4) & (cv <= 0.75)).astype(float)
    return pd.DataFrame(
        {
            "delta_share": w["delta_share"].astype(float).clip(0, 1),
            "kurtosis": w["kurtosis"].astype(float).clip(-2, 10),
            "discharge_rate": rate.clip(0, 5),
            "regular_train": regular,
            "abs_lateralisation": w["lateralisation"].astype(float).abs().fillna(0.0).clip(0, 1),
            "log_amplitude": np.log10(w["amplitude"].astype(float).clip(lower=0.1)),
            "log_evolution": np.log2(w["evolution"].astype(float)).fillna(0.0).clip(-3, 3),
            "rhythmicity": w["rhythmicity"].astype(float).clip(-1, 1),
            "log_eye_ratio": np.log2(w["eye_ratio"].astype(float).clip(lower=1e-3)).fillna(0.0).clip(-4, 8),
            "frequency": w["frequency"].astype(float).fillna(0.0),
            "symmetry": (w["symmetry"].astype(float) if "symmetry" in w else pd.Series(np.nan, index=w.index))
            .fillna(0.0)
            .clip(-1, 1),
        },
        index=w.index,
    )


def apply_definitions(probabilities: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """The rules that are definitions, applied on top of the learned probabilities.

    Periodic discharges (the model's most probable class LPD or GPD) in a
    regular train at :data:`SEIZURE_FREQUENCY` Hz or faster are a seizure
    (ACNS 2021): their probability mass moves to ``seizure``.

    Parameters
    ----------
    probabilities : pandas.DataFrame
        Columns :data:`CLASSES`.
    windows : pandas.DataFrame
        The window features (``n_discharges``, ``interval_cv``, ``duration``).

    Returns
    -------
    probabilities : pandas.DataFrame
        A copy, rows still summing to 1.
    """
    p = probabilities.copy()
    f = model_features(windows)
    top = p.idxmax(axis=1)
    fast = top.isin(["lpd", "gpd"]) & (f["discharge_rate"] >= SEIZURE_FREQUENCY) & (f["regular_train"] > 0)
    if fast.any():
        moved = p.loc[fast, ["lpd", "gpd"]].sum(axis=1)
        p.loc[fast, "seizure"] += moved
        p.loc[fast, ["lpd", "gpd"]] = 0.0
    return p


def pattern_evidence(windows: pd.DataFrame) -> pd.DataFrame:
    """Whether each window shows the ACNS evidence of each pattern class.

    A learned probability alone is not a pattern: LPD/GPD need periodic
    discharges (a regular train whose envelope recurs at its period), LRDA/GRDA
    need rhythmic delta (the signal repeats at one period of its delta
    frequency); cut-offs in :data:`EVIDENCE`. Missing evidence columns count
    as no evidence.

    Parameters
    ----------
    windows : pandas.DataFrame
        Window features with ``n_discharges``, ``interval_cv`` and :data:`EVIDENCE_COLUMNS`.

    Returns
    -------
    evidence : pandas.DataFrame
        Boolean columns ``lpd``, ``gpd``, ``lrda``, ``grda``.
    """
    w = windows
    nan = pd.Series(np.nan, index=w.index)
    periodic = (
        (w["n_discharges"].astype(float) >= EVIDENCE["min_discharges"])
        & (w["interval_cv"].astype(float) <= EVIDENCE["max_interval_cv"])
        & (w.get("periodicity", nan).astype(float) >= EVIDENCE["periodicity"])
    )
    rhythmic = w.get("delta_rhythm", nan).astype(float) >= EVIDENCE["delta_rhythm"]
    return pd.DataFrame({"lpd": periodic, "gpd": periodic, "lrda": rhythmic, "grda": rhythmic}, index=w.index)


class PatternClassifier(BaseDetector):
    """Learned ICU-pattern classifier (seizure, LPD, GPD, LRDA, GRDA, other), scikit-learn style.

    Parameters
    ----------
    model : path-like | None
        A model file written by :meth:`save`; None for the shipped model.
        Ignored once :meth:`fit` has run.
    C : float
        Inverse L2 regularisation strength of :meth:`fit` (small: strong
        regularisation, as the real labelled data are few).
    """

    def __init__(self, model=None, *, C: float = 0.3):
        self.model = model
        self.C = C

    def _validate(self):
        _check_range("C", float(self.C), 1e-6, None)
        if self.model is not None:
            _validate_type(self.model, (str, os.PathLike), "model", "path-like or None")

    def fit(self, windows: pd.DataFrame, labels, sample_weight=None) -> PatternClassifier:
        """Learn the classes from labelled windows.

        Parameters
        ----------
        windows : pandas.DataFrame
            Window features (as :attr:`dbrain.detect.patterns.PatternResult.windows`).
        labels : array-like of str
            One of :data:`CLASSES` per window.
        sample_weight : array-like | None
            Weight per window.

        Returns
        -------
        self : PatternClassifier
        """
        from sklearn.linear_model import LogisticRegression

        self._validate()
        y = np.asarray(labels, dtype=object)
        bad = sorted(set(y) - set(CLASSES))
        if bad or len(y) != len(windows):
            raise ParameterError(f"labels must be one of {CLASSES} per window, got {bad or len(y)}")
        X = model_features(windows).to_numpy(float)
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 1e-9, X.std(axis=0), 1.0)
        clf = LogisticRegression(C=float(self.C), max_iter=2000)
        clf.fit((X - self.mean_) / self.scale_, y, sample_weight=sample_weight)
        order = [list(clf.classes_).index(c) if c in clf.classes_ else None for c in CLASSES]
        coef = np.zeros((len(CLASSES), X.shape[1]))
        intercept = np.full(len(CLASSES), -30.0)  # a class never seen in training is never predicted
        for k, j in enumerate(order):
            if j is not None:
                coef[k], intercept[k] = clf.coef_[j], clf.intercept_[j]
        self.coef_, self.intercept_ = coef, intercept
        return self

    def _params(self):
        if hasattr(self, "coef_"):
            return self.mean_, self.scale_, self.coef_, self.intercept_
        cached = getattr(self, "_loaded", None)
        if cached is None or cached[0] != str(self.model):
            self._loaded = (str(self.model), *_load(self.model))
        return self._loaded[1:5]

    def predict_proba(self, windows: pd.DataFrame, *, definitions: bool = True) -> pd.DataFrame:
        """Class probabilities of each window.

        Parameters
        ----------
        windows : pandas.DataFrame
            Window features.
        definitions : bool
            Apply :func:`apply_definitions` (≥ 2.5 Hz periodic discharges = seizure).

        Returns
        -------
        probabilities : pandas.DataFrame
            One column per class of :data:`CLASSES`, rows summing to 1.
        """
        self._validate()
        mean, scale, coef, intercept = self._params()
        X = (model_features(windows).to_numpy(float) - mean) / scale
        z = X @ coef.T + intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = pd.DataFrame(e / e.sum(axis=1, keepdims=True), columns=list(CLASSES), index=windows.index)
        return apply_definitions(p, windows) if definitions else p

    def predict(self, windows: pd.DataFrame) -> np.ndarray:
        """Most probable class of each window (after the definitions).

        Parameters
        ----------
        windows : pandas.DataFrame
            Window features.

        Returns
        -------
        labels : ndarray of str
        """
        return self.predict_proba(windows).idxmax(axis=1).to_numpy(dtype=object)

    def save(self, path, *, extra: dict | None = None) -> Path:
        """Write the fitted model as JSON (plain numbers).

        Parameters
        ----------
        path : path-like
            File to write.
        extra : dict | None
            More facts (training data).

        Returns
        -------
        path : pathlib.Path
        """
        if not hasattr(self, "coef_"):
            raise ParameterError("this PatternClassifier is not fitted yet: call fit() before save().")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": PATTERN_MODEL_FORMAT,
            "version": 1,
            "classes": list(CLASSES),
            "features": list(MODEL_FEATURES),
            "C": float(self.C),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
            **(extra or {}),
        }
        path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        return path


def _load(model):
    path = DEFAULT_PATTERN_MODEL if model is None else Path(model)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read the pattern model '{path}': {exc}") from exc
    if meta.get("format") != PATTERN_MODEL_FORMAT or list(meta.get("features", [])) != list(MODEL_FEATURES):
        raise ParameterError(f"'{path}' is not a dbrain pattern model of this version: retrain it.")
    return (np.asarray(meta["mean"]), np.asarray(meta["scale"]), np.asarray(meta["coef"]), np.asarray(meta["intercept"]))
