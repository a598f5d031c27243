"""R-peak detection and heart-rate trend from the ECG channel of an EEG recording.

The detector follows Pan & Tompkins (1985) in outline: band-pass 5–20 Hz
(keeps the QRS, drops P/T waves, baseline wander and EMG), squared first
derivative (polarity-free), 120 ms moving-window integration, then peaks of
that energy above an adaptive threshold (``threshold`` × the median of the
local 98th percentiles of 5 s blocks, so a pause or a run of small beats
does not lower it) at least a refractory period (250 ms, i.e. up to 240 bpm)
apart. Each R peak is placed at the largest absolute band-passed deflection
within ±60 ms of the energy peak.

Rhythm events (thresholds are parameters of :func:`compute_heart_rate`):

* ``bradycardia`` — 10 s median heart rate below 50 bpm for at least 10 s;
* ``tachycardia`` — 10 s median heart rate above 100 bpm for at least 10 s (adult limit);
* ``pause`` — an RR interval longer than 3 s (the onset is the last beat before it).

Signal quality: an ECG whose standard deviation is below 1 µV is *flat*; one
whose beats do not resemble each other (median correlation with the average
beat below 0.5) or whose RR intervals are mostly implausible is *noise*. In
both cases no events are reported and the reason is given in the note.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from scipy import ndimage, signal

from ..errors import ParameterError
from ..events import make_events
from ..events._table import empty_events
from ..utils import _check_range, _validate_type, logger, verbose

__all__ = ["compute_heart_rate", "detect_r_peaks"]

_BAND = (5.0, 20.0)
_INTEGRATION = 0.12  # s
_SEARCH = 0.06  # s either side of the energy peak
_BLOCK = 5.0  # s, blocks for the adaptive threshold
_FLAT_UV = 1.0
_MIN_TEMPLATE_CORR = 0.5
_CHUNK = 600.0  # s of ECG read at a time
_OVERLAP = 30.0  # s read on either side of a chunk
_BEATS_PER_CHUNK = 200  # beats per chunk kept for the quality check
TREND_COLUMNS = ["time", "rr", "hr", "hr_trend"]


def _bandpass(ecg, sfreq):
    hi = min(_BAND[1], 0.45 * sfreq)
    sos = signal.butter(2, [_BAND[0], hi], "bandpass", fs=sfreq, output="sos")
    return signal.sosfiltfilt(sos, ecg)


def detect_r_peaks(ecg, sfreq, *, threshold: float = 0.3, refractory: float = 0.25) -> np.ndarray:
    """Find R peaks in a single ECG trace.

    Parameters
    ----------
    ecg : array, shape (n_times,)
        The ECG (any unit, either polarity).
    sfreq : float
        Sampling rate in Hz (at least 50 Hz).
    threshold : float
        Fraction (0–1) of the local QRS energy a peak must reach.
    refractory : float
        Minimum time between beats in seconds.

    Returns
    -------
    peaks : numpy.ndarray of int64
        Sample indices of the R peaks, increasing; empty for a flat or too short trace.
    """
    ecg = np.asarray(ecg, dtype=float)
    if ecg.ndim != 1:
        raise ParameterError(f"ecg must be 1-D, got shape {ecg.shape}.")
    _check_range("sfreq", sfreq, 50, None)
    _check_range("threshold", threshold, 0, 1, inclusive=False)
    _check_range("refractory", refractory, 0.05, 2.0)
    return _detect(ecg, sfreq, threshold, refractory)[0]


def _detect(ecg, sfreq, threshold, refractory):
    """R peaks and the band-passed trace they were found on (validated inputs)."""
    if ecg.size < int(2 * sfreq) or not np.all(np.isfinite(ecg)) or np.ptp(ecg) == 0:
        return np.zeros(0, np.int64), ecg
    filt = _bandpass(ecg - np.median(ecg), sfreq)
    energy = np.gradient(filt) ** 2
    energy = ndimage.uniform_filter1d(energy, max(1, int(round(_INTEGRATION * sfreq))), mode="nearest")
    block = int(_BLOCK * sfreq)
    nb = max(1, energy.size // block)
    edges = np.linspace(0, energy.size, nb + 1).astype(int)
    sizes = np.diff(edges)
    # 98th percentile of each block; blocks differ in size by at most one sample, so two reshapes cover them.
    levels = np.empty(nb)
    for size in np.unique(sizes):
        idx = np.flatnonzero(sizes == size)
        rows = energy[edges[idx][:, None] + np.arange(size)]
        levels[idx] = np.percentile(rows, 98, axis=1)
    # Median of each block's level with its neighbours (±3 blocks): robust to pauses and bursts.
    local = ndimage.median_filter(levels, size=min(7, 2 * (nb // 2) + 1), mode="nearest")
    thr = threshold * np.repeat(local, sizes)
    peaks, _ = signal.find_peaks(energy, height=thr, distance=max(1, int(round(refractory * sfreq))))
    half = int(round(_SEARCH * sfreq))
    # Relocate each energy peak to the largest |deflection| within ±half samples (windows clipped at the ends).
    padded = np.pad(np.abs(filt), half, constant_values=-1.0)
    windows = padded[peaks[:, None] + np.arange(2 * half + 1)]
    out = np.unique(peaks - half + np.argmax(windows, axis=1)).astype(np.int64)
    # Re-apply the refractory period after relocation, keeping the larger deflection.
    return _refractory(out, np.abs(filt[out]), refractory * sfreq), filt


def _quality(std_uv, beats, peaks, sfreq):
    """Return a note when the ECG is flat or noise, else an empty string.

    ``beats`` holds ±100 ms of the band-passed ECG around (a sample of) the R peaks.
    """
    if std_uv < _FLAT_UV:
        return f"ECG is flat (standard deviation below {_FLAT_UV:g} µV): no heart rate."
    if peaks.size < 3:
        return "ECG shows fewer than 3 beats: no heart rate."
    if len(beats) >= 3:
        template = beats.mean(axis=0)
        b0 = beats - beats.mean(axis=1, keepdims=True)
        t0 = template - template.mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.median(b0 @ t0 / (np.linalg.norm(b0, axis=1) * np.linalg.norm(t0)))
        if not corr >= _MIN_TEMPLATE_CORR:
            return f"ECG looks like noise (median beat correlation {corr:.2f} < {_MIN_TEMPLATE_CORR}): no events."
    rr = np.diff(peaks) / sfreq
    if np.mean((rr >= 0.25) & (rr <= 3.0)) < 0.5:
        return "ECG looks like noise (most RR intervals implausible): no events."
    return ""


def _refractory(peaks, amplitude, min_gap):
    """Drop peaks closer than ``min_gap`` samples to the one kept before, keeping the larger ``amplitude``."""
    keep = []
    for p, a in zip(peaks, amplitude, strict=True):
        if keep and p - keep[-1][0] < min_gap:
            if a > keep[-1][1]:
                keep[-1] = (p, a)
            continue
        keep.append((p, a))
    return np.asarray([p for p, _ in keep], np.int64)


def _stream_peaks(raw, channel, sfreq):
    """R peaks of a whole recording's ECG channel, read ``_CHUNK`` s at a time (bounded memory).

    Each chunk is read with ``_OVERLAP`` s on either side (filter edges, the
    ±15 s adaptive threshold) and keeps the peaks in its own span. Returns the
    peaks, the ECG's standard deviation in µV and a sample of beats for the
    quality check.
    """
    n = raw.n_times
    scan = PeakScan(sfreq)
    for start, stop, lo, hi in scan.spans(n):
        scan.add(start, stop, lo, raw.get_data(picks=[channel], start=lo, stop=hi)[0])
    return scan.result(n)


class PeakScan:
    """The R-peak scan of :func:`compute_heart_rate` over spans of an ECG trace given in order (bounded memory).

    The trace is cut into spans of ``_CHUNK`` s (:meth:`spans`), each read with
    ``_OVERLAP`` s of signal on either side and given to :meth:`add` in order;
    :meth:`result` gives the R peaks, the standard deviation and the beats of the
    quality check. A file is scanned by reading the spans (``_stream_peaks``),
    the analysis engine by keeping the ECG of its chunks until a span is
    complete (``dbrain.engine`` product ``ecg_peaks``): the same spans, the same numbers.
    """

    def __init__(self, sfreq: float):
        self.sfreq = float(sfreq)
        self.step, self.pad, self.half = int(_CHUNK * sfreq), int(_OVERLAP * sfreq), int(round(0.1 * sfreq))
        self.peaks, self.amps, self.beats = [], [], []
        self.total = self.total_sq = 0.0
        self.shift = None

    def spans(self, n: int, first: int = 0):
        """``(start, stop, lo, hi)`` of the spans from sample ``first`` (a span's start) of a trace of ``n`` samples."""
        for start in range(first, n, self.step):
            stop = min(n, start + self.step)
            yield start, stop, max(0, start - self.pad), min(n, stop + self.pad)

    def add(self, start: int, stop: int, lo: int, x: np.ndarray) -> None:
        """Scan the span ``[start, stop)``, given its samples ``x`` from ``lo`` (with the overlap), volts."""
        sfreq, half = self.sfreq, self.half
        own = x[start - lo : stop - lo]
        self.shift = float(np.median(own)) if self.shift is None else self.shift  # sums of squares about a typical level
        self.total += float(np.sum(own - self.shift))
        self.total_sq += float(np.sum((own - self.shift) ** 2))
        p, filt = _detect(x, sfreq, 0.3, 0.25) if sfreq >= 50 else (np.zeros(0, np.int64), x)
        p = p[(p >= start - lo) & (p < stop - lo)]
        self.peaks.append(p + lo)
        self.amps.append(np.abs(filt[p]))
        inner = p[(p >= half) & (p < filt.size - half)]
        if inner.size:
            inner = inner[:: max(1, inner.size // _BEATS_PER_CHUNK)]
            self.beats.append(filt[inner[:, None] + np.arange(-half, half + 1)])

    def result(self, n: int):
        """``(peaks, std_uv, beats)`` once every span of the ``n`` samples was added."""
        total, total_sq, half = self.total, self.total_sq, self.half
        std_uv = np.sqrt(max(total_sq / n - (total / n) ** 2, 0.0)) * 1e6
        if self.peaks:
            peaks = _refractory(np.concatenate(self.peaks), np.concatenate(self.amps), 0.25 * self.sfreq)
        else:
            peaks = np.zeros(0, np.int64)
        beats = np.concatenate(self.beats) if self.beats else np.zeros((0, 2 * half + 1))
        return peaks, std_uv, beats


def _runs(mask):
    """(start, stop) index pairs of runs of True in ``mask`` (stop exclusive)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _empty_trend(channel, note):
    trend = pd.DataFrame({c: pd.Series(dtype=float) for c in TREND_COLUMNS})
    trend.attrs.update(channel=channel, note=note)
    return trend


@verbose
def compute_heart_rate(
    raw,
    *,
    ecg_channel: str | None = None,
    bradycardia: float = 50.0,
    tachycardia: float = 100.0,
    min_duration: float = 10.0,
    pause: float = 3.0,
    trend_window: float = 10.0,
    verbose=None,
    _peaks=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Heart rate and rhythm events from the ECG channel of a recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (normalised by :func:`dbrain.io.read_recording`: ECG typed ``ecg``).
    ecg_channel : str | None
        Channel to use; ``None`` takes the first channel of type ``ecg``.
    bradycardia, tachycardia : float
        Heart-rate limits in bpm for the trend (below / above).
    min_duration : float
        Seconds the trend must stay beyond a limit to make an event.
    pause : float
        RR interval in seconds above which a ``pause`` event is reported.
    trend_window : float
        Width in seconds of the centred running median giving ``hr_trend``.
    verbose : bool | str | int | None
        Log level for this call.
    _peaks : tuple | None
        Private, for the analysis engine: ``(channel, (peaks, std_uv, beats))`` of a
        :class:`PeakScan` of the ECG channel already made (product ``ecg_peaks``); the
        channel is then not read again. Used only when it is the channel this call would use.

    Returns
    -------
    trend : pandas.DataFrame
        One row per beat: ``time`` (s from the first sample, the R peak),
        ``rr`` (s since the previous beat, NaN for the first), ``hr``
        (60 / rr, bpm) and ``hr_trend`` (running median of ``hr``, bpm).
        ``trend.attrs`` holds ``channel`` (or None) and ``note`` (why there is
        no heart rate or no events, else empty).
    events : pandas.DataFrame
        :mod:`dbrain.events` table of ``bradycardia``, ``tachycardia`` and
        ``pause`` events on the ECG channel; empty without a usable ECG.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.Raw")
    for name, value in (("bradycardia", bradycardia), ("tachycardia", tachycardia)):
        _check_range(name, value, 10, 300)
    if not bradycardia < tachycardia:
        raise ParameterError(f"bradycardia ({bradycardia}) must be below tachycardia ({tachycardia}).")
    _check_range("min_duration", min_duration, 0)
    _check_range("pause", pause, 0.5, 60)
    _check_range("trend_window", trend_window, 1, 600)
    if ecg_channel is None:
        picks = mne.pick_types(raw.info, meg=False, ecg=True, exclude=[])
        if len(picks) == 0:
            logger.info("No ECG channel: no heart rate.")
            return _empty_trend(None, "no ECG channel"), empty_events()
        ecg_channel = raw.ch_names[picks[0]]
    else:
        _validate_type(ecg_channel, str, "ecg_channel")
        if ecg_channel not in raw.ch_names:
            raise ParameterError(f"ecg_channel {ecg_channel!r} is not in the recording.")
    sfreq = raw.info["sfreq"]
    duration = raw.n_times / sfreq
    if _peaks is not None and _peaks[0] == ecg_channel:
        peaks, std_uv, beats = _peaks[1]
    else:
        peaks, std_uv, beats = _stream_peaks(raw, ecg_channel, sfreq)
    note = _quality(std_uv, beats, peaks, sfreq)
    if note and (std_uv < _FLAT_UV or peaks.size < 3):
        logger.info(note)
        return _empty_trend(ecg_channel, note), empty_events()
    t = peaks / sfreq
    rr = np.concatenate([[np.nan], np.diff(t)])
    hr = 60.0 / rr
    series = pd.Series(hr, index=pd.to_timedelta(t, unit="s"))
    hr_trend = series.rolling(pd.Timedelta(seconds=trend_window), center=True, min_periods=1).median().to_numpy()
    trend = pd.DataFrame({"time": t, "rr": rr, "hr": hr, "hr_trend": hr_trend}, columns=TREND_COLUMNS)
    trend.attrs.update(channel=ecg_channel, note=note)
    if note:
        logger.info(note)
        return trend, empty_events()

    onsets, durations, kinds = [], [], []
    for kind, mask in (("bradycardia", hr_trend < bradycardia), ("tachycardia", hr_trend > tachycardia)):
        for a, b in zip(*_runs(mask), strict=True):
            start = t[a - 1] if a > 0 else t[a]  # the interval leading into the first beat belongs to the run
            stop = t[b - 1]
            if stop - start >= min_duration:
                onsets.append(start)
                durations.append(stop - start)
                kinds.append(kind)
    for i in np.flatnonzero(rr > pause):
        onsets.append(t[i - 1])
        durations.append(rr[i])
        kinds.append("pause")
    events = make_events(
        onsets,
        durations,
        kinds,
        channels=[ecg_channel] * len(onsets),
        meas_date=raw.info["meas_date"],
        recording_duration=duration,
    )
    logger.info("ECG %s: %d beats, %d rhythm event(s)", ecg_channel, peaks.size, len(events))
    return trend, events
