"""Registry of analysis steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mne

from ..engine import Param, StepResult, as_schema, defaults, order_by_requires
from ..engine import Step as EngineStep
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


@dataclass(frozen=True)
class Step:
    """A registered analysis step.

    Attributes
    ----------
    name, version, description : str
    func : callable
        ``func(ctx, **params) -> StepResult`` on the whole recording.
    order : int | None
        Ignored (run order comes from ``requires``); kept so that older plug-ins still register.
    params : dict
        Default parameters.
    requires : tuple of str
        Steps whose results this one reads; it runs after them when they run.
    schema : dict of str to dbrain.engine.Param
        What each parameter accepts (checked before any reading).
    stream : type | None
        A :class:`dbrain.engine.Step` class computing the same result chunk by chunk; when set,
        ``dbrain analyze`` runs it in the engine's single pass instead of ``func``.
    render : callable | None
        ``render(result, ctx, params) -> list of Section``, called only when a report is made,
        for steps that return numbers only.
    """

    name: str
    version: str
    description: str
    func: Callable[..., StepResult]
    order: int | None
    params: dict[str, Any]
    requires: tuple[str, ...] = ()
    schema: dict[str, Param] = field(default_factory=dict)
    stream: type | None = None
    render: Callable | None = None


_STEPS: dict[str, Step] = {}


def register_step(
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] | list[str] = (),
    order: int | None = None,
    description: str = "",
    params: dict | None = None,
    stream: type | None = None,
    render: Callable | None = None,
):
    """Register ``func(ctx, **params) -> StepResult`` as an analysis step.

    Parameters
    ----------
    name : str
        Stable identifier used by ``--only``/``--skip`` and in provenance.
    version : str
        Bump when the step's output changes for the same input.
    requires : tuple of str
        Steps whose results this step reads (``ctx.results``): it runs after
        them. Steps run in a topological order of these declarations,
        registration order among the rest; a cycle is refused.
    order : int | None
        Ignored; accepted so that plug-ins written for the order numbers still register.
    description : str
        One line for ``dbrain analyze --help`` and the summary.
    params : dict | None
        Parameters: a default value, or a :class:`dbrain.engine.Param` (default
        and accepted values); defaults are recorded in ``summary.json``.
    stream : type | None
        A :class:`dbrain.engine.Step` subclass with the same name computing the
        step chunk by chunk (run instead of ``func`` by ``dbrain analyze``).
    render : callable | None
        ``render(result, ctx, params)`` building the report sections afterwards.
    """
    schema = as_schema(params)

    def decorator(func):
        if name in _STEPS:
            raise RuntimeError(f"analysis step {name!r} registered twice")
        if stream is not None and (not issubclass(stream, EngineStep) or stream.name != name):
            raise RuntimeError(f"stream= of step {name!r} must be a dbrain.engine.Step subclass named {name!r}")
        _STEPS[name] = Step(
            name,
            version,
            description or ((func.__doc__ or "").strip().splitlines() or [""])[0],
            func,
            order,
            defaults(schema),
            tuple(requires),
            schema,
            stream,
            render,
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
    """All registered steps in run order (dependencies first, then registration order)."""
    for step in _STEPS.values():
        unknown = [r for r in step.requires if r not in _STEPS]
        if unknown:
            raise RuntimeError(f"analysis step {step.name!r} requires unregistered step(s) {', '.join(map(repr, unknown))}")
    return order_by_requires(_STEPS.values())
