"""Score a folder (or file) of detections against a folder (or file) of reference annotations.

Aggregation follows SzCORE's dataset scorer (``szcore-evaluation``,
``evaluate_dataset(..., avg_per_subject=True)``, its default): for each
subject the counts of all its recordings are summed (TP, FP, reference events
or samples, and scored duration), the subject's sensitivity, precision, F1 and
FP/24 h are computed from those sums, and the dataset figure is the mean of
the subject figures, ignoring subjects where a figure is undefined (``nan``,
e.g. sensitivity of a subject without seizures); the standard deviation over
subjects (population, ``ddof=0``) goes with it. The pooled figures
(all recordings summed, ``avg_per_subject=False``) are given too.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EventsError, ParameterError
from ..utils._logging import logger
from ..utils.check import _check_option, _check_range
from ._scoring import SCORE_KEYS, _metrics, score_events, score_samples

__all__ = ["EvaluationResult", "evaluate"]

METRICS = ("sensitivity", "precision", "f1", "fp_per_24h")
_COUNTS = ("n_ref", "n_hyp", "tp", "fp", "duration")
#: Largest disagreement (s) tolerated between the ``recordingDuration`` of a hypothesis and its reference.
DURATION_TOLERANCE = 1.0
_SUBJECT = re.compile(r"(?:^|[_/\\])sub-([A-Za-z0-9]+)")


@dataclass
class EvaluationResult:
    """Scores of a set of detections against reference annotations.

    Attributes
    ----------
    recordings : pandas.DataFrame
        One row per recording and scoring: ``scoring`` (``event`` or
        ``sample``), ``subject``, ``recording`` (path relative to the reference
        folder), ``ref_file``, ``hyp_file`` (empty if scored as no detection),
        then the keys of :func:`~dbrain.evaluate.score_events`.
    subjects : pandas.DataFrame
        One row per subject and scoring: ``scoring``, ``subject``,
        ``n_recordings``, then the same keys, computed from the subject's
        summed counts.
    summary : pandas.DataFrame
        One row per scoring (index ``event``, ``sample``): the mean over
        subjects of each metric, its standard deviation (``<metric>_std``),
        the pooled value over all recordings (``<metric>_pooled``),
        ``n_subjects`` and ``n_recordings``.
    parameters : dict
        The scoring parameters used.
    """

    recordings: pd.DataFrame
    subjects: pd.DataFrame
    summary: pd.DataFrame
    parameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the result as JSON-ready builtins (``nan`` becomes ``None``).

        Returns
        -------
        result : dict
            ``parameters``, ``summary`` (``{scoring: {key: value}}``),
            ``subjects`` and ``recordings`` (lists of row dicts).
        """

        def clean(value):
            if isinstance(value, float | np.floating):
                return None if math.isnan(value) else float(value)
            if isinstance(value, np.integer):
                return int(value)
            return value

        def rows(df):
            return [{k: clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]

        summary = {scoring: {k: clean(v) for k, v in row.items()} for scoring, row in self.summary.iterrows()}
        return {
            "parameters": dict(self.parameters),
            "summary": summary,
            "subjects": rows(self.subjects),
            "recordings": rows(self.recordings),
        }


def _subject_of(relative: str) -> str:
    """BIDS subject label from a relative path; the recording name when there is none."""
    name = Path(relative).name
    match = _SUBJECT.search(name) or _SUBJECT.search(relative)
    if match:
        return f"sub-{match.group(1)}"
    stem = name[: -len(".tsv")] if name.lower().endswith(".tsv") else name
    return stem[: -len("_events")] if stem.endswith("_events") else stem


def _collect(path: Path, role: str) -> dict[str, Path]:
    """Events TSVs of a file or folder, keyed by path relative to the folder."""
    if path.is_file():
        return {path.name: path}
    if not path.is_dir():
        raise EventsError(f"{role} '{path}' does not exist")
    files = sorted(path.rglob("*_events.tsv")) or sorted(path.rglob("*.tsv"))
    files = [f for f in files if f.is_file() and not f.name.startswith(".")]
    if not files:
        raise EventsError(f"{role} folder '{path}' holds no .tsv events file")
    return {f.relative_to(path).as_posix(): f for f in files}


def _pair(refs: dict[str, Path], hyps: dict[str, Path], missing: str) -> list[tuple[str, Path, Path | None]]:
    """Pair each reference with the hypothesis of the same relative path (or else unique file name)."""
    by_name: dict[str, list[str]] = {}
    for key in hyps:
        by_name.setdefault(Path(key).name, []).append(key)
    pairs, unpaired, used = [], [], set()
    for key, ref_file in refs.items():
        hyp_key = key if key in hyps else None
        if hyp_key is None and len(by_name.get(Path(key).name, [])) == 1:
            hyp_key = by_name[Path(key).name][0]
        if hyp_key is None:
            unpaired.append(key)
            pairs.append((key, ref_file, None))
        else:
            used.add(hyp_key)
            pairs.append((key, ref_file, hyps[hyp_key]))
    extra = sorted(set(hyps) - used)
    if len(unpaired) == len(refs):
        raise EventsError(
            f"no hypothesis file pairs with a reference file: reference has {_few(list(refs))}, hypothesis has {_few(list(hyps))}"
        )
    if missing == "error" and unpaired:
        raise EventsError(
            f"{len(unpaired)} reference file(s) have no hypothesis file of the same name: {_few(unpaired)}"
            " (use --missing-as-empty to score them as no detection)"
        )
    if missing == "error" and extra:
        raise EventsError(f"{len(extra)} hypothesis file(s) have no reference file of the same name: {_few(extra)}")
    for key in extra:
        logger.warning("hypothesis %s has no reference file; ignored", key)
    for key in unpaired:
        logger.warning("reference %s has no hypothesis file; scored as no detection", key)
    return pairs


def _few(names: list[str], n: int = 3) -> str:
    shown = ", ".join(f"'{x}'" for x in names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def _duration_of(events: pd.DataFrame, path: Path, required: bool) -> float | None:
    """The one ``recordingDuration`` of an events file (None if absent and not required)."""
    values = (
        pd.to_numeric(events["recordingDuration"], errors="coerce").dropna().unique() if "recordingDuration" in events else []
    )
    if len(values) == 0:
        if required:
            raise EventsError(
                f"reference '{path}' gives no recordingDuration (SzCORE events TSVs carry the recording's duration in every row)"
            )
        return None
    if np.ptp(values) > 1e-6:
        raise EventsError(f"'{path}' has different recordingDuration values: {', '.join(f'{v:g}' for v in values[:4])}")
    return float(values[0])


def _mean_std(values) -> tuple[float, float]:
    """Mean and population std of the defined values (both nan if none), as ``np.nanmean``/``np.nanstd``."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std())


def _summed(rows: pd.DataFrame) -> dict:
    """Scores from the summed counts of several recordings (SzCORE's ``Result.__add__``)."""
    sums = {k: rows[k].sum() for k in _COUNTS}
    return _metrics(int(sums["n_ref"]), int(sums["n_hyp"]), int(sums["tp"]), int(sums["fp"]), float(sums["duration"]))


def evaluate(
    ref_path: str | os.PathLike,
    hyp_path: str | os.PathLike,
    *,
    missing: str = "error",
    tolerance_before: float = 30.0,
    tolerance_after: float = 60.0,
    min_gap: float = 90.0,
    max_duration: float = 300.0,
    sample_fs: float = 1.0,
) -> EvaluationResult:
    """Score detections against reference seizure annotations, per recording, subject and dataset.

    Parameters
    ----------
    ref_path : path-like
        A reference events TSV, or a folder of them (searched recursively; if
        it holds any ``*_events.tsv`` only those are used, else every ``*.tsv``).
        Each must give the recording's duration in its ``recordingDuration``
        column, as SzCORE/epilepsy2bids TSVs do.
    hyp_path : path-like
        A hypothesis events TSV (paired with a reference file whatever its
        name), or a folder of them: each reference is paired with the
        hypothesis at the same relative path, or else with the one hypothesis
        of the same file name.
    missing : {"error", "empty"}
        What to do with a reference that has no hypothesis: ``"error"`` (also
        for hypotheses without reference), or ``"empty"`` to score it as a
        recording without detections, as SzCORE does (unpaired hypotheses are
        then ignored with a log warning).
    tolerance_before : float
        Event scoring: seconds before a reference onset where detections count.
    tolerance_after : float
        Event scoring: seconds after a reference offset where detections count.
    min_gap : float
        Event scoring: events closer than this (s) are merged.
    max_duration : float
        Event scoring: events longer than this (s) are split.
    sample_fs : float
        Sample scoring: grid rate in Hz (SzCORE: 1).

    Returns
    -------
    result : EvaluationResult
        Per-recording and per-subject tables and the subject-averaged summary.

    Raises
    ------
    dbrain.errors.EventsError
        If a path does not exist, a TSV cannot be read or lacks required
        columns, a reference gives no ``recordingDuration``, a hypothesis
        declares a duration more than 1 s from its reference's, or files do not
        pair up.
    dbrain.errors.ParameterError
        If a parameter is out of range, or one path is a file and the other a folder.

    Notes
    -----
    A subject is the BIDS ``sub-<label>`` found in the file name or, failing
    that, in its folders; files without one are each their own subject. The
    subject's counts are summed over its recordings, its metrics computed
    from the sums, and the dataset metrics averaged over subjects, ignoring
    undefined values: the convention of SzCORE's ``szcore-evaluation``. The
    reference's ``recordingDuration`` sets the scored length; seizure events
    are the rows accepted by :func:`~dbrain.evaluate.is_seizure`.
    """
    _check_option("missing", missing, ("error", "empty"))
    for name, value in (("tolerance_before", tolerance_before), ("tolerance_after", tolerance_after), ("min_gap", min_gap)):
        _check_range(name, value, 0, None)
    _check_range("max_duration", max_duration, 0, None, inclusive=False)
    _check_range("sample_fs", sample_fs, 0, None, inclusive=False)
    pairs = _pairs_of(Path(ref_path), Path(hyp_path), missing)
    event_params = {
        "tolerance_before": tolerance_before,
        "tolerance_after": tolerance_after,
        "min_gap": min_gap,
        "max_duration": max_duration,
    }
    records = []
    for key, ref_file, hyp_file in pairs:
        records += _score_recording(key, ref_file, hyp_file, event_params, sample_fs)
    columns = ["scoring", "subject", "recording", "ref_file", "hyp_file", *SCORE_KEYS]
    recordings = pd.DataFrame.from_records(records, columns=columns)
    subjects, summary = _aggregate(recordings)
    parameters = {**event_params, "sample_fs": sample_fs, "missing": missing, "aggregation": "mean over subjects"}
    return EvaluationResult(recordings=recordings, subjects=subjects, summary=summary, parameters=parameters)


def _pairs_of(ref_path: Path, hyp_path: Path, missing: str) -> list[tuple[str, Path, Path | None]]:
    """``(recording key, reference file, hypothesis file or None)`` for two files or two folders."""
    refs = _collect(ref_path, "reference")
    hyps = _collect(hyp_path, "hypothesis")
    if ref_path.is_file() != hyp_path.is_file():
        raise ParameterError(f"reference '{ref_path}' and hypothesis '{hyp_path}' must both be files or both be folders")
    if ref_path.is_file():
        return [(next(iter(refs)), ref_path, hyp_path)]
    return _pair(refs, hyps, missing)


def _score_recording(key: str, ref_file: Path, hyp_file: Path | None, event_params: dict, sample_fs: float) -> list[dict]:
    """The event-scoring and the sample-scoring row of one recording (no hypothesis: no detections)."""
    from ..events import read_events

    ref = read_events(ref_file)
    duration = _duration_of(ref, ref_file, required=True)
    if hyp_file is None:
        hyp = ref.iloc[0:0]
    else:
        hyp = read_events(hyp_file)
        hyp_duration = _duration_of(hyp, hyp_file, required=False)
        if hyp_duration is not None and abs(hyp_duration - duration) > DURATION_TOLERANCE:
            raise EventsError(
                f"hypothesis '{hyp_file}' is for a recording of {hyp_duration:g} s"
                f" but its reference '{ref_file}' lasts {duration:g} s"
            )
    base = {
        "subject": _subject_of(key),
        "recording": key,
        "ref_file": str(ref_file),
        "hyp_file": "" if hyp_file is None else str(hyp_file),
    }
    return [
        {"scoring": "event", **base, **score_events(ref, hyp, duration, **event_params)},
        {"scoring": "sample", **base, **score_samples(ref, hyp, duration, fs=sample_fs)},
    ]


def _aggregate(recordings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-subject sums and the dataset summary (mean and SD over subjects, and pooled), per scoring."""
    subject_rows, summary_rows = [], {}
    for scoring in ("event", "sample"):
        part = recordings[recordings["scoring"] == scoring]
        per_subject = []
        for subject, rows in part.groupby("subject", sort=True):
            per_subject.append({"scoring": scoring, "subject": subject, "n_recordings": len(rows), **_summed(rows)})
        subject_rows += per_subject
        pooled = _summed(part)
        summary = {}
        for metric in METRICS:
            summary[metric], summary[f"{metric}_std"] = _mean_std([s[metric] for s in per_subject])
        for metric in METRICS:
            summary[f"{metric}_pooled"] = pooled[metric]
        summary["n_subjects"] = len(per_subject)
        summary["n_recordings"] = len(part)
        summary_rows[scoring] = summary
    subjects = pd.DataFrame.from_records(subject_rows, columns=["scoring", "subject", "n_recordings", *SCORE_KEYS])
    summary = pd.DataFrame.from_dict(summary_rows, orient="index")
    summary.index.name = "scoring"
    return subjects, summary
