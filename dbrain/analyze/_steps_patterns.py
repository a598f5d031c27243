"""The patterns step: rhythmic and periodic patterns (ACNS 2021) per 10 s window, their timeline and events."""

from __future__ import annotations

import pandas as pd

from ..detect import reconcile_windows
from ..detect.patterns import PATTERN_CLASSES, PATTERN_EVENT_TYPES, THRESHOLDS, classify_patterns, plot_pattern_timeline
from ..engine._patterns import PatternStep
from ..errors import RecordingError
from ..report import Figure, KeyValues, Note, Section, Table
from ..utils._time import format_time
from ._registry import AnalysisContext, StepResult, recording_clock, register_step, unusable_reason


class _PatternStep(PatternStep):
    """The engine's pattern step plus the reconciliation with the seizure step's result (read at finish)."""

    def finish(self) -> StepResult:
        base = super().finish()
        if not base.summary.get("computed"):
            return base
        return patterns_numbers(self.context, base.data["patterns"], self.params_["window"])


@register_step(
    "patterns",
    "3",
    description="Rhythmic and periodic patterns (LPD, GPD, LRDA, GRDA) per 10 s window: timeline, prevalence, events.",
    params=dict(PatternStep.params),
    stream=_PatternStep,
    render=lambda result, ctx, params: patterns_sections(result, ctx, **params),
)
def patterns_step(ctx: AnalysisContext, window: float = 10.0) -> StepResult:
    """Rhythmic and periodic patterns (LPD, GPD, LRDA, GRDA) per 10 s window: timeline, prevalence, events.

    ``dbrain analyze`` runs the streaming form (:class:`dbrain.engine.PatternStep`); this is the
    whole-recording form it is tested against. Numbers only: see :func:`patterns_sections`.
    """
    raw = ctx.raw
    reason = unusable_reason(raw, min_duration=window, too_short=f"recording shorter than one {window:g} s window")
    result = None
    if reason is None:
        try:
            result = classify_patterns(raw, window=window)
        except RecordingError as exc:
            reason = str(exc)
    if reason is not None:
        return StepResult(summary={"computed": False, "reason": reason})
    return patterns_numbers(ctx, result, window)


def patterns_numbers(ctx: AnalysisContext, result, window: float) -> StepResult:
    """The step's summary, events and tables from a :class:`~dbrain.detect.patterns.PatternResult` (file and stream alike)."""
    rec = _reconcile(ctx, result, ctx.raw)
    w = rec.windows
    share = {c: float(100.0 * (w["decision"] == c).mean()) for c in PATTERN_CLASSES}
    prevalence = result.prevalence()
    summary = {
        "computed": True,
        "n_windows": int(len(w)),
        "percent_of_windows": share,
        "n_events": {t: int((rec.events["eventType"] == t).sum()) for t in PATTERN_EVENT_TYPES.values()},
        "decisions": {d: int((w["decision"] == d).sum()) for d in (*PATTERN_CLASSES,)},
        "seizures_by_definition": int((rec.events["eventType"] == "sz").sum()),
        "thresholds": dict(THRESHOLDS),
        "table": "patterns.parquet (one row per window)",
    }
    return StepResult(
        summary=summary,
        events=rec.events if len(rec.events) else None,
        tables={"patterns": w, "pattern_prevalence": prevalence},
        data={"patterns": result, "reconciled": rec},  # for the renderer; not written
    )


def patterns_sections(step_result: StepResult, ctx: AnalysisContext, window: float = 10.0) -> list:
    """The patterns report section, from the step's result (drawn only when a report is made)."""
    if not step_result.summary.get("computed"):
        reason = step_result.summary.get("reason")
        return [Section("Rhythmic and periodic patterns", "patterns", [Note(f"No pattern classification: {reason}.")])]
    result, rec = step_result.data["patterns"], step_result.data["reconciled"]
    w = rec.windows
    share = step_result.summary["percent_of_windows"]
    facts = [("Windows", f"{len(w)} × {window:g} s")]
    for c in PATTERN_CLASSES:
        sub = w[w["decision"] == c]
        if len(sub) and c != "other":
            facts.append(
                (
                    c.upper(),
                    f"{share[c]:.1f} % of windows, median {sub['frequency'].median():.1f} Hz, sides: "
                    + ", ".join(f"{k} {v}" for k, v in sub["side"].value_counts().items()),
                )
            )
    facts.append(("Other (no pattern)", f"{share['other']:.1f} % of windows"))
    blocks = [
        Note(
            "A small learned classifier on ACNS 2021 definition features (delta dominance, kurtosis and regularity of the "
            "discharge train, hemisphere power share, amplitude and evolution, frontal-polar share), trained on simulated "
            "patterns and 12 development segments (see docs/patterns.md); periodic discharges at 2.5 Hz or faster are a "
            "seizure by definition; events need two consecutive windows. Each window has one decision, reconciled with the "
            "seizure detector: decision support, to be confirmed in the EEG.",
            "info",
        ),
        KeyValues(facts),
        Figure(
            plot_pattern_timeline(result, title="Pattern timeline", clock=recording_clock(ctx)[::2]),
            caption="Class probabilities per window and the frequency of the winning pattern.",
        ),
    ]
    blocks += _reconciled_blocks(w, *recording_clock(ctx)[::2])
    if len(rec.events):
        ev = rec.events[["onset", "duration", "eventType", "confidence", "channels"]].copy()
        start, _, multiday = recording_clock(ctx)
        ev["onset"] = [format_time(float(t), start, multiday=multiday) for t in ev["onset"]]
        ev["confidence"] = ev["confidence"].round(2)
        blocks.append(Table(ev, max_rows=30, caption="Pattern events (runs of consecutive windows).", more_in="events.tsv"))
    prevalence = step_result.tables["pattern_prevalence"]
    if len(prevalence) > 1:  # more than one hour: the share of each class hour by hour
        shown = prevalence.copy()
        shown.insert(0, "hour", (shown.pop("period_start") // 3600).astype(int) + 1)
        blocks.append(Table(shown.round(1), max_rows=72, caption="Prevalence: % of each hour in each class."))
    return [Section("Rhythmic and periodic patterns", "patterns", blocks)]


def _reconcile(ctx: AnalysisContext, result, raw):
    """One decision per window with the seizure step's result (issue 17; see dbrain.detect.reconcile_windows)."""
    sz = ctx.results.get("seizures")
    computed = sz is not None and sz.summary.get("computed")
    table = sz.tables.get("seizure_probability") if computed else None
    return reconcile_windows(
        result.windows,
        table["smoothed"].to_numpy() if table is not None else None,
        sz.events if computed else None,
        on_threshold=float(sz.summary["thresholds"][0]) if computed else 0.5,
        meas_date=raw.info["meas_date"],
        recording_duration=raw.n_times / raw.info["sfreq"],
    )


def _reconciled_blocks(w, start=None, multiday: bool = False) -> list:
    """The reconciled answer of the windows that are not "other", with both models' probabilities."""
    shown = w[w["decision"] != "other"]
    if not len(shown):
        return []
    shown = shown.copy()
    # the window's start in the report's one time convention (clock time), as every other table; seconds stay in
    # patterns.parquet
    shown["start"] = [format_time(float(t), start, multiday=multiday) for t in shown["start"]]
    cols = ["start", "decision", "source", "pattern_label", "p_pattern", "p_seizure_pattern", "p_seizure_detector"]
    cols += ["frequency", "side", "prevalence", "prevalence_term", "plus", "note"]
    table = shown[cols].round({"p_pattern": 2, "p_seizure_pattern": 2, "p_seizure_detector": 2, "frequency": 1})
    return [
        Table(
            readable_pattern_columns(table),
            max_rows=30,
            caption="One decision per window (seizure detector and pattern classifier reconciled, "
            "ACNS 2021 continuum): the answer, which rule decided, and both probabilities.",
            more_in="patterns.parquet",
        )
    ]


#: The report's headers of the reconciled-window table (patterns.parquet keeps the column names).
PATTERN_HEADERS = {
    "start": "start",
    "decision": "decision",
    "source": "decided by",
    "pattern_label": "classifier's class",
    "p_pattern": "P(class), classifier",
    "p_seizure_pattern": "P(seizure), classifier",
    "p_seizure_detector": "P(seizure), detector",
    "frequency": "frequency (Hz)",
    "side": "side",
    "prevalence": "prevalence (%)",
    "prevalence_term": "prevalence (ACNS term)",
    "plus": "plus modifier",
    "note": "note",
}


def readable_pattern_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The reconciled-window table for a reader: readable headers, columns empty on every row left out.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns of ``patterns.parquet`` (any subset of :data:`PATTERN_HEADERS`).

    Returns
    -------
    table : pandas.DataFrame
        A copy; a column is empty when every value is missing or a blank string.
    """
    blank = table.isna() | table.apply(lambda c: c.astype(str).str.strip().isin(["", "nan", "None"]))
    shown = table.loc[:, ~blank.all(axis=0)]
    return shown.rename(columns=PATTERN_HEADERS)
