"""One bed: a stream pushed into the analysis engine's step objects, alarms, outputs."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import mne
import numpy as np

from ..channels import normalize_raw
from ..detect._postprocess import smooth
from ..detect._seizures import _MIN_SFREQ, _aggregate
from ..engine import Engine, SeizureStep, StreamInfo
from ..errors import ParameterError, RecordingError
from ..events import write_events
from ..utils import logger
from ..utils.check import _check_range
from ._alarms import AlarmBook, AlarmTable
from ._checks import SignalCheckStep
from ._edf import WRITTEN_TYPES, EdfAppender
from ._strip import StripFilter
from ._trends import LiveTrendStep

#: Highest sampling rate accepted (a monitor of scalp EEG; higher rates are probably a wrong stream).
MAX_SFREQ = 5000.0
#: Channels of the moving strip, in order of preference (its filters and rate: ``_strip.py``).
STRIP_CHANNELS = ("Fp1", "Fp2", "C3", "C4", "T7", "T8", "O1", "O2")
STRIP_SCALE_UV = 0.25
#: Windows of the seizure stream re-evaluated at each alarm check (enough for the smoothed value of the
#: last second), and when an alarm is raised (the last ~half minute, for the onset and channels).
_CHECK_WINDOWS = 8
_RECENT_WINDOWS = 40


def stream_info(ch_names, ch_types, sfreq: float, *, meas_date=None) -> mne.Info:
    """The normalised ``mne.Info`` of a stream, or a one-line error when it cannot be monitored.

    Parameters
    ----------
    ch_names, ch_types : list of str
        The stream's channel labels and MNE types (unknown types may be ``"misc"``:
        dbrain's channel normalisation types recognised 10-20 labels as EEG).
    sfreq : float
        Nominal sampling rate (0 for an irregular stream).
    meas_date : datetime | None
        Start of the stream.

    Returns
    -------
    info : mne.Info

    Raises
    ------
    dbrain.errors.RecordingError
        Irregular or unusable rate, or no EEG channel.
    """
    sfreq = float(sfreq)
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise RecordingError("the stream has no regular sampling rate (nominal rate 0): cannot monitor it")
    if sfreq < _MIN_SFREQ or sfreq > MAX_SFREQ:
        raise RecordingError(
            f"the stream's sampling rate {sfreq:g} Hz is outside {_MIN_SFREQ:g}–{MAX_SFREQ:g} Hz: cannot monitor it"
        )
    if len(ch_names) != len(set(ch_names)) or not ch_names:
        raise RecordingError("the stream's channel labels are missing or repeated")
    types = [t if t in mne.io.get_channel_type_constants() else "misc" for t in ch_types]
    info = mne.create_info(list(ch_names), sfreq, types)
    raw = normalize_raw(mne.io.RawArray(np.zeros((len(ch_names), 1)), info, verbose="error"), keep_types=True, copy=False)
    if "eeg" not in raw.get_channel_types():
        raise RecordingError(f"the stream has no EEG channels ({len(ch_names)} channels: {', '.join(list(ch_names)[:6])}…)")
    info = raw.info
    if meas_date is not None:
        info.set_meas_date(meas_date)
    return info


class Monitor:
    """Live monitoring of one stream: the engine's seizure step, live trends and signal checks, alarms.

    Push samples (:meth:`push`) as they arrive; the monitor re-evaluates the
    alarms every ``interval`` stream seconds, writes ``alarms.tsv`` and
    ``recording.edf`` in ``out`` (when given) and calls ``on_frame`` with a
    frame for the data centre (``docs/monitor.md``). :meth:`finish` finishes the
    engine: the seizure result is then the file path's on the same samples.

    Parameters
    ----------
    info : mne.Info
        From :func:`stream_info`.
    out : path-like | None
        Output folder (created); None to write nothing (benchmarks).
    name : str
        Stream name (in frames and the summary).
    speed : float
        Replay speed of the source (timestamps run this much faster than stream time).
    sensitivity : str
        Seizure threshold preset (``low``, ``medium``, ``high``).
    confirm : float
        Seconds the provisional smoothed seizure probability must stay at or above the
        detector's *on* threshold before a seizure alarm (see ``docs/monitor.md``).
    interval : float
        Stream seconds between alarm evaluations (and frames).
    on_alarm, on_frame : callable | None
        Called with each :class:`~dbrain.monitor.Alarm` change / each frame (dict).
    edf_flush : float
        Seconds of stream between flushes of ``recording.edf`` (at most 10).
    """

    def __init__(
        self,
        info: mne.Info,
        out=None,
        *,
        name: str = "stream",
        speed: float = 1.0,
        sensitivity: str = "medium",
        confirm: float = 3.0,
        interval: float = 1.0,
        on_alarm: Callable | None = None,
        on_frame: Callable | None = None,
        edf_flush: float = 1.0,
    ):
        _check_range("speed", speed, 1e-3)
        _check_range("confirm", confirm, 0.0)
        _check_range("interval", interval, 0.05, 60.0)
        _check_range("edf_flush", edf_flush, 0.0, 10.0)
        self.info = info
        self.sfreq = float(info["sfreq"])
        self.name = name
        self.confirm = float(confirm)
        self.interval = float(interval)
        self.on_frame = on_frame
        self.book = AlarmBook()
        self.seizure_step = SeizureStep.create({"sensitivity": sensitivity})
        self.trend_step = LiveTrendStep.create()
        self.check_step = SignalCheckStep.create({"speed": float(speed)})
        self.trend_step.book = self.check_step.book = self.book
        self.engine = Engine([self.seizure_step, self.trend_step, self.check_step])
        self.engine.start(StreamInfo(info, None))
        if self.seizure_step.reason:
            raise RecordingError(f"cannot monitor seizures on this stream: {self.seizure_step.reason}")
        self.detector = self.seizure_step.detector
        # One thread per bed: LightGBM's thread pool costs more than the ~700 rows of an alarm check
        # (28 ms instead of ~2 ms on a busy machine), and beds run side by side.
        self.detector.n_jobs = 1
        self.on_thr, self.off_thr = self.detector.thresholds()
        self.top_k = int(self.seizure_step.stream.meta.get("top_k", self.detector.top_k))
        self.n_times = 0
        self._next_eval = self.interval
        self._above = 0.0  # seconds the smoothed probability has been ≥ on
        self._below = 0.0
        self.probability: float | None = None
        self.latency: list[float] = []  # wall seconds from receiving samples to their evaluation
        #: Optional ``f(stream seconds) -> perf_counter time`` when that sample was available (benchmarks):
        #: the latency is then measured from the data's own time rather than from the last push.
        self.data_clock: Callable[[float], float] | None = None
        self._last_arrival: float | None = None
        self.out = None if out is None else Path(out)
        self.table = self.edf = None
        self._edf_flush, self._edf_last = float(edf_flush), 0.0
        types = info.get_channel_types()
        self._edf_picks = [i for i, t in enumerate(types) if t in WRITTEN_TYPES]
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            self.table = AlarmTable(self.out / "alarms.tsv")
            start = info["meas_date"] or dt.datetime.now(dt.UTC)
            self.edf = EdfAppender(self.out / "recording.edf", [info["ch_names"][i] for i in self._edf_picks], self.sfreq, start)
        self.book.listeners.append(self._on_alarm)
        if on_alarm is not None:
            self.book.listeners.append(on_alarm)
        eeg = [info["ch_names"][i] for i in mne.pick_types(info, eeg=True, exclude=[])]
        strip = [c for c in STRIP_CHANNELS if c in eeg] or eeg[:8]
        self._strip_idx = np.array([info["ch_names"].index(c) for c in strip])
        self._strip_names = strip
        self._strip_filter = StripFilter(self.sfreq, len(strip))
        self._strip = np.zeros((len(strip), 0))  # the filtered, decimated strip of the last 2 s, µV
        self._strip_keep = 2 * int(np.ceil(self._strip_filter.out_sfreq))

    # --- feeding ---------------------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """Stream seconds received."""
        return self.n_times / self.sfreq

    def push(self, data: np.ndarray, timestamps: np.ndarray | None = None, *, arrival: float | None = None) -> None:
        """Feed samples (n_channels, n) in volts, with their LSL timestamps when known.

        ``arrival``: wall time (``time.perf_counter()``) when the samples arrived, for the latency measure.
        """
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != len(self.info["ch_names"]):
            raise ParameterError(f"samples must be ({len(self.info['ch_names'])}, n), got shape {data.shape}")
        if data.shape[1] == 0:
            return
        self._last_arrival = time.perf_counter() if arrival is None else arrival
        if timestamps is not None:
            self.check_step.timestamps(timestamps)
        if not np.isfinite(data).all():  # a NaN sample (some amplifiers mark dropouts so) is flat signal here
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        if self.edf is not None and self._edf_picks:
            self.edf.write(data[self._edf_picks] * 1e6)
        # Evaluate at fixed stream times, on exactly the samples up to them, whatever the chunking
        # (so that an LSL replay and a direct push raise the same alarms at the same stream seconds).
        pos = 0
        while pos < data.shape[1]:
            boundary = int(np.ceil(self._next_eval * self.sfreq - 1e-9))
            stop = min(data.shape[1], pos + max(1, boundary - self.n_times))
            part = data[:, pos:stop]
            new = self._strip_filter.process(part[self._strip_idx] * 1e6)
            self._strip = np.concatenate([self._strip, new], axis=1)[:, -self._strip_keep :]
            self.engine.push(part)
            self.n_times += part.shape[1]
            pos = stop
            while self.n_times >= int(np.ceil(self._next_eval * self.sfreq - 1e-9)):
                self._evaluate(self._next_eval)
                self._next_eval += self.interval
        if self.edf is not None and self.seconds - self._edf_last >= self._edf_flush:
            self.edf.flush()
            self._edf_last = self.seconds

    # --- alarms ----------------------------------------------------------------------------------
    def _on_alarm(self, alarm) -> None:
        state = "raised" if alarm.state == "raised" else "cleared"
        chans = f" [{', '.join(alarm.channels[:6])}]" if alarm.channels else ""
        logger.warning(
            "%s: %s alarm %s at %.1f s (onset %.1f s)%s",
            self.name,
            alarm.type,
            state,
            alarm.raised if state == "raised" else alarm.cleared,
            alarm.onset,
            chans,
        )
        if self.table is not None:
            self.table.add(alarm)
        if self.edf is not None:
            if state == "raised":
                self.edf.annotate(
                    alarm.onset,
                    f"{alarm.type} alarm (raised {alarm.raised:.1f} s, confidence {alarm.confidence:.2f}) {alarm.detail}",
                )
            else:
                self.edf.annotate(alarm.cleared, f"{alarm.type} alarm cleared")

    def recent_seizure(self, n_windows: int = _RECENT_WINDOWS) -> tuple[int, np.ndarray, np.ndarray] | None:
        """Provisional seizure probability of the last seconds (``n_windows`` windows: about as many seconds).

        Returns
        -------
        first : int
            The first second of the arrays.
        smoothed : ndarray
            Smoothed probability per second (what the thresholds apply to), as
            :meth:`SeizureStream.result` gives it for these seconds now.
        channel : ndarray, shape (n, n_channels)
            Channel probability per second.
        """
        stream = self.seizure_step.stream
        n_seconds = int(np.floor(stream.n_times / stream.sfreq))
        if stream.n_times < 10 * stream.sfreq or n_seconds < 2:
            return None
        e0, p = stream.recent(n_windows)
        E = e0 + len(p)
        if not len(p):
            return None
        agg = _aggregate(p, self.top_k)
        # Second s is the mean of windows s-1 and s (those that exist), as the file path's _per_second.
        s0 = e0 + 1 if e0 > 0 else 0
        secs = np.arange(s0, n_seconds)
        prob = np.zeros(secs.size)
        chan = np.zeros((secs.size, p.shape[1]))
        cnt = np.zeros(secs.size)
        for shift in (0, 1):
            w = secs - shift
            ok = (w >= e0) & (w < E)
            prob[ok] += agg[w[ok] - e0]
            chan[ok] += p[w[ok] - e0]
            cnt[ok] += 1
        prob /= np.maximum(cnt, 1)
        chan /= np.maximum(cnt, 1)[:, None]
        prob = prob.astype(np.float32)
        sm = smooth(prob, self.detector.smoothing)
        half = int(round(self.detector.smoothing)) // 2
        if s0 > 0:  # the first seconds lack their left neighbours: drop them
            sm, chan, s0 = sm[half:], chan[half:], s0 + half
        return s0, sm, chan

    def _evaluate(self, t_eval: float) -> None:
        rec = self.recent_seizure(_CHECK_WINDOWS)
        if rec is not None:
            p_now = float(rec[1][-1])
            self.probability = p_now
            dt_ = self.interval
            if p_now >= self.on_thr:
                self._above += dt_
                self._below = 0.0
            elif p_now < self.off_thr:
                self._below += dt_
                self._above = 0.0
            else:
                self._above = 0.0 if not self.book.is_open("seizure") else self._above
                self._below = 0.0
            if self._above >= self.confirm and not self.book.is_open("seizure"):
                s0, sm, chan = self.recent_seizure(_RECENT_WINDOWS)
                # Onset: the start of the current run at or over the off threshold (within the recent seconds).
                below = np.flatnonzero(sm < self.off_thr)
                i0 = below[-1] + 1 if below.size else 0
                mean_ch = chan[i0:].mean(axis=0)
                involved = np.flatnonzero(mean_ch >= self.off_thr)
                if involved.size == 0:
                    involved = np.array([int(mean_ch.argmax())])
                involved = involved[np.argsort(-mean_ch[involved], kind="stable")]
                names = [self.seizure_step.stream.channels[i] for i in involved]
                self.book.raise_(
                    "seizure",
                    "",
                    t=t_eval,
                    onset=float(s0 + i0),
                    confidence=float(sm[i0:].max()),
                    channels=names,
                    detail="provisional probability",
                )
            elif self._below >= self.detector.merge_gap:
                self.book.clear("seizure", "", t=t_eval)
        if self.data_clock is not None:  # when the data up to t_eval were available, on perf_counter's clock
            self.latency.append(time.perf_counter() - self.data_clock(t_eval))
        elif self._last_arrival is not None:
            self.latency.append(time.perf_counter() - self._last_arrival)
        if self.on_frame is not None:
            self.on_frame(self.frame(t_eval))

    def stream_lost(self, lost: bool, *, detail: str = "") -> None:
        """Report whether the stream is lost now (the source's watchdog calls this)."""
        if lost:
            self.book.raise_("stream_lost", "", t=self.seconds, onset=self.seconds, confidence=1.0, detail=detail)
        elif self.book.clear("stream_lost", "", t=self.seconds) is not None:
            self.check_step.reset_clock()
            if self.edf is not None:
                self.edf.annotate(self.seconds, f"stream reconnected {detail}")

    # --- frames ----------------------------------------------------------------------------------
    def frame(self, t: float) -> dict:
        """The frame posted to the data centre at stream time ``t``, the end of its second (``docs/monitor.md``).

        The frame's own ``"t"`` is the stream time of its strip's first sample (the start of that second, to
        within one strip sample): the page draws sample ``i`` at ``"t" + i / sfreq`` (``docs/ward.md``).
        ``"wall"`` is the unix time of that ``"t"``, so ``wall − t`` is the stream's start as before.
        """
        last = self.trend_step.partial()
        dsa = None
        if last is not None and last["left"] is not None:
            dsa = {
                "freqs": [round(float(f), 2) for f in last["freqs"]],
                "left": [round(float(v), 2) for v in last["left"]],
                "right": [round(float(v), 2) for v in last["right"]],
            }
        # The last second: the strip's samples kept from the last round(sfreq) stream samples (filtered causally and
        # decimated as they arrived, so the same whatever the chunking).
        sf = self._strip_filter
        end = sf.n_in
        start = max(0, end - int(round(self.sfreq)))
        m = end // sf.q - start // sf.q
        x = self._strip[:, self._strip.shape[1] - min(m, self._strip.shape[1]) :]
        data = np.clip(np.rint(x / STRIP_SCALE_UV), -32768, 32767).astype(np.int16)
        # Label the frame with its first sample's stream time, not t (the end of the second): labelled t, the
        # page drew these samples one second late on its time grid, against the alarms' stream times.
        first = (end // sf.q - x.shape[1] + 1) * sf.q - 1 if x.shape[1] else start  # kept: (k + 1) % q == 0
        t0 = first / self.sfreq
        return {
            "t": round(t0, 3),
            "wall": time.time() - (float(t) - t0),
            "seizure_probability": None if self.probability is None else round(self.probability, 4),
            "dsa": dsa,
            "strip": {
                "sfreq": sf.out_sfreq,
                "channels": list(self._strip_names),
                "scale_uv": STRIP_SCALE_UV,
                "data": data.tolist(),
                **sf.describe(),
            },
        }

    # --- end -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the files (what was received stays on disk) and the engine's steps."""
        if self.edf is not None:
            for alarm in list(self.book.open.values()):
                self.edf.annotate(self.seconds, f"{alarm.type} alarm still open at the end of monitoring")
            self.edf.close()
            self.edf = None
        if self.table is not None:
            self.table.close()
            self.table = None
        self.engine.close()

    def finish(self) -> dict:
        """Finish the engine and write the end-of-stream outputs; returns the step results by name.

        The seizure step's result is then final: the detector's result on every sample received
        (what ``dbrain analyze`` gives on the same samples). Written in ``out``:
        ``seizure_probability.parquet``, ``live_trends.parquet``, ``signal_problems.parquet``,
        ``events.tsv`` (the final seizures) and ``summary.json``.
        """
        results = {}
        if self.n_times >= 10 * self.sfreq:
            results = self.engine.finish()
        if self.out is not None:
            summary = {
                "stream": self.name,
                "seconds": self.seconds,
                "alarms": [a.to_json() | {"cleared": a.cleared} for a in self.book.history],
                "steps": {name: r.summary for name, r in results.items()},
            }
            for r in results.values():
                for tname, table in r.tables.items():
                    table.to_parquet(self.out / f"{tname}.parquet", index=False)
            sz = results.get("seizures")
            if sz is not None and sz.events is not None:
                write_events(sz.events, self.out / "events.tsv")
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        self.close()
        return results
