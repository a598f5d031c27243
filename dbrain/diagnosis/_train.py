"""Trainers behind ``dbrain train dementia|epilepsy DATA --out MODEL_DIR``.

``DATA`` is a BIDS dataset (``participants.tsv`` with a diagnosis column, like
OpenNeuro ds004504, and ``sub-*/[ses-*/]eeg/*_eeg.*`` recordings) or a
manifest CSV with columns ``path``, ``label`` and ``subject`` (paths relative
to the CSV). Every recording becomes one feature row
(:func:`recording_features`); the screen is evaluated by nested subject-wise
cross-validation and then fitted on everything; the model folder gets
``model.json``, ``metrics.json``, ``features.parquet``, ``cv_predictions.csv``,
``reliability.png`` and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..utils._rename import renamed_parameter
from ..utils.check import _check_option
from ._adhd import adhd_features, write_adhd_model
from ._evaluate import nested_cross_validate
from ._features import DEMENTIA_FEATURE_PATH, recording_features
from ._screens import ADHDScreen, DementiaScreen, EpilepsyScreen

SCREENS = {"dementia": DementiaScreen, "epilepsy": EpilepsyScreen, "adhd": ADHDScreen}
#: Seconds of clean EEG per recording for each screen's training features (ADHD: its own path, ``ADHD_FEATURE_PATH``).
_MAX_SECONDS = {"dementia": 300.0, "epilepsy": 300.0}

_POSITIVE = {
    "dementia": {"a", "ad", "alzheimer", "alzheimers", "dementia", "1", "true", "yes"},
    "epilepsy": {"e", "epilepsy", "1", "true", "yes"},
    "adhd": {"adhd", "add", "1", "true", "yes"},
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
        ``"dementia"``, ``"epilepsy"`` or ``"adhd"`` (chooses the default label values).
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


@renamed_parameter("seed", "random_state", since="0.2")
def write_model(screen, X: pd.DataFrame, y, groups, out, *, cohort: str, repeats: int = 3, random_state: int = 0) -> dict:
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
    random_state : int
        Seed of the cross-validation splits (formerly ``seed``).

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cv = nested_cross_validate(screen, X, y, groups, repeats=repeats, random_state=random_state)
    oof = cv.pop("oof")
    screen.fit(X, y, groups)
    screen.save(out / "model.json")
    metrics = {
        "screen": screen._name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cohort": cohort,
        "features": screen.features_,
        "model": screen.model_,
        "candidate": screen.candidate_,
        "C": screen.C_,
        "inner_scores": screen.inner_scores_,
        "threshold": screen.threshold_,
        "n_train": screen.n_train_,
        "nested_cv": cv,
    }
    reliability_figure(cv["reliability"], out / "reliability.png", title=f"{screen._name} screen, nested CV")
    metrics["reliability_figure"] = "reliability.png"
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    feats = X.copy()
    feats["label"] = np.asarray(y).astype(int)
    feats["subject"] = np.asarray(groups).astype(str)
    feats.to_parquet(out / "features.parquet", index=False)
    oof.to_csv(out / "cv_predictions.csv", index=False)
    (out / "MODEL_CARD.md").write_text(model_card(metrics), encoding="utf-8")
    return metrics


def _wilson(k, n, z=1.96):
    """Wilson 95 % interval of a proportion ``k / n``."""
    if n == 0:
        return (float("nan"), float("nan"))
    ph = k / n
    d = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / d
    h = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def reliability_figure(bins: list[dict], path, *, title: str = "") -> Path:
    """Draw a reliability (calibration) curve with Wilson 95 % intervals to a PNG.

    Parameters
    ----------
    bins : list of dict
        Output of :func:`dbrain.diagnosis.reliability`.
    path : str | pathlib.Path
        PNG file to write.
    title : str
        Figure title.

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=100)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    if bins:
        x = np.array([b["mean_predicted"] for b in bins])
        yv = np.array([b["fraction_positive"] for b in bins])
        ci = np.array([_wilson(round(b["fraction_positive"] * b["n"]), b["n"]) for b in bins])
        err = np.clip([yv - ci[:, 0], ci[:, 1] - yv], 0.0, None)  # rounding can put a bound a hair inside
        ax.errorbar(x, yv, yerr=err, fmt="o-", color="C0", capsize=3, label="out-of-fold")
        for xi, yi, b in zip(x, yv, bins, strict=True):
            ax.annotate(f"n={b['n']}", (xi, yi), textcoords="offset points", xytext=(4, -12), fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability", ylabel="observed fraction positive")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


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
    model = metrics.get("model") or f"logistic C={metrics['C']}"
    if model.startswith("lightgbm"):
        what = (
            "LightGBM gradient boosting (balanced class weights, missing values handled by the trees), stored as "
            "LightGBM text inside model.json"
        )
    else:
        what = "median imputation, standardisation, L2 logistic regression (balanced class weights)"
    has_lgbm = any(str(k).startswith("lightgbm") for k in (metrics.get("inner_scores") or {}))
    among = (
        "logistic (C grid) and LightGBM candidates"
        if has_lgbm or not metrics.get("inner_scores")
        else "logistic candidates (C grid)"
    )
    lines = [
        f"# dbrain {metrics['screen']} screen — model card",
        "",
        "Decision support for a qualified clinician only: not a diagnosis, not for patients.",
        "",
        f"- Training data: {metrics['cohort']}",
        f"- Trained: {metrics['created']}; {metrics['n_train']['subjects']} subjects "
        f"({metrics['n_train']['positive']} positive), {len(metrics['features'])} features",
        f"- Decision threshold (training prevalence): {metrics['threshold']:.3f}",
        f"- Shipped model: **{model}**, chosen by AUROC on subject-grouped inner folds of all training subjects "
        f"among {among}: {what}; Platt calibration on subject-grouped inner folds; "
        "intervals from 30 subject-bootstrap refits.",
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
    chosen = cv.get("chosen_model") or cv.get("chosen_C", {})
    lines += [
        "",
        "### Model choice inside the outer training sets",
        "",
        "Each outer fold's training subjects choose one candidate by the AUROC of its out-of-fold scores on "
        "subject-grouped inner folds (ties: the logistic model with the smallest C).",
        "",
        "| candidate | chosen (outer folds) | inner AUROC: mean [min, max] over outer folds |",
        "|---|---|---|",
    ]
    for label, n in chosen.items():
        a = cv.get("inner_auroc", {}).get(label)
        span = f"{a['mean']:.3f} [{a['min']:.3f}, {a['max']:.3f}]" if a else "n/a"
        lines.append(f"| {label} | {n} of {len(cv['folds'])} | {span} |")
    lines += [
        "",
        "### Reliability (pooled out-of-fold)",
        "",
    ]
    if metrics.get("reliability_figure"):
        lines += [f"![Reliability curve, pooled out-of-fold predictions]({metrics['reliability_figure']})", ""]
    lines += [
        "Out-of-fold predictions of all repeats pooled (each subject counted once per repeat); the interval is a "
        "Wilson 95 % interval of the observed fraction, which ignores the repeats' dependence and is therefore too narrow.",
        "",
        "| predicted | mean predicted | observed fraction positive (95 % CI) | n |",
        "|---|---|---|---|",
    ]
    for b in cv["reliability"]:
        lo, hi = _wilson(round(b["fraction_positive"] * b["n"]), b["n"])
        lines.append(
            f"| {b['p_low']:.1f}–{b['p_high']:.1f} | {b['mean_predicted']:.2f} | {b['fraction_positive']:.2f} "
            f"({lo:.2f}–{hi:.2f}) | {b['n']} |"
        )
    if extra:
        lines += ["", extra.strip()]
    return "\n".join(lines) + "\n"


@renamed_parameter("seed", "random_state", since="0.2")
def train_diagnosis_model(
    data,
    out,
    kind: str,
    *,
    label_column=None,
    positive=None,
    negative=None,
    repeats: int = 3,
    random_state: int = 0,
    on_progress=None,
) -> dict:
    """Train a dementia, epilepsy or ADHD screen on labelled recordings and write a model folder.

    Parameters
    ----------
    data : str | pathlib.Path
        BIDS folder with ``participants.tsv`` or manifest CSV (``path, label, subject``).
    out : str | pathlib.Path
        Model folder to write.
    kind : str
        ``"dementia"``, ``"epilepsy"`` or ``"adhd"``.
    label_column : str | None
        Diagnosis column of ``participants.tsv`` (see :func:`list_labelled_recordings`).
    positive, negative : list of str | None
        Label values of the condition and of controls.
    repeats : int
        Repetitions of the outer cross-validation split.
    random_state : int
        Seed of the cross-validation splits (formerly ``seed``).
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
        if kind == "adhd":  # the shipped screen's own path: first 60 s, band-pass, rescaled (units unknown)
            rows.append(adhd_features(raw).to_frame())
            continue
        # the dementia screen's own feature path (rescaled, artifact fallback), the way it is used in analyze
        kw = {"network": False, **DEMENTIA_FEATURE_PATH} if kind == "dementia" else {}
        rows.append(recording_features(raw, max_duration=_MAX_SECONDS[kind], **kw).to_frame())
    X = pd.concat(rows, ignore_index=True)
    fit = (X, table["label"].to_numpy(), table["subject"].to_numpy(), out)
    how = {"cohort": f"{len(table)} recordings from {data}", "repeats": repeats, "random_state": random_state}
    if kind == "adhd":
        # the shipped model's recipe (features, pipeline, theta/beta norms): on the shipped model's training data this
        # reproduces it (test_train_adhd_reproduces_the_shipped_model)
        return write_adhd_model(*fit, **how)
    screen = SCREENS[kind]()
    metrics = write_model(screen, *fit, **how)
    if kind == "dementia":
        # no interval widening was measured here (scripts/train_dementia_model.py measures it across cohorts)
        screen.set_applicability(
            age_limits=(18, 120), amplitude_uv_limits=(2.0, 150.0), extra={"amplitude_action": "widen", **DEMENTIA_FEATURE_PATH}
        )
        screen.save(Path(out) / "model.json")
        metrics["applicability"] = screen.applicability_
        (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    return metrics
