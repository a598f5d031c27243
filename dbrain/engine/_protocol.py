"""The step protocol: ``start(info) / update(chunk) / finish()``, the same on files and streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import mne
import numpy as np
import pandas as pd

from ._params import Param, as_schema, validate_params


@dataclass
class StreamInfo:
    """What a step knows of its source when it starts.

    Attributes
    ----------
    info : mne.Info
        Channels (normalised names and types), sampling rate, bads, measurement date, line frequency.
    n_times : int | None
        Length in samples when known in advance (a file); None for a live stream.
    products : dict of str to Product
        The run's started products, for their facts (e.g. ``products["bipolar"].channels``).
    """

    info: mne.Info
    n_times: int | None = None
    products: dict = field(default_factory=dict)

    @property
    def sfreq(self) -> float:
        return float(self.info["sfreq"])

    @property
    def ch_names(self) -> list[str]:
        return list(self.info["ch_names"])

    @property
    def ch_types(self) -> list[str]:
        return list(self.info.get_channel_types())

    @property
    def meas_date(self):
        return self.info["meas_date"]

    def empty_raw(self) -> mne.io.RawArray:
        """A one-sample Raw with these channels, for code that decides from a Raw's channels (montages)."""
        return mne.io.RawArray(np.zeros((len(self.ch_names), 1)), self.info, verbose="error")


@dataclass
class StepResult:
    """What a step returns: numbers only (figures and report sections are rendered afterwards).

    Attributes
    ----------
    summary : dict
        JSON-serialisable facts and measures, stored in ``summary.json``.
    events : pandas.DataFrame | None
        Rows for the events table (``dbrain.events`` columns).
    sections : list of dbrain.report.Section
        Report sections of a step that still builds them while computing
        (whole-recording steps); empty for steps rendered afterwards.
    tables : dict of str to pandas.DataFrame
        Tidy result tables, written as ``DIR/<name>.parquet``.
    files : dict of str to bytes
        Other result files, written as ``DIR/<name>`` (a plain file name).
    data : object
        The step's own result object (e.g. a :class:`dbrain.detect.SeizureResult`)
        for renderers and later steps; not written.
    """

    summary: dict[str, Any] = field(default_factory=dict)
    events: pd.DataFrame | None = None
    sections: list = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    data: Any = None


class Chunk:
    """One chunk of the source, samples ``[start, stop)``, with its products computed on first use.

    ``chunk["bipolar"]`` returns the product of that name for this chunk; the
    engine computes each product once per chunk and every step shares it.
    """

    def __init__(self, start: int, data: np.ndarray, cache):
        self.start = int(start)
        self.stop = int(start) + int(data.shape[1])
        self.data = data
        self._cache = cache

    @property
    def n_times(self) -> int:
        return self.stop - self.start

    def __getitem__(self, name: str):
        return self._cache.get(name, self)


class Step:
    """Base class of a streaming analysis step (one object per run; the same on files and streams).

    Subclasses set the class attributes and implement :meth:`start`,
    :meth:`update` and :meth:`finish`; parameters are validated against
    :attr:`params` when the step is made (:meth:`create`), before any data is read.

    Attributes
    ----------
    name, version : str
        Identity in provenance; bump the version when the output changes for the same input.
    requires : tuple of str
        Products (see :func:`dbrain.engine.products`) the engine must provide in each chunk.
    params : dict of str to Param
        Parameter schema.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    requires: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Param]] = {}
    #: True for a step that needs the whole recording at once (the adapter): it cannot run on a live stream.
    whole_recording: ClassVar[bool] = False
    #: Wall time of work the step runs in a thread of its own (overlapping the engine's), if any.
    thread_seconds: float | None = None
    #: True when :meth:`update` may run in a worker thread beside other such steps' updates of the same
    #: chunk (it touches only its own state and the chunk's products, and starts no process). Others run
    #: in the engine's thread after them.
    concurrent: ClassVar[bool] = False

    def __init__(self, **params):
        self.params_ = params

    @classmethod
    def create(cls, params: dict | None = None) -> Step:
        """A step with ``params`` checked against the schema (defaults filled in)."""
        return cls(**validate_params(cls.name, as_schema(cls.params), params))

    def start(self, info: StreamInfo) -> None:
        """Allocate state for a source described by ``info``."""

    def update(self, chunk: Chunk) -> None:
        """Consume one chunk (in order, without gaps or overlaps)."""

    def finish(self) -> StepResult:
        """The step's result for everything consumed."""
        raise NotImplementedError

    def partial(self):
        """The result so far, between chunks of a stream (None when the step offers none)."""
        return None

    def close(self) -> None:
        """Release what the step holds (threads, files); called after :meth:`finish` or when the run fails."""
