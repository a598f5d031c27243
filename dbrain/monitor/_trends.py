"""Live trends of a stream: compressed spectral array (left/right) and suppression, second by second.

:class:`dbrain.engine.QEEGStep` computes the full qEEG trends but needs the
stream's length in advance (its epochs are laid out from it), so it cannot
run on a live stream. This step computes, for each completed second, what a
monitor shows and alarms on: the spectrum of the last 2 s (Hann window, the
same 2 s / 1 s layout as the qEEG and seizure windows) averaged over the
left and over the right hemisphere's electrodes (the DSA), and the
suppression ratio (share of samples in runs of ≥ 0.5 s under 5 µV after a
0.5–30 Hz band-pass, :func:`dbrain.qeeg._aeeg.suppressed_counts`, the qEEG's
definition) as the median over EEG channels. Over a moving 60 s, a mean
suppression ratio of at least 50 % raises *burst suppression*, of at least
99 % *suppression* (the thresholds of :func:`dbrain.qeeg.detect_burst_suppression`); burst
suppression also needs at least ``min_bursts`` separate bursts in the window, so that the
passage from normal EEG into suppression (whose moving mean crosses 50-99 % too) is not it.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from scipy.signal import butter, sosfilt, sosfilt_zi

from ..detect._postprocess import channel_side
from ..engine import Param, Step, StepResult, StreamInfo
from ..qeeg._aeeg import suppressed_counts
from ._alarms import AlarmBook


class LiveTrendStep(Step):
    """DSA (left/right, dB) and suppression ratio per second of a stream; suppression alarms.

    ``partial()`` gives the latest second's values; ``finish()`` the per-second table.
    """

    name = "live_trends"
    version = "1"
    requires = ("signal",)
    params = {
        "fmin": Param(0.5, low=0.0),
        "fmax": Param(30.0, low=1.0),
        "suppression_uv": Param(5.0, low=0.0, doc="amplitude (µV) under which EEG counts as suppressed"),
        "min_suppression": Param(0.5, low=0.01, doc="shortest suppressed run (s)"),
        "window": Param(60.0, low=1.0, doc="seconds over which the suppression ratio is averaged for alarms"),
        "burst_suppression": Param(50.0, low=0.0, high=100.0, doc="mean ratio (%) raising burst suppression"),
        "suppression": Param(99.0, low=0.0, high=100.0, doc="mean ratio (%) raising suppression"),
        "min_bursts": Param(3, low=1, doc="bursts within the window for burst suppression"),
        "hysteresis": Param(10.0, low=0.0, high=100.0, doc="points (%) below a threshold before the alarm clears"),
    }

    def __init__(self, **params):
        super().__init__(**params)
        self.book = AlarmBook()

    def start(self, info: StreamInfo) -> None:
        p = self.params_
        self.sfreq = info.sfreq
        self.picks = mne.pick_types(info.info, eeg=True, exclude=[])
        names = [info.ch_names[i] for i in self.picks]
        side = np.array([channel_side(n) for n in names])
        self.left, self.right = np.flatnonzero(side == "left"), np.flatnonzero(side == "right")
        self.n_sec = max(1, int(round(self.sfreq)))
        n = 2 * self.n_sec
        self._win = np.hanning(n)
        freqs = np.fft.rfftfreq(n, 1.0 / self.sfreq)
        self.fsel = np.flatnonzero((freqs >= p["fmin"] - 1e-9) & (freqs <= min(p["fmax"], self.sfreq / 2) + 1e-9))
        self.freqs = freqs[self.fsel]
        self._scale = 2.0 / (self.sfreq * (self._win**2).sum())  # one-sided PSD (µV²/Hz)
        hi = min(30.0, 0.45 * self.sfreq)
        self.sos = butter(4, [0.5, hi], btype="bandpass", fs=self.sfreq, output="sos")
        self._zi = None
        self._buf = np.zeros((len(self.picks), 0))
        self._hist = np.zeros((len(self.picks), 0))  # last 3 s, band-passed µV, for runs across seconds
        self._prev = None
        self.min_len = max(1, int(round(p["min_suppression"] * self.sfreq)))
        self.t, self.sr = [], []  # per second; the DSA is not kept (a day of it is 80 MB a bed)
        self.last = None

    def update(self, chunk) -> None:
        if not len(self.picks):
            return
        x = chunk["signal"][self.picks] * 1e6
        self._buf = np.concatenate([self._buf, x], axis=1) if self._buf.shape[1] else x
        while self._buf.shape[1] >= self.n_sec:
            sec, self._buf = self._buf[:, : self.n_sec], self._buf[:, self.n_sec :]
            self._second(sec)

    def _second(self, x: np.ndarray) -> None:
        if self._zi is None:
            self._zi = sosfilt_zi(self.sos)[:, None, :] * x[:, :1][None, :, :]
        y, self._zi = sosfilt(self.sos, x, axis=1, zi=self._zi)
        self._hist = np.concatenate([self._hist, y], axis=1)[:, -3 * self.n_sec :]
        n = self._hist.shape[1]
        counts = suppressed_counts(
            self._hist, self.params_["suppression_uv"], self.min_len, np.array([n - self.n_sec]), self.n_sec
        )
        sr = float(np.median(counts[:, 0])) * 100.0 / self.n_sec
        t = (len(self.t) + 1) * self.n_sec / self.sfreq
        dsa_l = dsa_r = None
        if self._prev is not None:
            two = np.concatenate([self._prev, x], axis=1)
            two = (two - two.mean(axis=1, keepdims=True)) * self._win
            psd = (np.abs(np.fft.rfft(two, axis=1)) ** 2)[:, self.fsel] * self._scale
            db = 10 * np.log10(np.maximum(psd, 1e-12))
            dsa_l = db[self.left].mean(axis=0) if self.left.size else db.mean(axis=0)
            dsa_r = db[self.right].mean(axis=0) if self.right.size else db.mean(axis=0)
        self._prev = x
        self.t.append(t)
        self.sr.append(sr)
        self.last = {"t": t, "suppression": sr, "freqs": self.freqs, "left": dsa_l, "right": dsa_r}
        self._alarms(t)

    def _alarms(self, t: float) -> None:
        p = self.params_
        k = max(1, int(round(p["window"])))
        if len(self.sr) < k:
            return
        recent = np.asarray(self.sr[-k:])
        mean = float(recent.mean())
        # Bursts: separate runs of mostly unsuppressed seconds. A single change from normal EEG to
        # suppression (or back) passes through a mean of 50-99 % too, but with one run, not several.
        active = recent < 50.0
        bursts = int(np.count_nonzero(np.diff(np.r_[0, active.astype(np.int8)]) == 1))
        for kind, thr in (("suppression", p["suppression"]), ("burst_suppression", p["burst_suppression"])):
            bs_ok = kind != "burst_suppression" or (mean < p["suppression"] and bursts >= p["min_bursts"])
            if mean >= thr and bs_ok:
                if not self.book.is_open(kind):
                    above = np.flatnonzero(recent < thr)
                    onset = t - k + (above[-1] + 1 if above.size else 0)  # first second of the current run at/over thr
                    self.book.raise_(kind, "", t=t, onset=onset, confidence=min(1.0, mean / 100), detail=f"{mean:.0f} %")
            elif mean < thr - p["hysteresis"] or (kind == "burst_suppression" and mean >= p["suppression"]):
                self.book.clear(kind, "", t=t)

    def partial(self) -> dict | None:
        return self.last

    def finish(self) -> StepResult:
        table = pd.DataFrame({"time": np.asarray(self.t, np.float32), "suppression": np.asarray(self.sr, np.float32)})
        return StepResult(
            summary={
                "computed": bool(len(self.picks)),
                "n_seconds": len(self.t),
                "median_suppression": float(np.median(self.sr)) if self.sr else None,
            },
            tables={"live_trends": table},
        )
