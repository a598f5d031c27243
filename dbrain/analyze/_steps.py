"""The analysis core's own steps: recording facts and the first EEG page."""

from __future__ import annotations

import numpy as np

from ..events import events_from_annotations
from ..montages import apply_montage_with_fallback
from ..report import Figure, KeyValues, Note, Paragraph, Section, Table, plot_eeg_page, select_page_start
from ..utils._time import format_time, is_multiday
from ._registry import AnalysisContext, StepResult, recording_clock, register_step


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@register_step("recording", "1", description="Recording facts, channel mapping and annotations.")
def recording_step(ctx: AnalysisContext) -> StepResult:
    """Recording facts, channel mapping and annotations."""
    info = ctx.info
    events = events_from_annotations(ctx.raw)
    types = info.channels["type"].value_counts()
    facts = [
        ("File", info.path.rsplit("/", 1)[-1]),
        ("Format", info.format),
        ("Start", info.start_time.strftime("%Y-%m-%d %H:%M:%S") if info.start_time else "not recorded"),
        ("Duration", f"{_hms(info.duration)} ({info.duration:.1f} s)"),
        ("Sampling rate", f"{info.sfreq:g} Hz"),
        ("Channels", ", ".join(f"{n} {t.upper()}" for t, n in types.items())),
        (
            "Gaps",
            f"{len(info.discontinuities)}, {sum(d for _, d in info.discontinuities):.1f} s in all"
            if info.discontinuities
            else "none",
        ),
        ("Annotations", str(info.n_annotations)),
    ]
    sections = [Section("Recording", "recording", [KeyValues(facts)])]
    mapping = info.channels.rename(
        columns={
            "original": "Label in file",
            "name": "dbrain name",
            "type": "Type",
            "reference": "Reference",
            "sfreq": "Rate (Hz)",
        }
    )
    mapping["Recognised"] = np.where(info.channels["recognised"], "yes", "no - kept as misc")
    blocks = [Table(mapping[["Label in file", "dbrain name", "Type", "Reference", "Rate (Hz)", "Recognised"]])]
    if info.unrecognised:
        blocks.insert(
            0,
            Note(
                f"{len(info.unrecognised)} channel label(s) not recognised and kept as misc: {', '.join(info.unrecognised[:12])}"
                + (" …" if len(info.unrecognised) > 12 else "")
            ),
        )
    sections.append(Section("Channel mapping", "channels", blocks))
    if len(events):
        shown = events[["onset", "duration", "eventType", "channels"]].copy()
        multiday = is_multiday(info.start_time, info.duration)
        shown.insert(0, "time", [format_time(float(t), info.start_time, multiday=multiday) for t in shown["onset"]])
        sections.append(Section("Annotations", "annotations", [Table(shown, max_rows=50)]))
    summary = {
        "n_annotations": int(len(events)),
        "channel_types": {k: int(v) for k, v in types.items()},
        "unrecognised_channels": info.unrecognised,
        "n_gaps": len(info.discontinuities),
    }
    return StepResult(summary=summary, events=events, sections=sections)


@register_step(
    "eeg_page",
    "1",
    description="A 10 s page of EEG in double-banana montage.",
    params={"montage": "double-banana", "duration": 10.0},
)
def eeg_page_step(ctx: AnalysisContext, montage: str = "double-banana", duration: float = 10.0) -> StepResult:
    """A 10 s page of EEG in double-banana montage."""
    raw = ctx.raw
    if not any(t == "eeg" for t in raw.get_channel_types()):
        note = Note("No EEG channels: no EEG page drawn.")
        return StepResult(
            summary={"drawn": False, "reason": "no EEG channels"}, sections=[Section("EEG page", "eeg-page", [note])]
        )
    # Too few 10-20 electrodes for the bipolar chains: the referential montage, else the channels as recorded.
    derived, picks, result, used = apply_montage_with_fallback(raw, (montage, "referential"))
    if result is None:
        derived, used = derived.copy().pick(picks), "referential"
    page = min(duration, raw.n_times / raw.info["sfreq"])
    start = select_page_start(derived, duration=page)
    groups = result.groups if result is not None else None
    origin, _, multiday = recording_clock(ctx)
    when = [format_time(t, origin, multiday=multiday) for t in (start, start + page)]
    fig = plot_eeg_page(derived, start=start, duration=page, groups=groups, title=f"{page:g} s from {when[0]}, {used} montage")
    blocks = []
    if used != montage:
        blocks.append(Note(f"The {montage} montage could not be formed (10-20 electrodes missing); shown {used}."))
    if result is not None and result.skipped:
        skipped = "; ".join(f"{label} (missing {', '.join(m)})" for label, m in result.skipped)
        blocks.append(Note(f"{len(result.skipped)} derivation(s) skipped: {skipped}"))
    blocks.append(Figure(fig, caption=f"EEG, {used} montage, {when[0]} – {when[1]}."))
    shown = list(derived.ch_names)
    blocks.append(Paragraph(f"{len(shown)} derivations shown, top to bottom: {', '.join(shown)}."))
    summary = {
        "montage": used,
        "start": float(start),
        "duration": float(page),
        "derivations": result.applied if result is not None else list(derived.ch_names),
        "skipped": [{"derivation": label, "missing": m} for label, m in (result.skipped if result else [])],
    }
    return StepResult(summary=summary, sections=[Section("EEG page", "eeg-page", blocks)])
