"""Trainers behind ``dbrain train dementia|epilepsy DATA --out MODEL_DIR``.

``DATA`` is a BIDS dataset (``participants.tsv`` with a diagnosis column, like
OpenNeuro ds004504, and ``sub-*/[ses-*/]eeg/*_eeg.*`` recordings) or a
manifest CSV with columns ``path``, ``label`` and ``subject`` (paths relative
to the CSV). Every recording becomes one feature row
(:func:`recording_features`); the screen is evaluated by nested subject-wise
cross-validation and then fitted on everything; the model folder gets
``model.json``, ``metrics.json``, ``features.parquet`` and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..utils.check import _check_option
from ._evaluate import nested_cross_validate
from ._features import recording_features
from ._screens import DementiaScreen, EpilepsyScreen

SCREENS = {"dementia": DementiaScreen, "epilepsy": EpilepsyScreen}

_POSITIVE = {
    "dementia": {"a", "ad", "alzheimer", "alzheimers", "dementia", "1", "true", "yes"},
    "epilepsy": {"e", "epilepsy", "1", "true", "yes"},
}
_NEGATIVE = {"c", "cn", "hc", "control", "controls", "healthy", "normal", "0", "false", "no"}
_LABEL_COLUMNS = ("diagnosis", "group", "dx", "label")
_EEG_EXT = (".edf", ".bdf", ".set", ".vhdr", ".fif", ".fif.gz")


def _label(value, positive, negative):
    v = str(value).strip().lower()
    return 1 if v in positive else 0 if v in negative else None


def list_labelled_recordings(data, kind: str, *, label_column=None, positive=None, negative=None) -> pd.DataFrame:
    """The labelled recordings of a BIDS dataset or a manifest CSV.

    Parameters
    ----------
    data : str | pathlib.Path
        BIDS folder (``participants.tsv``) or manifest CSV (``path, label, subject``).
    kind : str
        ``"dementia"`` or ``"epilepsy"`` (chooses the default label values).
    label_column : str | None
        Diagnosis column of ``participants.tsv``; the first of ``diagnosis``,
        ``group``, ``dx``, ``label`` (any case) when None.
    positive, negative : list of str | None
        Label values of the screened condition and of controls (case-free);
        defaults: AD/dementia or epilepsy; control/healthy/HC/CN/C. Rows with
        other values (e.g. ``F`` = frontotemporal dementia in ds004504) are left out.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``path``, ``subject``, ``label`` (0/1), ``value`` (as given).
    """
    _check_option("kind", kind, tuple(SCREENS))
    pos = {s.lower() for s in (positive or _POSITIVE[kind])}
    neg = {s.lower() for s in (negative or _NEGATIVE)}
    data = Path(data)
    rows = []
    if data.is_file():
        man = pd.read_csv(data)
        miss = {"path", "label", "subject"} - set(man.columns)
        if miss:
            raise ParameterError(f"manifest '{data}' lacks columns {sorted(miss)} (needs path, label, subject).")
        for r in man.itertuples():
            p = Path(r.path) if Path(r.path).is_absolute() else data.parent / r.path
            rows.append({"path": p, "subject": str(r.subject), "value": r.label, "label": _label(r.label, pos, neg)})
    elif (data / "participants.tsv").is_file():
        part = pd.read_csv(data / "participants.tsv", sep="\t", dtype=str)
        cols = {c.lower(): c for c in part.columns}
        col = label_column or next((cols[c] for c in _LABEL_COLUMNS if c in cols), None)
        if col is None or col not in part.columns:
            raise ParameterError(f"participants.tsv has no diagnosis column (tried {label_column or _LABEL_COLUMNS}).")
        if "participant_id" not in part.columns:
            raise ParameterError("participants.tsv has no participant_id column.")
        for _, r in part.iterrows():
            sub = str(r["participant_id"])
            files = sorted(f for f in (data / sub).rglob("*_eeg.*") if "".join(f.suffixes[-2:]).lower().endswith(_EEG_EXT))
            value = r[col]
            for f in files:
                rows.append({"path": f, "subject": sub, "value": value, "label": _label(value, pos, neg)})
    else:
        raise ParameterError(f"'{data}' is neither a manifest CSV nor a BIDS folder with participants.tsv.")
    table = pd.DataFrame(rows, columns=["path", "subject", "value", "label"])
    table = table[table["label"].notna()].reset_index(drop=True)
    if table.empty:
        raise ParameterError(f"no recording in '{data}' has a {kind} or control label.")
    table["label"] = table["label"].astype(int)
    return table


def write_model(screen, X: pd.DataFrame, y, groups, out, *, cohort: str, repeats: int = 3, seed: int = 0) -> dict:
    """Evaluate a screen by nested CV, fit it on all data and write a model folder.

    Parameters
    ----------
    screen : DementiaScreen | EpilepsyScreen
        Unfitted screen.
    X : pandas.DataFrame
        Feature rows.
    y : array-like of int
        Labels (0/1).
    groups : array-like
        Subject of each row.
    out : str | pathlib.Path
        Model folder (created).
    cohort : str
        One line describing the training data, for the model card.
    repeats : int
        Repetitions of the outer cross-validation split.
    seed : int
        Seed.

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cv = nested_cross_validate(screen, X, y, groups, repeats=repeats, random_state=seed)
    oof = cv.pop("oof")
    screen.fit(X, y, groups)
    screen.save(out / "model.json")
    metrics = {
        "screen": screen._name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cohort": cohort,
        "features": screen.features_,
        "C": screen.C_,
        "threshold": screen.threshold_,
        "n_train": screen.n_train_,
        "nested_cv": cv,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    feats = X.copy()
    feats["label"] = np.asarray(y).astype(int)
    feats["subject"] = np.asarray(groups).astype(str)
    feats.to_parquet(out / "features.parquet", index=False)
    oof.to_csv(out / "cv_predictions.csv", index=False)
    (out / "MODEL_CARD.md").write_text(model_card(metrics), encoding="utf-8")
    return metrics


def _fmt(v, nd=3):
    return "n/a" if v is None else f"{v:.{nd}f}"


def model_card(metrics: dict, *, extra: str = "") -> str:
    """A Markdown model card from ``metrics.json`` content.

    Parameters
    ----------
    metrics : dict
        What :func:`write_model` returns.
    extra : str
        Markdown appended (data caveats, cross-cohort results).

    Returns
    -------
    card : str
        The model card.
    """
    cv = metrics["nested_cv"]
    p, s = cv["pooled"], cv["spread"]
    lines = [
        f"# dbrain {metrics['screen']} screen — model card",
        "",
        "Decision support for a qualified clinician only: not a diagnosis, not for patients.",
        "",
        f"- Training data: {metrics['cohort']}",
        f"- Trained: {metrics['created']}; {metrics['n_train']['subjects']} subjects "
        f"({metrics['n_train']['positive']} positive), {len(metrics['features'])} features, logistic C = {metrics['C']}",
        f"- Decision threshold (training prevalence): {metrics['threshold']:.3f}",
        "- Model: median imputation, standardisation, L2 logistic regression (balanced class weights), Platt calibration "
        "on subject-grouped inner folds; intervals from 30 subject-bootstrap refits.",
        "",
        f"## Nested subject-wise cross-validation ({cv['outer_folds']} outer folds x {cv['repeats']} repeats, "
        f"{cv['n_subjects']} subjects, {cv['n_excluded_insufficient']} recordings excluded for insufficient clean EEG)",
        "",
        "| metric | pooled out-of-fold (mean over repeats ± SD) | per fold: mean ± SD [min, max] |",
        "|---|---|---|",
    ]
    for k in ("balanced_accuracy", "auroc", "sensitivity", "specificity", "brier"):
        lines.append(
            f"| {k} | {_fmt(p[k])} ± {_fmt(cv['pooled_sd_over_repeats'][k])} | "
            f"{_fmt(s[k]['mean'])} ± {_fmt(s[k]['sd'])} [{_fmt(s[k]['min'])}, {_fmt(s[k]['max'])}] |"
        )
    lines += [
        "",
        f"C chosen by the inner folds (count over outer folds): {cv['chosen_C']}",
        "",
        "### Reliability (pooled out-of-fold)",
        "",
    ]
    lines += ["| predicted | mean predicted | observed fraction positive | n |", "|---|---|---|---|"]
    for b in cv["reliability"]:
        lines.append(
            f"| {b['p_low']:.1f}–{b['p_high']:.1f} | {b['mean_predicted']:.2f} | {b['fraction_positive']:.2f} | {b['n']} |"
        )
    if extra:
        lines += ["", extra.strip()]
    return "\n".join(lines) + "\n"


def train_diagnosis_model(
    data, out, kind: str, *, label_column=None, positive=None, negative=None, repeats: int = 3, seed: int = 0, on_progress=None
) -> dict:
    """Train a dementia or epilepsy screen on labelled recordings and write a model folder.

    Parameters
    ----------
    data : str | pathlib.Path
        BIDS folder with ``participants.tsv`` or manifest CSV (``path, label, subject``).
    out : str | pathlib.Path
        Model folder to write.
    kind : str
        ``"dementia"`` or ``"epilepsy"``.
    label_column : str | None
        Diagnosis column of ``participants.tsv`` (see :func:`list_labelled_recordings`).
    positive, negative : list of str | None
        Label values of the condition and of controls.
    repeats : int
        Repetitions of the outer cross-validation split.
    seed : int
        Seed.
    on_progress : callable | None
        ``on_progress(fraction, text)`` while features are computed.

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds.
    """
    from ..io import read_recording

    table = list_labelled_recordings(data, kind, label_column=label_column, positive=positive, negative=negative)
    rows = []
    for i, r in enumerate(table.itertuples()):
        if on_progress:
            on_progress(i / len(table), Path(r.path).name)
        raw, _ = read_recording(r.path)
        rows.append(recording_features(raw).to_frame())
    X = pd.concat(rows, ignore_index=True)
    screen = SCREENS[kind]()
    return write_model(
        screen,
        X,
        table["label"].to_numpy(),
        table["subject"].to_numpy(),
        out,
        cohort=f"{len(table)} recordings from {data}",
        repeats=repeats,
        seed=seed,
    )
