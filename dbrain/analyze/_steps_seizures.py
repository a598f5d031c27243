"""The seizure step: probability per second, seizure events and their report page."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..detect import SeizureDetector
from ..detect._seizures import _MIN_SFREQ
from ..engine._seizures import SeizureStep, seizure_step_result
from ..report import Figure, KeyValues, Note, Paragraph, Section, Table
from ..report._clinical import percent, seizure_table
from ._registry import AnalysisContext, StepResult, recording_clock, register_step, unusable_reason

_MAX_COLUMNS = 3000


def _bin_max(values: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return values
    n = values.shape[0] // factor * factor
    head = values[:n].reshape(n // factor, factor, *values.shape[1:]).max(axis=1)
    if n < values.shape[0]:
        head = np.concatenate([head, values[n:].max(axis=0, keepdims=True)])
    return head


def plot_seizure_probability(result, *, title: str | None = None, start=None, multiday: bool | None = None) -> MplFigure:
    """Seizure probability over the recording, thresholds, detected events, and channel probabilities.

    Parameters
    ----------
    result : dbrain.detect.SeizureResult
        Output of :meth:`dbrain.detect.SeizureDetector.run`.
    title : str | None
        Figure title.
    start : datetime.datetime | None
        Clock time of the first sample: the axis and the seizure labels are then clock time
        (``D2 11:26:10`` on recordings crossing midnight), else elapsed time (``+1:02:03``).
    multiday : bool | None
        Day prefix on every time (default: whether the recording crosses midnight).

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    from ..qeeg._trends import time_ticks
    from ..utils._time import format_time, is_multiday

    n = result.probability.size
    if multiday is None:
        multiday = is_multiday(start, n)
    factor = max(1, int(np.ceil(n / _MAX_COLUMNS)))
    raw = _bin_max(result.probability, factor)
    smooth = _bin_max(result.smoothed, factor)
    chan = _bin_max(result.channel_probability, factor)
    t = np.arange(raw.size) * float(factor)
    fig = MplFigure(figsize=(14, 2.2 + 0.12 * len(result.channels)), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1.0, max(1.0, 0.06 * len(result.channels))])
    ax.plot(t, raw, color="0.7", lw=0.6, label="per second" + (f" (max per {factor} s)" if factor > 1 else ""))
    ax.plot(t, smooth, color="C0", lw=1.0, label="smoothed")
    on, off = result.thresholds
    ax.axhline(on, color="C3", ls="--", lw=0.8, label=f"on {on:g}")
    ax.axhline(off, color="C1", ls=":", lw=0.8, label=f"off {off:g}")
    for k, (onset, duration) in enumerate(zip(result.events["onset"], result.events["duration"], strict=True)):
        ax.axvspan(onset, onset + duration, color="C3", alpha=0.2, lw=0)
        ax.plot([onset], [1.02], marker="v", color="C3", ms=6, clip_on=False)
        ax.annotate(
            f"Sz {k + 1} {format_time(float(onset), start, multiday=multiday)}",
            (onset, 1.02),
            xytext=(4, 2),
            textcoords="offset points",
            fontsize=7,
            color="C3",
            annotation_clip=False,
        )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("seizure\nprobability")
    ax.legend(loc="upper left", fontsize="small", ncols=4)
    if title:
        ax.set_title(title)
    extent = (0, raw.size * factor, len(result.channels) - 0.5, -0.5)
    ax2.imshow(chan.T, aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=1, extent=extent)
    ax2.set_yticks(range(len(result.channels)), result.channels, fontsize=6)
    ax2.set_ylabel("channel")
    ticks, labels, xlabel = time_ticks(float(n), start, multiday=multiday)
    ax2.set_xticks(ticks, labels)
    ax2.set_xlim(0, raw.size * factor)
    ax2.set_xlabel(xlabel)
    return fig


@register_step(
    "seizures",
    "1",
    description="Seizure probability per second and detected seizures (channels involved, lateralisation).",
    params=dict(SeizureStep.params),
    stream=SeizureStep,
    render=lambda result, ctx, params: seizure_sections(result, ctx, **params),
)
def seizure_step(ctx: AnalysisContext, model=None, sensitivity: str = "medium") -> StepResult:
    """Seizure probability per second and detected seizures, on the whole recording.

    ``dbrain analyze`` runs the streaming form (:class:`dbrain.engine.SeizureStep`);
    this is the whole-recording form it is tested against. Numbers only: see :func:`seizure_sections`.
    """
    raw = ctx.raw
    reason = unusable_reason(raw, min_sfreq=_MIN_SFREQ, min_duration=10.0)
    if reason:
        return StepResult(summary={"computed": False, "reason": reason})
    detector = SeizureDetector(model, sensitivity=sensitivity)
    _, meta = detector._booster()
    return seizure_step_result(detector.run(raw), model=model, sensitivity=sensitivity, meta=meta)


def seizure_sections(step_result: StepResult, ctx: AnalysisContext, model=None, sensitivity: str = "medium") -> list:
    """The seizure report section, from the step's result (drawn only when a report is made)."""
    raw = ctx.raw
    duration = raw.n_times / raw.info["sfreq"]
    reason = step_result.summary.get("reason")
    if not step_result.summary.get("computed"):
        return [Section("Seizure detection", "seizures", [Note(f"No seizure detection: {reason}.")])]
    result = step_result.data["seizures"]
    start, _, multiday = recording_clock(ctx)
    events = result.events
    facts = [
        ("Model", "shipped with dbrain" if model is None else str(model)),
        ("Sensitivity", f"{sensitivity} (on {result.thresholds[0]:g}, off {result.thresholds[1]:g})"),
        ("Channels", f"{len(result.channels)} ({result.montage})"),
        ("Seizures detected", str(len(events))),
        ("Highest probability", f"{percent(float(result.smoothed.max()))} (smoothed)"),
        ("Time above the on threshold", f"{int((result.smoothed >= result.thresholds[0]).sum())} s"),
    ]
    blocks = [
        Note("Automated seizure detection is decision support only; see the model card for what it was trained on."),
        KeyValues(facts),
    ]
    if duration < 120:
        blocks.append(Note("Recording shorter than 2 minutes: the detector cannot compare the EEG with its own background here."))
    blocks.append(
        Figure(
            plot_seizure_probability(result, title="Seizure probability", start=start, multiday=multiday),
            caption="Seizure probability per second (grey), smoothed (blue), thresholds, detected seizures (red) "
            "and the probability of each channel.",
        )
    )
    if len(events):
        blocks.append(Table(seizure_table(events, start, multiday), max_rows=100))
    else:
        blocks.append(Paragraph("No seizure detected at this sensitivity."))
    return [Section("Seizure detection", "seizures", blocks)]
