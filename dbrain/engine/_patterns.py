"""The pattern classifier (LPD, GPD, LRDA, GRDA) as a streaming consumer of the engine's chunks.

The file path (:func:`dbrain.detect.patterns.pattern_windows`) reads the
common-average montage 600 s at a time with 5 s of padding either side,
filters each block 0.5–20 Hz and describes its 10 s windows. The stream does
the same on the same blocks: it keeps the referential samples of the
montage's electrodes until a block and its padding have arrived, forms the
average montage over exactly that span (the same matrix product as the lazy
montage, so the same numbers bit for bit), and hands the block to the same
functions. Memory: one block and its padding plus one engine chunk.
"""

from __future__ import annotations

import numpy as np

from ..detect.patterns import _MIN_SFREQ, PatternResult, _block_features, _classified, _Plan, _source, _windows_frame
from ..errors import DbrainError, RecordingError
from ._params import Param
from ._pieces import drop_before, gather
from ._protocol import Step, StepResult, StreamInfo


class PatternStream:
    """The windows' features of :func:`~dbrain.detect.patterns.pattern_windows`, chunk by chunk.

    Parameters
    ----------
    sfreq : float
        Sampling rate.
    window, chunk_duration : float
        As for :func:`~dbrain.detect.patterns.pattern_windows`.
    index : array of int
        Rows of the pushed signal the montage is formed from.
    weights : ndarray | None
        The montage matrix (``derived = weights @ signal[index]``); None for channels as recorded.
    names : list of str
        The electrodes' names (rows of the montage).
    """

    def __init__(self, sfreq: float, window: float, chunk_duration: float, index, weights, names: list[str]):
        self.plan = _Plan(sfreq, window, chunk_duration)
        self.index, self.weights, self.names = np.asarray(index, int), weights, list(names)
        self.window = float(window)
        self._pieces: list[np.ndarray] = []
        self._buf_start = 0  # sample of the first kept column
        self.n_times = 0
        self._w0 = 0  # first window not yet described
        self._rows: list = []

    def push(self, signal: np.ndarray) -> None:
        """Append the next samples (all channels, volts) and describe every block now complete."""
        self._pieces.append(signal[self.index])
        self.n_times += signal.shape[1]
        # A block is complete when its last window and the padding after it have arrived.
        while (self._w0 + self.plan.per_chunk) * self.plan.n_win + self.plan.pad <= self.n_times:
            self._block(self._w0, self._w0 + self.plan.per_chunk)

    def _block(self, w0: int, w1: int) -> None:
        a, b = self.plan.span(w0, w1)
        ra, rb = max(a, 0), min(b, self.n_times)
        # One contiguous copy of the span (the montage's matrix product must see the same C-contiguous rows as
        # the file path's, for the same numbers), then scaled in place: a 600 s block used to be copied five times.
        rows = gather(self._pieces, self._buf_start, ra, rb, len(self.index))
        src = self.weights @ rows if self.weights is not None else rows
        src *= 1e6
        if (ra, rb) == (a, b):
            data = src
        else:  # the first or last block: zeros beyond the recording
            data = np.zeros((len(self.names), b - a))
            data[:, ra - a : rb - a] = src
        del rows, src
        self._rows.extend(_block_features(data, w0, w1, self.plan, self.names))
        self._w0 = w1
        # Keep from the next block's first padded sample on.
        nxt = max(0, self.plan.span(w1, w1)[0])
        self._pieces = drop_before(self._pieces, self._buf_start, nxt)
        self._buf_start = nxt

    @property
    def n_windows(self) -> int:
        """Complete windows in the samples pushed so far."""
        return self.n_times // self.plan.n_win

    def finish(self):
        """The windows table (as :func:`~dbrain.detect.patterns.pattern_windows` returns it) of everything pushed."""
        n_windows = self.n_windows
        if n_windows == 0:
            raise RecordingError(f"the recording is shorter than one {self.window:g} s window")
        for w0 in range(self._w0, n_windows, self.plan.per_chunk):
            self._block(w0, min(w0 + self.plan.per_chunk, n_windows))
        return _windows_frame(self._rows, self.window)


class PatternStep(Step):
    """Rhythmic and periodic patterns per window (:func:`dbrain.detect.classify_patterns`), chunk by chunk.

    The windows' features are computed as each 600 s block is complete
    (:class:`PatternStream`); the classification, side and events at
    :meth:`finish`, from the whole windows table (the evolution feature and
    the events join neighbouring windows). The result equals
    ``classify_patterns(raw, window=window)`` on the same samples.
    """

    name = "patterns"
    version = "3"
    concurrent = True  # its update touches only its own state (see Step.concurrent)
    requires = ("signal",)
    params = {"window": Param(10.0, low=2.0, high=60.0, doc="window length (s)")}
    #: Seconds of windows described at a time (that of the file path).
    chunk_duration = 600.0

    def start(self, info: StreamInfo) -> None:
        from ..montages._montage import RawDerived

        self.stream, self.reason, self.error = None, None, None
        self.meas_date, self.sfreq, self.n_times = info.meas_date, info.sfreq, 0
        if "eeg" not in info.ch_types:
            self.reason = "no EEG channels"
            return
        if info.sfreq < _MIN_SFREQ:
            self.error = RecordingError(
                f"pattern classification needs a sampling rate of at least {_MIN_SFREQ:g} Hz, got {info.sfreq:g} Hz"
            )
            return
        try:
            src, names = _source(info.empty_raw())
        except DbrainError as exc:
            self.error = exc
            return
        if isinstance(src, RawDerived):
            index, weights = [info.ch_names.index(c) for c in src.sources], src.weights
        else:
            index, weights = [info.ch_names.index(c) for c in names], None
        self.stream = PatternStream(info.sfreq, self.params_["window"], self.chunk_duration, index, weights, names)

    def update(self, chunk) -> None:
        self.n_times = chunk.stop
        if self.stream is not None:
            self.stream.push(chunk["signal"])

    def classify(self) -> PatternResult:
        """The classification of everything pushed (raises :class:`~dbrain.errors.RecordingError` when it cannot run)."""
        if self.error is not None:
            raise self.error
        windows = self.stream.finish()
        return _classified(windows, None, 2, self.meas_date, self.n_times / self.sfreq)

    def finish(self) -> StepResult:
        if self.reason is None and self.n_times / self.sfreq < self.params_["window"]:
            self.reason = f"recording shorter than one {self.params_['window']:g} s window"
        if self.reason is not None:
            return StepResult(summary={"computed": False, "reason": self.reason})
        try:
            result = self.classify()
        except RecordingError as exc:
            return StepResult(summary={"computed": False, "reason": str(exc)})
        return StepResult(
            summary={"computed": True, "n_windows": int(len(result.windows))},
            events=result.events if len(result.events) else None,
            tables={"patterns": result.windows, "pattern_prevalence": result.prevalence()},
            data={"patterns": result},
        )
