"""The qEEG trends as a consumer of the engine's chunks: :func:`dbrain.qeeg.compute_qeeg` fed, not reading."""

from __future__ import annotations

import dataclasses
import threading
import time

import mne
import numpy as np

from ..errors import ParameterError
from ..qeeg import compute_qeeg
from ..qeeg._compute import PAD_SECONDS
from ..qeeg._reduce import TrendReducer
from ..qeeg._stream import SampleFeed
from ._params import Param
from ._protocol import Step, StepResult, StreamInfo

#: Shorter recordings get no trends: the aEEG needs 15 s segments and a trend needs several of them.
MIN_DURATION = 30.0


class QEEGStep(Step):
    """Trend measures of :func:`dbrain.qeeg.compute_qeeg`, computed from the engine's chunks.

    ``compute_qeeg`` runs unchanged in a thread of its own and reads the
    samples the engine pushes (:class:`dbrain.qeeg._stream.SampleFeed`)
    instead of the file, so its results are those of ``compute_qeeg(raw)``
    while the file is read once for all steps. It needs the length of the
    source in advance (files, replays): its epochs and aperiodic windows are
    laid out from it. On a live stream of unknown length it refuses to start.

    The per-epoch arrays are not kept whole (about 0.5 GB per 24 h): each
    chunk's values go to a :class:`dbrain.qeeg._reduce.TrendReducer`, which
    keeps the per-minute table (``to_frame()``, equal to the whole result's),
    the artifact arrays and what subclasses ask of it (``_reducer``). The
    result in ``data`` then has the artifact arrays and no spectrograms,
    measures or asymmetry (``keep_arrays = True``: the whole result, as
    ``compute_qeeg`` returns it).
    """

    name = "qeeg"
    version = "2"
    requires = ("signal",)
    params = {
        "window": Param(2.0, low=0.1),
        "step": Param(1.0, low=0.01),
        "fmin": Param(0.5, low=0.0),
        "fmax": Param(30.0, low=0.0),
        # Threads (and specparam processes) for one recording; the results do not depend on it.
        "n_jobs": Param(2, low=1),
    }
    chunk_duration = 300.0
    #: Keep the whole result of ``compute_qeeg`` (memory grows with the recording) instead of reducing it.
    keep_arrays = False

    def _reducer(self) -> TrendReducer:
        """What to keep of the per-epoch values (subclasses ask for more: viewer blocks, report pages)."""
        return TrendReducer()

    def start(self, info: StreamInfo) -> None:
        self.reason, self.result, self._error = None, None, None
        types = info.ch_types
        if "eeg" not in types:
            self.reason = "no EEG channels"
        elif info.n_times is not None and info.n_times / info.sfreq < MIN_DURATION:
            self.reason = f"recording shorter than {MIN_DURATION:g} s"
        if self.reason:
            return
        if info.n_times is None:
            raise ParameterError("the qeeg step needs the stream's length in advance (a file or a replay), not a live stream")
        self.picks = mne.pick_types(info.info, eeg=True, exclude="bads")
        sfreq = info.sfreq
        p = self.params_
        request = int(round((self.chunk_duration + 2 * PAD_SECONDS + p["window"] + p["step"]) * sfreq))
        self.feed = SampleFeed(len(self.picks), info.n_times, 2 * request + 1)
        # Mains frequency for the line-noise score: the recording's own when its format stores it, else 50 Hz.
        line_freq = info.info["line_freq"] or 50.0
        channels = info.empty_raw()

        self.thread_seconds = 0.0
        self.reducer = None if self.keep_arrays else self._reducer()

        def work():
            t0 = time.perf_counter()
            try:
                self.result = compute_qeeg(
                    channels,
                    window=p["window"],
                    step=p["step"],
                    fmin=p["fmin"],
                    fmax=p["fmax"],
                    line_freq=line_freq,
                    n_jobs=p["n_jobs"],
                    chunk_duration=self.chunk_duration,
                    _feed=self.feed,
                    _sink=self.reducer,
                )
            except BaseException as exc:  # noqa: BLE001 - re-raised in the engine's thread
                self._error = exc
                self.feed.abort()
            finally:
                self.thread_seconds = time.perf_counter() - t0

        self._thread = threading.Thread(target=work, name="dbrain-qeeg", daemon=True)
        self._thread.start()

    def update(self, chunk) -> None:
        if self.reason:
            return
        if self._error is not None:
            raise self._error
        self.feed.push(np.ascontiguousarray(chunk["signal"][self.picks]))
        if self.feed._end >= self.feed.n_times:
            # All samples are in: let compute_qeeg finish now, before the engine goes on to other steps' work.
            # Its aperiodic fits fork worker processes, which must not happen while another thread is busy
            # (a fork during another thread's file read deadlocked the run).
            self._thread.join()

    def close(self) -> None:
        feed = getattr(self, "feed", None)
        if feed is not None:
            feed.abort()  # a run that failed elsewhere must not leave the qEEG thread waiting for samples
            self._thread.join()

    def finish(self) -> StepResult:
        if self.reason:
            return StepResult(summary={"computed": False, "reason": self.reason})
        self._thread.join()
        if self._error is not None:
            raise self._error
        result, self.result = self.result, None  # the caller owns the (large) result from here
        if self.reducer is None:
            table = result.to_frame()
        else:
            self.reducer.finish(result)
            table = self.reducer.table(result)
            result = dataclasses.replace(result, artifact=self.reducer.artifact, artifact_type=self.reducer.artifact_type)
        summary = {
            "computed": True,
            "n_epochs": int(len(result.times)),
            "median_suppression_ratio": float(np.nanmedian(result.suppression)),
            "n_burst_suppression": int(len(result.burst_suppression)),
        }
        return StepResult(summary=summary, tables={"qeeg": table}, data=result)
