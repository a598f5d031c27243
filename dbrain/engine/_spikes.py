"""The spike detector's reading and filtering as a streaming consumer of the engine's chunks.

The file path (:meth:`dbrain.detect.SpikeDetector.detect`) reads the scalp
electrodes 60 s at a time with 2 s of padding either side, filters each span
1–40 Hz and finds the candidates of its own 60 s. The stream processes the
same spans with the detector's own function
(``SpikeDetector._processor``) as soon as a span and its padding have
arrived, from the samples the engine has read, so the candidates and the
spike table are those of the file path, bit for bit. Spans are processed by
the detector's thread pool, and every span started in a chunk is finished
before the chunk is done (no thread of this step runs between chunks).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..detect._filter import thread_pool
from ..detect.spikes import SENSITIVITY_PRESETS, SpikeDetector
from ..detect.spikes._detector import _MIN_SFREQ, _montages, _to_table
from ..errors import DbrainError, RecordingError
from ._params import Param
from ._pieces import drop_before, gather
from ._protocol import Step, StepResult, StreamInfo

#: Shortest recording the spike step runs on (s).
MIN_DURATION = 10.0


class SpikeStream:
    """The candidates of :meth:`SpikeDetector.detect`, span by span as the samples arrive.

    Parameters
    ----------
    detector : SpikeDetector
        A fitted detector (its parameters and threshold are used).
    info : StreamInfo
        The stream's channels (normalised names) and rate.

    Raises
    ------
    dbrain.errors.RecordingError
        As :meth:`SpikeDetector.detect`: too few scalp electrodes or too low a rate.
    """

    def __init__(self, detector: SpikeDetector, info: StreamInfo):
        self.detector, self.sfreq, self.meas_date = detector, info.sfreq, info.meas_date
        if self.sfreq < _MIN_SFREQ:
            raise RecordingError(f"spike detection needs a sampling rate of at least {_MIN_SFREQ:g} Hz, got {self.sfreq:g} Hz")
        _, bip, self.names = _montages(info.empty_raw())
        detector.n_channels_in_ = len(self.names)
        self.chunk, self.pad, electrodes, self.process = detector._processor(bip, self.names, self.sfreq)
        self.index = np.array([info.ch_names.index(e) for e in electrodes], int)
        self.workers = detector._n_workers()
        self._pieces: list[np.ndarray] = []
        self._buf_start = 0  # sample of the first kept column
        self._next = 0  # first sample of the next span to process
        self.n_times = 0
        self._rows: list[pd.DataFrame] = []

    def push(self, signal: np.ndarray) -> None:
        """Append the next samples (all channels, volts) and process every span now complete."""
        self._pieces.append(signal[self.index])
        self.n_times += signal.shape[1]
        spans = []
        while self._next + self.chunk + self.pad <= self.n_times:  # the span and the padding after it are in
            spans.append((self._next, self._next + self.chunk))
            self._next += self.chunk
        self._run(spans)

    def _run(self, spans) -> None:
        if not spans:
            return
        jobs = []
        for start, stop in spans:
            lo, hi = max(0, start - self.pad), min(self.n_times, stop + self.pad)
            jobs.append((gather(self._pieces, self._buf_start, lo, hi, len(self.index)), start, stop, lo))
        if self.workers > 1 and len(jobs) > 1:
            pool = thread_pool(self.workers)
            self._rows.extend(f.result() for f in [pool.submit(self.process, *job, 1) for job in jobs])
        else:
            self._rows.extend(self.process(*job, 1 if self.detector.n_jobs == 1 else None) for job in jobs)
        keep_from = max(0, self._next - self.pad)  # the next span's padding before it
        self._pieces = drop_before(self._pieces, self._buf_start, keep_from)
        self._buf_start = keep_from

    def finish(self, r_peaks: np.ndarray | None = None) -> pd.DataFrame:
        """The spike table (:data:`~dbrain.detect.spikes.SPIKE_COLUMNS`) of everything pushed.

        ``r_peaks`` (samples of the ECG's R peaks) turns on the second stage's ECG rule, as
        :meth:`SpikeDetector.detect` does from a recording's ECG channel; without them it is off.
        """
        n = self.n_times
        spans = [(a, min(a + self.chunk, n)) for a in range(self._next, n, self.chunk)]
        spans = [(a, b) for a, b in spans if min(n, b + self.pad) - max(0, a - self.pad) >= int(2 * self.sfreq)]
        self._next = n
        self._run(spans)
        rows = [r for r in self._rows if len(r)]
        cands = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        recording = SimpleNamespace(info={"meas_date": self.meas_date}, n_times=n)  # what the table reads of a raw
        return _to_table(cands, self.names, self.sfreq, recording, self.detector.threshold_, r_peaks=r_peaks)


class SpikeStep(Step):
    """Interictal spikes and sharp waves (:class:`dbrain.detect.SpikeDetector`), chunk by chunk.

    ``finish`` gives ``data={"detector": ..., "spikes": table}`` (the table of
    :meth:`SpikeDetector.detect` on the same samples) or a reason it could not run.
    """

    name = "spikes"
    version = "6"  # 6: the pulse rule without an ECG channel, retrained (issue 18, session 8); 5: field-morphology features
    concurrent = True  # its update touches only its own state (see Step.concurrent)
    requires = ("signal", "ecg_peaks")
    params = {"sensitivity": Param("medium", choices=tuple(SENSITIVITY_PRESETS), doc="confidence preset")}

    def start(self, info: StreamInfo) -> None:
        self.stream, self.reason, self.sfreq, self.n_times = None, None, info.sfreq, 0
        self.ecg = info.products.get("ecg_peaks")
        self.detector = SpikeDetector(self.params_["sensitivity"]).fit()
        if "eeg" not in info.ch_types:
            self.reason = "no EEG channels"
            return
        try:
            self.stream = SpikeStream(self.detector, info)
        except DbrainError as exc:
            self.error = exc
        else:
            self.error = None

    def r_peaks(self) -> np.ndarray | None:
        """R peaks for the ECG rule: those of the first ECG channel (the engine's ``ecg_peaks`` product), else none.

        The same peaks :meth:`SpikeDetector.detect` finds on the file (the scan of
        :func:`dbrain.ecg.compute_heart_rate`), found once for this step and the qEEG heart rate.
        """
        found = None if self.ecg is None else self.ecg.result()
        return None if found is None else found[1][0]

    def update(self, chunk) -> None:
        self.n_times = chunk.stop
        if self.stream is not None:
            self.stream.push(chunk["signal"])

    def finish(self) -> StepResult:
        reason = self.reason
        if reason is None and self.sfreq < _MIN_SFREQ:
            reason = f"sampling rate {self.sfreq:g} Hz is below {_MIN_SFREQ:g} Hz"
        if reason is None and self.n_times / self.sfreq < MIN_DURATION:
            reason = f"recording shorter than {MIN_DURATION:g} s"
        if reason is None and self.error is not None:
            reason = str(self.error)
        if reason is not None:
            return StepResult(summary={"computed": False, "reason": reason})
        spikes = self.stream.finish(r_peaks=self.r_peaks())
        return StepResult(
            summary={"computed": True, "n_spikes": int(len(spikes))},
            events=spikes if len(spikes) else None,
            tables={"spikes": spikes},
            data={"detector": self.detector, "spikes": spikes},
        )
