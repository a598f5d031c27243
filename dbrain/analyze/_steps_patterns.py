"""The patterns step: rhythmic and periodic patterns (ACNS 2021) per 10 s window, their timeline and events."""

from __future__ import annotations

from ..detect.patterns import PATTERN_CLASSES, PATTERN_EVENT_TYPES, THRESHOLDS, classify_patterns, plot_pattern_timeline
from ..errors import RecordingError
from ..report import Figure, KeyValues, Note, Section, Table
from ._registry import AnalysisContext, StepResult, register_step, unusable_reason


@register_step(
    "patterns",
    "2",
    description="Rhythmic and periodic patterns (LPD, GPD, LRDA, GRDA) per 10 s window: timeline, prevalence, events.",
    params={"window": 10.0},
)
def patterns_step(ctx: AnalysisContext, window: float = 10.0) -> StepResult:
    """Rhythmic and periodic patterns (LPD, GPD, LRDA, GRDA) per 10 s window: timeline, prevalence, events."""
    raw = ctx.raw
    reason = unusable_reason(raw, min_duration=window, too_short=f"recording shorter than one {window:g} s window")
    result = None
    if reason is None:
        try:
            result = classify_patterns(raw, window=window)
        except RecordingError as exc:
            reason = str(exc)
    if reason is not None:
        return StepResult(
            summary={"computed": False, "reason": reason},
            sections=[Section("Rhythmic and periodic patterns", "patterns", [Note(f"No pattern classification: {reason}.")])],
        )
    w = result.windows
    share = {c: float(100.0 * (w["label"] == c).mean()) for c in PATTERN_CLASSES}
    facts = [("Windows", f"{len(w)} × {window:g} s")]
    for c in PATTERN_CLASSES:
        sub = w[w["label"] == c]
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
            "Rule-based classification on ACNS 2021 definitions (delta dominance, kurtosis and regularity of the discharge "
            "train, hemisphere power share, amplitude and evolution; frontal-polar eye activity vetoed; events need two "
            "consecutive windows), checked only on 12 development segments: decision support, to be confirmed in the EEG. "
            "Seizure windows are shown here; seizure events come from the seizure step.",
            "info",
        ),
        KeyValues(facts),
        Figure(
            plot_pattern_timeline(result, title="Pattern timeline"),
            caption="Class probabilities per window and the frequency of the winning pattern.",
        ),
    ]
    if len(result.events):
        ev = result.events[["onset", "duration", "eventType", "confidence", "channels"]].copy()
        ev["confidence"] = ev["confidence"].round(2)
        blocks.append(Table(ev, max_rows=30, caption="Pattern events (runs of consecutive windows).", more_in="events.tsv"))
    prevalence = result.prevalence()
    if len(prevalence) > 1:  # more than one hour: the share of each class hour by hour
        shown = prevalence.copy()
        shown.insert(0, "hour", (shown.pop("period_start") // 3600).astype(int) + 1)
        blocks.append(Table(shown.round(1), max_rows=72, caption="Prevalence: % of each hour in each class."))
    summary = {
        "computed": True,
        "n_windows": int(len(w)),
        "percent_of_windows": share,
        "n_events": {t: int((result.events["eventType"] == t).sum()) for t in PATTERN_EVENT_TYPES.values()},
        "thresholds": dict(THRESHOLDS),
        "table": "patterns.parquet (one row per window)",
    }
    return StepResult(
        summary=summary,
        events=result.events if len(result.events) else None,
        sections=[Section("Rhythmic and periodic patterns", "patterns", blocks)],
        tables={"patterns": w, "pattern_prevalence": prevalence},
    )
