"""Retraining the seizure detector on a BIDS epilepsy dataset in the SzCORE layout.

epilepsy2bids writes CHB-MIT, Siena, TUSZ … as
``sub-XX/ses-YY/eeg/sub-XX_ses-YY_task-szMonitoring_run-ZZ_eeg.edf`` with an
events file ``…_events.tsv`` beside each recording (``eventType`` ``sz…`` for
seizures, ``bckg`` for background). :func:`train_seizure_model` reads every
such pair, evaluates the detector by leave-subjects-out cross-validation
(never a random split of windows), tunes the sensitivity presets on the
held-out predictions, trains the final model on everything and writes a model
folder that ``dbrain analyze --seizure-model DIR`` uses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..events import make_events
from ..utils import _check_range, _validate_type, logger
from ._postprocess import PRESETS, events_from_probability


@dataclass(frozen=True)
class BidsRecording:
    """One recording of a BIDS dataset and its events file."""

    subject: str
    eeg: Path
    events: Path


def find_bids_recordings(root) -> list[BidsRecording]:
    """Recordings with an events file in a BIDS dataset (SzCORE layout).

    Parameters
    ----------
    root : path-like
        The dataset folder (holding ``sub-*`` folders).

    Returns
    -------
    recordings : list of BidsRecording
        Sorted by path; recordings without an ``_events.tsv`` are left out
        (with a log message).

    Raises
    ------
    dbrain.errors.ParameterError
        If ``root`` is not a folder or holds no ``sub-*/[ses-*/]eeg/*_eeg.edf``.
    """
    _validate_type(root, (str, os.PathLike), "data", "path-like")
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"'{root}' is not a folder: give the root of a BIDS dataset (holding sub-* folders).")
    files = sorted({*root.glob("sub-*/ses-*/eeg/*_eeg.edf"), *root.glob("sub-*/eeg/*_eeg.edf")})
    if not files:
        raise ParameterError(f"no BIDS EEG recordings (sub-*/ses-*/eeg/*_eeg.edf) under '{root}'.")
    out = []
    for eeg in files:
        events = eeg.with_name(eeg.name[: -len("_eeg.edf")] + "_events.tsv")
        if not events.is_file():
            logger.info("skipping %s: no %s", eeg, events.name)
            continue
        out.append(BidsRecording(eeg.relative_to(root).parts[0][len("sub-") :], eeg, events))
    if not out:
        raise ParameterError(f"no BIDS EEG recording under '{root}' has an _events.tsv beside it.")
    return out


def event_metrics(probabilities, references, *, on: float, off: float, smoothing=5.0, merge_gap=10.0, min_duration=10.0) -> dict:
    """Event sensitivity and false positives per 24 h over several recordings (SzCORE event scoring).

    Each recording is scored with :func:`dbrain.evaluate.score_events`
    (SzCORE's rules: 30 s tolerance before onset, 60 s after offset, events
    closer than 90 s merged, any overlap counts); hits and false positives are
    summed over recordings.

    Parameters
    ----------
    probabilities : list of ndarray
        Per-second seizure probability of each recording.
    references : list of list of (onset, duration)
        True seizures of each recording.
    on, off : float
        Hysteresis thresholds.
    smoothing, merge_gap, min_duration : float
        Post-processing, as in :class:`~dbrain.detect.SeizureDetector`.

    Returns
    -------
    metrics : dict
        ``sensitivity`` (None without seizures), ``fp_per_24h``, ``n_seizures``, ``hits``, ``false_positives``, ``hours``.
    """
    from ..evaluate import score_events

    hits = fps = n_ref = 0
    seconds = 0
    for prob, ref in zip(probabilities, references, strict=True):
        runs, _ = events_from_probability(
            prob, on=on, off=off, smoothing=smoothing, merge_gap=merge_gap, min_duration=min_duration
        )
        ref_table = make_events([r[0] for r in ref], [r[1] for r in ref], "sz")
        hyp_table = make_events([float(a) for a, _ in runs], [float(b - a) for a, b in runs], "sz")
        scores = score_events(ref_table, hyp_table, float(len(prob)))
        hits, fps, n_ref, seconds = hits + scores["tp"], fps + scores["fp"], n_ref + scores["n_ref"], seconds + len(prob)
    return {
        "sensitivity": hits / n_ref if n_ref else None,
        "fp_per_24h": fps * 86400.0 / max(seconds, 1),
        "n_seizures": n_ref,
        "hits": int(hits),
        "false_positives": int(fps),
        "hours": seconds / 3600.0,
    }


def tune_presets(probabilities, references, *, fp_targets=(4.0, 1.0, 0.25)) -> tuple[dict, list[dict]]:
    """Sensitivity presets from held-out predictions.

    ``high`` is the lowest ``on`` threshold (grid 0.30–0.95) whose false
    positives per 24 h stay within ``fp_targets[0]``; ``medium`` is at least
    0.1 above it and within ``fp_targets[1]``; ``low`` at least 0.15 above
    ``medium`` and within ``fp_targets[2]``. ``off`` is 0.6 × ``on`` (at least 0.2).

    Parameters
    ----------
    probabilities : list of ndarray
        Per-second held-out probabilities.
    references : list of list of (onset, duration)
        True seizures.
    fp_targets : tuple of float
        False positives per 24 h allowed for high, medium and low.

    Returns
    -------
    presets : dict
        ``{"low": [on, off], "medium": …, "high": …}``.
    curve : list of dict
        Event metrics at every grid threshold.
    """
    grid = [round(float(x), 2) for x in np.arange(0.30, 0.951, 0.05)]
    curve = []
    for on in grid:
        off = round(max(0.2, on * 0.6), 2)
        curve.append({"on": on, "off": off, **event_metrics(probabilities, references, on=on, off=off)})

    def lowest(fp_max):
        ok = [c["on"] for c in curve if c["fp_per_24h"] <= fp_max]
        return ok[0] if ok else grid[-1]

    high = lowest(fp_targets[0])
    medium = min(0.95, max(high + 0.1, lowest(fp_targets[1])))
    low = min(0.95, max(medium + 0.15, lowest(fp_targets[2])))
    presets = {
        name: [round(on, 2), round(max(0.2, on * 0.6), 2)] for name, on in (("low", low), ("medium", medium), ("high", high))
    }
    return presets, curve


def _reference(events) -> list[tuple[float, float]]:
    sz = events[events["eventType"].astype(str).str.lower().str.startswith("sz")]
    return [(float(o), float(d)) for o, d in zip(sz["onset"], sz["duration"], strict=True)]


def train_seizure_model(
    data,
    out,
    *,
    folds: int = 5,
    n_estimators: int = 300,
    max_background: int = 3000,
    random_state: int = 0,
    n_jobs: int = 2,
    on_progress=None,
) -> dict:
    """Train a seizure model on a BIDS epilepsy dataset and write the model folder.

    Parameters
    ----------
    data : path-like
        A BIDS dataset in the SzCORE layout (see :func:`find_bids_recordings`).
    out : path-like
        Model folder to write: ``model.txt``, ``model.json``,
        ``metrics.json`` and ``MODEL_CARD.md``.
    folds : int
        Cross-validation folds, grouped by subject (at most the number of
        subjects; with one subject there is no cross-validation and the
        shipped presets are kept).
    n_estimators : int
        Boosting rounds.
    max_background : int
        Non-seizure windows kept per recording (all seizure windows are kept).
    random_state : int
        Seed.
    n_jobs : int
        Threads.
    on_progress : callable | None
        Called as ``on_progress(fraction, text)``.

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds: the data used, the cross-validated
        event metrics at each preset and the presets.

    Raises
    ------
    dbrain.errors.ParameterError
        For a folder that is not such a dataset, or one without seizures.
    """
    from ..events import read_events
    from ..io import read_recording
    from ._seizures import SeizureDetector, _aggregate, _per_second, with_short_views

    recs = find_bids_recordings(data)
    _validate_type(folds, int, "folds")
    _check_range("folds", folds, 2)
    report = on_progress or (lambda fraction, text: None)
    out = Path(out)
    det = SeizureDetector(n_estimators=n_estimators, max_background=max_background, random_state=random_state, n_jobs=n_jobs)
    det._validate()
    rng = np.random.default_rng(random_state)
    rows, refs, hours = [], [], 0.0
    for i, rec in enumerate(recs):
        report(0.6 * i / len(recs), f"features {rec.eeg.name}")
        raw, _ = read_recording(rec.eeg)
        events = read_events(rec.events)
        rows.append(det._recording_rows(raw, events, rng))
        refs.append(_reference(events))
        hours += raw.n_times / raw.info["sfreq"] / 3600.0
    n_seizures = sum(len(r) for r in refs)
    if n_seizures == 0:
        raise ParameterError(f"no seizures (eventType 'sz…') in the events files under '{data}': nothing to learn from.")
    subjects = sorted({r.subject for r in recs})
    metrics = {
        "data": str(Path(data).resolve()),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "recordings": len(recs),
        "subjects": len(subjects),
        "hours": round(hours, 3),
        "seizures": n_seizures,
        "cross_validation": None,
        "presets": {k: list(v) for k, v in PRESETS.items()},
    }
    k = min(folds, len(subjects))
    if k >= 2:
        order = np.random.default_rng(random_state).permutation(len(subjects))
        fold_of = {subjects[j]: int(n % k) for n, j in enumerate(order)}
        probs = [None] * len(recs)
        for f in range(k):
            report(0.6 + 0.3 * f / k, f"cross-validation fold {f + 1}/{k}")
            train_idx = [i for i, r in enumerate(recs) if fold_of[r.subject] != f]
            X = np.concatenate([rows[i][0] for i in train_idx])
            y = np.concatenate([rows[i][1] for i in train_idx])
            if y.min() == y.max():
                continue
            fold_det = SeizureDetector(n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs)._fit_arrays(
                *with_short_views(X, y)
            )
            for i, rec in enumerate(recs):
                if fold_of[rec.subject] == f:
                    p, _, _, n_sec = fold_det._channel_window_proba(read_recording(rec.eeg)[0])
                    probs[i] = _per_second(_aggregate(p, fold_det.top_k), n_sec)
        held = [i for i, p in enumerate(probs) if p is not None]
        if held and any(refs[i] for i in held):
            presets, curve = tune_presets([probs[i] for i in held], [refs[i] for i in held])
            metrics["presets"] = presets
            metrics["cross_validation"] = {
                "folds": k,
                "grouped_by": "subject",
                "recordings_scored": len(held),
                "presets": {
                    name: event_metrics([probs[i] for i in held], [refs[i] for i in held], on=on, off=off)
                    for name, (on, off) in presets.items()
                },
                "curve": curve,
                "note": "presets tuned on the same held-out predictions they are reported on (optimistic)",
            }
    report(0.92, "final model")
    X = np.concatenate([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows])
    det._fit_arrays(*with_short_views(X, y))
    det.meta_["presets"] = metrics["presets"]
    det.meta_["trained_on"] = {
        "bids": metrics["data"],
        "recordings": len(recs),
        "subjects": len(subjects),
        "hours": metrics["hours"],
    }
    det.meta_["created_by"] = "dbrain train seizures"
    det.save(out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(_card(metrics), encoding="utf-8")
    report(1.0, "done")
    return metrics


def _card(m: dict) -> str:
    lines = [
        "# Seizure model (retrained with `dbrain train seizures`)",
        "",
        "> Decision support only: every detection must be confirmed by a qualified clinician.",
        "",
        f"- Training data: `{m['data']}` — {m['recordings']} recordings, {m['subjects']} subjects, "
        f"{m['hours']:.1f} h, {m['seizures']} seizures (SzCORE `eventType` `sz…`).",
        f"- Created: {m['created']}. Model: dbrain's channel-level LightGBM on 2 s windows (see dbrain's docs/seizures.md).",
        "",
        "## Held-out evaluation",
        "",
    ]
    cv = m["cross_validation"]
    if cv is None:
        lines.append(
            "No cross-validation (fewer than two subjects, or no seizure in any held-out fold): this model is not evaluated."
        )
    else:
        lines += [
            f"{cv['folds']}-fold cross-validation grouped by subject (no subject in both training and test), "
            f"{cv['recordings_scored']} recordings scored. SzCORE event scoring (dbrain.evaluate).",
            "",
            "| preset | on / off | sensitivity | FP per 24 h | seizures |",
            "|---|---|---|---|---|",
        ]
        for name, r in cv["presets"].items():
            sens = "n/a" if r["sensitivity"] is None else f"{r['sensitivity']:.3f}"
            on, off = m["presets"][name]
            lines.append(f"| {name} | {on} / {off} | {sens} | {r['fp_per_24h']:.2f} | {r['n_seizures']} |")
        lines += ["", f"Note: {cv['note']}."]
    lines += [
        "",
        "## Limits",
        "",
        "- The metrics hold for data like the training data only (population, montage, amplifiers, annotation style).",
        "- Seizures longer than about 10 minutes lower the background they are compared with (status epilepticus).",
        "",
    ]
    return "\n".join(lines)
