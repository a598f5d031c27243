"""Registry of analysis steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mne
import pandas as pd

from ..io import RecordingInfo


@dataclass
class AnalysisContext:
    """What every step sees.

    Attributes
    ----------
    raw : mne.io.BaseRaw
        The recording (lazy; normalised channel names).
    info : RecordingInfo
    results : dict of str to StepResult
        Results of the steps that ran before, by step name.
    """

    raw: mne.io.BaseRaw
    info: RecordingInfo
    results: dict[str, StepResult] = field(default_factory=dict)


@dataclass
class StepResult:
    """What a step returns.

    Attributes
    ----------
    summary : dict
        JSON-serialisable facts and measures, stored in ``summary.json``.
    events : pandas.DataFrame | None
        Rows for the events table (``dbrain.events`` columns).
    sections : list of dbrain.report.Section
        Report sections, in order.
    tables : dict of str to pandas.DataFrame
        Tidy result tables, written as ``DIR/<name>.parquet``.
    files : dict of str to bytes
        Other result files (e.g. ``{"diagnosis.json": b"..."}``), written as
        ``DIR/<name>`` inside the same atomic write; a plain file name.
    data : dict of str to object
        In-memory results the report draws from after all steps ran (e.g. the
        ``QEEGResult`` for the trend pages); not written to DIR.
    """

    summary: dict[str, Any] = field(default_factory=dict)
    events: pd.DataFrame | None = None
    sections: list = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """A registered analysis step."""

    name: str
    version: str
    description: str
    func: Callable[..., StepResult]
    order: int
    params: dict[str, Any]


_STEPS: dict[str, Step] = {}


def register_step(name: str, version: str, *, order: int, description: str = "", params: dict | None = None):
    """Register ``func(ctx, **params) -> StepResult`` as an analysis step.

    Parameters
    ----------
    name : str
        Stable identifier used by ``--only``/``--skip`` and in provenance.
    version : str
        Bump when the step's output changes for the same input.
    order : int
        Steps run in increasing order (later steps may read earlier results).
    description : str
        One line for ``dbrain analyze --help`` and the summary.
    params : dict | None
        Default parameters, recorded in ``summary.json``.
    """

    def decorator(func):
        if name in _STEPS:
            raise RuntimeError(f"analysis step {name!r} registered twice")
        _STEPS[name] = Step(
            name, version, description or (func.__doc__ or "").strip().splitlines()[0], func, order, dict(params or {})
        )
        return func

    return decorator


def unusable_reason(raw, *, min_sfreq: float = 0.0, min_duration: float = 0.0, too_short: str | None = None) -> str | None:
    """Why a detector step cannot run on ``raw`` (no EEG, too low a rate, too short), or None.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    min_sfreq : float
        Lowest sampling rate (Hz) the step works at.
    min_duration : float
        Shortest recording (s) the step works on.
    too_short : str | None
        The reason given for a recording shorter than ``min_duration``
        (default: ``"recording shorter than {min_duration} s"``).

    Returns
    -------
    reason : str | None
    """
    sfreq = raw.info["sfreq"]
    if "eeg" not in raw.get_channel_types():
        return "no EEG channels"
    if sfreq < min_sfreq:
        return f"sampling rate {sfreq:g} Hz is below {min_sfreq:g} Hz"
    if raw.n_times / sfreq < min_duration:
        return too_short or f"recording shorter than {min_duration:g} s"
    return None


def recording_clock(ctx: AnalysisContext) -> tuple[Any, float, bool]:
    """The start (clock time of the first sample, or None), duration (s) and multi-day flag of ``ctx``'s recording.

    From ``ctx.info`` when there is one, else from the recording itself (a context built by hand), so
    every step writes times by :func:`dbrain.utils._time.format_time` with the same three facts.
    """
    import datetime as dt

    from ..utils._time import is_multiday

    raw = ctx.raw
    duration = raw.n_times / raw.info["sfreq"]
    if ctx.info is not None:
        start = ctx.info.start_time
    else:
        meas = raw.info["meas_date"]
        start = None if meas is None else meas + dt.timedelta(seconds=raw.first_samp / raw.info["sfreq"])
    return start, duration, is_multiday(start, duration)


def get_steps() -> list[Step]:
    """All registered steps in run order."""
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))
