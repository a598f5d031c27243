"""The seizure step as a streaming consumer of the ``bipolar`` product (numbers only; rendered in ``analyze``)."""

from __future__ import annotations

from ..detect import PRESETS, SeizureDetector
from ..detect._seizures import _MIN_SFREQ, SeizureResult
from ..detect._stream import SeizureStream
from ..events import EVENT_COLUMNS
from ._params import Param
from ._protocol import Step, StepResult, StreamInfo

#: Shortest recording the seizure step runs on (s).
MIN_DURATION = 10.0


def seizure_step_result(result: SeizureResult, *, model, sensitivity: str, meta: dict) -> StepResult:
    """The seizure step's summary, events and table from a detector result (file and stream paths alike)."""
    events = result.events
    summary = {
        "computed": True,
        "model": "shipped" if model is None else str(model),
        "model_created_by": meta.get("created_by"),
        "sensitivity": sensitivity,
        "thresholds": list(result.thresholds),
        "montage": result.montage,
        "channels": result.channels,
        "n_seizures": int(len(events)),
        "max_probability": float(result.smoothed.max()),
        "seizures": [
            {"onset": float(o), "duration": float(d), "confidence": float(c), "lateralisation": s, "channels": ch}
            for o, d, c, s, ch in zip(
                events["onset"],
                events["duration"],
                events["confidence"],
                events["lateralisation"],
                events["channels"],
                strict=True,
            )
        ],
        "table": "seizure_probability.parquet (time, probability, smoothed; one row per second)",
    }
    return StepResult(
        summary=summary,
        events=events[EVENT_COLUMNS] if len(events) else None,
        tables={"seizure_probability": result.to_frame()},
        data={"seizures": result},  # for the renderers (the step's section, the report's pages); not written
    )


def unusable(types: list[str], sfreq: float, duration: float | None) -> str | None:
    """Why the seizure step cannot run (no EEG, too low a rate, too short), or None."""
    if "eeg" not in types:
        return "no EEG channels"
    if sfreq < _MIN_SFREQ:
        return f"sampling rate {sfreq:g} Hz is below {_MIN_SFREQ:g} Hz"
    if duration is not None and duration < MIN_DURATION:
        return f"recording shorter than {MIN_DURATION:g} s"
    return None


class SeizureStep(Step):
    """Seizure probability per second and detected seizures, chunk by chunk.

    Wraps :class:`dbrain.detect.SeizureDetector` (model, thresholds,
    post-processing) and :class:`dbrain.detect._stream.SeizureStream` (its
    features with state between chunks). :meth:`partial` gives the result so
    far on a stream; see that class for what is final and what is provisional.
    """

    name = "seizures"
    version = "1"
    concurrent = True  # its update touches only its own state (see Step.concurrent)
    requires = ("bipolar",)
    params = {
        "model": Param(None, kind="path", doc="model folder; None for the shipped model"),
        "sensitivity": Param("medium", choices=tuple(PRESETS), doc="threshold preset"),
    }

    def start(self, info: StreamInfo) -> None:
        self.reason = unusable(info.ch_types, info.sfreq, None)
        self.stream = None
        self.detector = SeizureDetector(self.params_["model"], sensitivity=self.params_["sensitivity"])
        if self.reason:
            return
        bipolar = info.products["bipolar"]
        if bipolar.error is not None:
            raise bipolar.error
        self.stream = SeizureStream(self.detector, info.sfreq, bipolar.channels, bipolar.montage, info.meas_date)

    def update(self, chunk) -> None:
        if self.stream is not None:
            self.stream.push(chunk["bipolar"])

    def partial(self) -> SeizureResult | None:
        if self.stream is None or self.stream.n_times < MIN_DURATION * self.stream.sfreq:
            return None
        return self.stream.result()

    def finish(self) -> StepResult:
        reason = self.reason
        if reason is None:
            reason = unusable(["eeg"], self.stream.sfreq, self.stream.n_times / self.stream.sfreq)
        if reason:
            return StepResult(summary={"computed": False, "reason": reason})
        _, meta = self.detector._booster()
        return seizure_step_result(
            self.stream.result(), model=self.params_["model"], sensitivity=self.params_["sensitivity"], meta=meta
        )
