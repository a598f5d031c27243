"""Signal checks on a stream: a streaming step (flat, clipping, line noise) plus timestamp checks.

The checks look at each completed second of the EEG channels and keep one
episode per problem type (:class:`~dbrain.monitor.AlarmBook`): raised when a
problem has lasted ``raise_after`` seconds, cleared once it has been gone
``clear_after`` seconds. They are a :class:`dbrain.engine.Step`, so any job
that pushes a stream into an :class:`~dbrain.engine.Engine` (the monitor,
neurofeedback) reuses them as they are. The timing checks (dropped samples,
timestamp jitter) need the samples' timestamps, which the engine does not
carry: the caller hands them to :meth:`SignalCheckStep.timestamps` before
pushing the same samples.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd

from ..engine import Param, Step, StepResult, StreamInfo
from ._alarms import AlarmBook


class _Episode:
    """Debounce one problem: on for ``raise_after`` s → raise; off for ``clear_after`` s → clear."""

    def __init__(self, book: AlarmBook, kind: str, raise_after: float, clear_after: float):
        self.book, self.kind = book, kind
        self.raise_after, self.clear_after = raise_after, clear_after
        self.since: float | None = None  # start of the current run of "on" seconds
        self.off_since: float | None = None
        self.channels: list[str] = []
        self.peak = 0.0

    def update(
        self,
        t: float,
        on: bool,
        channels=(),
        severity: float = 1.0,
        dt: float = 1.0,
        detail: str = "",
        start: float | None = None,
    ) -> None:
        """The state of the second ending at stream time ``t`` (``start``: when the problem began, if known)."""
        if on:
            self.off_since = None
            if self.since is None:
                self.since, self.peak = (t - dt if start is None else start), 0.0
            self.peak = max(self.peak, float(severity))
            for c in channels:
                if str(c) not in self.channels:
                    self.channels.append(str(c))
            if t - self.since >= self.raise_after and not self.book.is_open(self.kind):
                self.book.raise_(
                    self.kind, "", t=t, onset=self.since, confidence=min(1.0, self.peak), channels=self.channels, detail=detail
                )
        else:
            if self.off_since is None:
                self.off_since = t - dt
            if t - self.off_since >= self.clear_after:
                self.book.clear(self.kind, "", t=t)
                self.since, self.channels = None, []


class SignalCheckStep(Step):
    """Signal problems of the EEG channels, second by second: flat or disconnected electrode, clipping, line noise.

    Also dropped samples / gaps and timestamp jitter when the caller passes timestamps
    (:meth:`timestamps`). Alarms go to ``self.book`` (an :class:`AlarmBook`; the monitor
    shares its own, so all alarms share one history).

    A channel is *flat* when its peak-to-peak amplitude over a second is under ``flat_uv``
    (a disconnected or shorted electrode, an amplifier dropping a channel); *clipped* when at
    least ``clip_fraction`` of its samples sit on its extreme value in runs of 3 or more
    (the amplifier's rail) with more than 50 µV peak to peak; *line noise* when the mains band
    (50 and 60 Hz ± 1 Hz) holds more than ``line_uv`` µV rms and its peak stands 20 times over
    the 35–75 Hz neighbourhood (a poorly attached electrode; broadband muscle is not mains).
    """

    name = "signal_check"
    version = "1"
    requires = ("signal",)
    params = {
        "flat_uv": Param(1.0, low=0.0, doc="peak-to-peak (µV) under which a second of a channel is flat"),
        "clip_fraction": Param(0.02, low=0.0, high=1.0, doc="share of samples on the rail that counts as clipping"),
        "line_uv": Param(5.0, low=0.0, doc="mains-band rms (µV) from which a channel has line noise"),
        "raise_after": Param(5.0, low=0.0, doc="seconds a problem must last before its alarm"),
        "clear_after": Param(10.0, low=0.0, doc="seconds without the problem before the alarm clears"),
        "gap_seconds": Param(0.1, low=0.0, doc="a timestamp jump longer than this (stream s) is a gap"),
        "jitter_ms": Param(20.0, low=0.0, doc="spread (ms, stream time) of sample times around a steady clock"),
        "speed": Param(1.0, low=1e-3, doc="replay speed: timestamps run this many times faster than stream time"),
    }

    def __init__(self, **params):
        super().__init__(**params)
        self.book = AlarmBook()

    def start(self, info: StreamInfo) -> None:
        p = self.params_
        self.sfreq = info.sfreq
        self.picks = mne.pick_types(info.info, eeg=True, exclude=[])
        self.names = [info.ch_names[i] for i in self.picks]
        self.n_sec = max(1, int(round(self.sfreq)))
        self._buf = np.zeros((len(self.picks), 0))
        self._done = 0  # seconds checked
        ra, ca = p["raise_after"], p["clear_after"]
        self.episodes = {
            kind: _Episode(self.book, kind, ra, ca) for kind in ("flat_channel", "clipping", "line_noise", "timestamp_jitter")
        }
        # A gap is an event, not a state: raised on the jump, cleared after clear_after s of regular samples.
        self.episodes["dropped_samples"] = _Episode(self.book, "dropped_samples", 0.0, ca)
        n = 2 * self.n_sec
        self._window = np.hanning(n)
        freqs = np.fft.rfftfreq(n, 1.0 / self.sfreq)
        self._line = np.flatnonzero((np.abs(freqs - 50) <= 1) | (np.abs(freqs - 60) <= 1))
        # The line bins are compared with their neighbourhood (muscle or broadband noise is not mains).
        self._near = np.flatnonzero((freqs >= 35) & (freqs <= 75) & (np.abs(freqs - 50) > 2) & (np.abs(freqs - 60) > 2))
        self._prev = np.zeros((len(self.picks), 0))
        # timestamps
        self._ts_last: float | None = None
        self._ts_n = 0  # samples with timestamps
        self._resid: list[np.ndarray] = []
        self._resid_n = 0
        self._gap_pending: list[tuple[float, float]] = []  # (stream time, missing s)
        self.counts = {"seconds": 0, "gaps": 0, "missing_seconds": 0.0}
        self.last = {}

    # --- timestamps ------------------------------------------------------------------------------
    def timestamps(self, ts: np.ndarray) -> None:
        """Timestamps (s, LSL clock) of the next samples to be pushed: gaps and jitter.

        Call before pushing the same samples. A jump between consecutive samples longer than
        ``gap_seconds`` of stream time (timestamps run ``speed`` times faster than stream time)
        means samples were dropped; the jitter is the spread of the sample times around a steady
        clock at the nominal rate over the last 10 s, with the clock's drift removed.
        """
        ts = np.asarray(ts, dtype=np.float64)
        if ts.size == 0:
            return
        speed = self.params_["speed"]
        step = 1.0 / (self.sfreq * speed)
        if self._ts_last is None:
            self._anchor = (ts[0], self._ts_n)
        d = np.diff(np.concatenate([[self._ts_last if self._ts_last is not None else ts[0] - step], ts]))
        index = self._ts_n + np.arange(ts.size)
        resid = np.empty(ts.size)
        start = 0
        for j in [*np.flatnonzero(d * speed > self.params_["gap_seconds"]), ts.size]:
            if start < j:
                t0, n0 = self._anchor
                resid[start:j] = (ts[start:j] - t0 - (index[start:j] - n0) * step) * speed
            if j < ts.size:
                self._gap_pending.append((index[j] / self.sfreq, d[j] * speed - 1.0 / self.sfreq))
                self._anchor = (ts[j], index[j])  # re-anchor the clock after the gap
            start = j
        self._resid.append(resid)
        self._resid_n += ts.size
        keep = int(10 * self.sfreq)
        while self._resid_n - len(self._resid[0]) >= keep:
            self._resid_n -= len(self._resid.pop(0))
        self._ts_last = float(ts[-1])
        self._ts_n += ts.size

    def reset_clock(self) -> None:
        """Forget the timestamps so far (after a reconnection: the new stream has a clock of its own)."""
        self._ts_last, self._resid, self._resid_n = None, [], 0

    def _jitter_ms(self) -> float:
        if self._resid_n < self.sfreq * 2:
            return 0.0
        r = np.concatenate(self._resid)
        x = np.arange(r.size)
        slope, icpt = np.polyfit(x, r, 1)  # a clock running a little fast or slow is drift, not jitter
        e = r - (slope * x + icpt)
        return float(np.percentile(e, 95) - np.percentile(e, 5)) * 1e3 / 2

    # --- samples ---------------------------------------------------------------------------------
    def update(self, chunk) -> None:
        if not len(self.picks):
            return
        x = chunk["signal"][self.picks]
        self._buf = np.concatenate([self._buf, x], axis=1) if self._buf.shape[1] else np.array(x, copy=True)
        while self._buf.shape[1] >= self.n_sec:
            sec, self._buf = self._buf[:, : self.n_sec], self._buf[:, self.n_sec :]
            self._check_second(sec * 1e6)

    def _check_second(self, x: np.ndarray) -> None:
        p = self.params_
        self._done += 1
        self.counts["seconds"] += 1
        t = self._done * self.n_sec / self.sfreq
        ptp = np.ptp(x, axis=1)
        flat = ptp < p["flat_uv"]
        hi, lo = x.max(axis=1, keepdims=True), x.min(axis=1, keepdims=True)
        rail = (x == hi) | (x == lo)
        # Runs of at least 3 equal extreme samples: a rail, not a single peak.
        runs = rail[:, 2:] & rail[:, 1:-1] & rail[:, :-2] & (x[:, 2:] == x[:, :-2])
        clip = (runs.mean(axis=1) >= p["clip_fraction"]) & (ptp > 50.0)
        two = np.concatenate([self._prev, x], axis=1)
        self._prev = x
        line = np.zeros(len(x), bool)
        line_rms = np.zeros(len(x))
        if two.shape[1] == 2 * self.n_sec and self._line.size and self.sfreq > 2 * 51:
            seg = (two - two.mean(axis=1, keepdims=True)) * self._window
            spec = np.abs(np.fft.rfft(seg, axis=1)) ** 2
            # Hann-windowed periodogram → rms of the band: 2|X|²/(N·Σw²) summed over the band's bins.
            line_rms = np.sqrt(2 * spec[:, self._line].sum(axis=1) / (seg.shape[1] * (self._window**2).sum()))
            near = np.median(spec[:, self._near], axis=1) if self._near.size else np.zeros(len(x))
            line = (line_rms > p["line_uv"]) & (spec[:, self._line].max(axis=1) > 20 * near)
        self.last = {"t": t, "flat": flat, "clipping": clip, "line_rms": line_rms}
        names = np.array(self.names)
        ep = self.episodes
        ep["flat_channel"].update(t, bool(flat.any()), names[flat], 1.0, detail="flat or disconnected electrode")
        ep["clipping"].update(t, bool(clip.any()), names[clip], 1.0, detail="amplifier clipping")
        ep["line_noise"].update(
            t, bool(line.any()), names[np.argsort(-line_rms)][: int(line.sum())], min(1.0, float(line_rms.max(initial=0)) / 50)
        )
        jit = self._jitter_ms()
        ep["timestamp_jitter"].update(t, jit > p["jitter_ms"], (), min(1.0, jit / (5 * p["jitter_ms"])), detail=f"{jit:.0f} ms")
        gaps = [g for g in self._gap_pending if g[0] <= t]
        self._gap_pending = [g for g in self._gap_pending if g[0] > t]
        for _when, missing in gaps:
            self.counts["gaps"] += 1
            self.counts["missing_seconds"] += float(missing)
        if gaps:
            missing = sum(g[1] for g in gaps)
            ep["dropped_samples"].update(t, True, (), 1.0, dt=0.0, detail=f"{missing:.2f} s missing", start=gaps[0][0])
        else:
            ep["dropped_samples"].update(t, False)

    def partial(self) -> dict:
        """The last second's checks and the open signal alarms."""
        return {"last": self.last, "open": {k: v.channels for k, v in self.episodes.items() if self.book.is_open(k)}}

    def finish(self) -> StepResult:
        alarms = [a for a in self.book.history if a.type in self.episodes]
        table = pd.DataFrame(
            {
                "raised": [a.raised for a in alarms],
                "type": [a.type for a in alarms],
                "onset": [a.onset for a in alarms],
                "cleared": [np.nan if a.cleared is None else a.cleared for a in alarms],
                "channels": [",".join(a.channels) for a in alarms],
            }
        )
        summary = {"computed": True, **self.counts, "alarms": {k: int((table["type"] == k).sum()) for k in self.episodes}}
        return StepResult(summary=summary, tables={"signal_problems": table})
