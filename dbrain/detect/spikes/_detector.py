"""Interictal epileptiform discharge (spike and sharp wave) detector.

The detector reads the recording in the common-average montage in chunks
with overlap (only one chunk in memory) and, per electrode:

1. band-passes 1–40 Hz (zero phase) and estimates the local background of
   the signal and of its slope: the median RMS of the five 1 s blocks around
   each second (a transient raises its own block only), at least the
   chunk's median block RMS;
2. takes every surface-negative peak whose prominence exceeds
   ``amplitude_ratio`` background SDs and whose half-prominence width fits a
   20–200 ms transient as a candidate;
3. measures its sharpness (steepest descending and ascending slopes within
   70 ms of the peak, in background slope SDs), the after-going slow wave
   (mean of the signal 100–300 ms after the peak, below its baseline, in
   background SDs) and its field: the fraction of the peak electrode's
   nearest neighbours (standard 10-20 positions) showing a same-sign
   deflection of at least 10 % at the same time;
4. checks the peak in the double-banana montage: the largest deflection of
   a bipolar derivation holding the peak electrode, in that derivation's
   background SDs, and whether the neighbouring derivations phase-reverse.

Candidates within 70 ms of each other on different electrodes are one
discharge; its peak channel is the electrode with the largest deflection.
Since issue 18 the rule confidence below is an input of a second stage
(``_stage2.py``: a learned model, the pop and ECG rules, a calibrated
confidence), and the presets are cut-offs on that confidence.
A discharge needs an amplitude of ``amplitude_ratio`` local background SDs,
both flanks sharper than ``sharpness_ratio`` background slope SDs, and a
field (a neighbour at 10 % or more; at the end of a bipolar chain a 4 SD
bipolar deflection will do). Its confidence is a logistic function of the
summed, capped evidence (amplitude, sharpness, slow wave, bipolar
deflection, field; muscle and a rhythmic background against: a crest of an
ongoing alpha train that does not stand out of it), and the
``sensitivity`` preset sets the confidence the detector reports from.

Chunks are processed by up to ``min(4, CPUs)`` threads (the filters release
the GIL); the result does not depend on the number of threads.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import mne
import numpy as np
import pandas as pd
from scipy import signal

from ...channels._raw import as_normalized
from ...errors import ParameterError, RecordingError
from ...events import EVENT_COLUMNS, make_events
from ...utils import _check_option, _check_range, _validate_type, logger, verbose
from .._base import BaseDetector
from .._filter import butter_sos, n_threads, sosfiltfilt_rows, thread_pool
from ._stage2 import STAGE2_FLOOR, chunk_features, ecg_rule, load_spike_model, pulse_rule, shipped_presets, stage2_confidence

#: First-stage (rule) confidence from which each preset reported a discharge before the second stage
#: (version 2; kept as the baseline the benchmarks print beside the model).
RULE_PRESETS: dict[str, float] = {"low": 0.75, "medium": 0.45, "high": 0.3}
#: Calibrated second-stage confidence from which each sensitivity preset reports a discharge (the shipped
#: model's cut-offs, read from its ``model.json``; a retrained model brings its own).
SENSITIVITY_PRESETS: dict[str, float] = shipped_presets()

#: Columns of the spike table: the events-table columns, then the spike's own.
SPIKE_COLUMNS = [
    *EVENT_COLUMNS,
    "peak_time",
    "peak_channel",
    "amplitude",
    "sharpness",
    "slow_wave",
    "field",
    "bipolar",
    "phase_reversal",
    "region",
]

_MIN_SFREQ = 100.0
_BAND = (1.0, 40.0)
_CHUNK_S = 60.0
_PAD_S = 2.0
_HALF_WIDTH = (0.004, 0.100)  # s, width at half prominence of a 20–200 ms transient
_PROM_WINDOW = 0.30  # s, window for the prominence
_SLOPE_WINDOW = 0.070  # s either side of the peak
_SLOW_WINDOW = (0.100, 0.300)  # s after the peak
_BASELINE = (-0.200, -0.080)  # s, baseline before the peak
_MERGE = 0.070  # s
_N_NEIGHBOURS = 4
_FIELD_FRACTION = 0.10
_EVENT_DURATION = 0.20  # s written to the events table, centred on the peak
_ALPHA = (8.0, 13.0)  # Hz, the rhythm a sharp crest may belong to
#: Rhythmic-background rule: above this alpha share, a candidate must stand out of the rhythm by this ratio.
RHYTHM_SHARE = 0.55
RHYTHM_RATIO = 6.0

#: Region of each 10-20 electrode for spike rates (``T7``/``P7`` = old ``T3``/``T5``).
SPIKE_REGIONS: dict[str, str] = {
    "Fp1": "left frontal", "F3": "left frontal", "F7": "left frontal",
    "Fp2": "right frontal", "F4": "right frontal", "F8": "right frontal",
    "T7": "left temporal", "P7": "left temporal",
    "T8": "right temporal", "P8": "right temporal",
    "C3": "left central", "C4": "right central",
    "P3": "left parietal", "P4": "right parietal",
    "O1": "left occipital", "O2": "right occipital",
    "Fz": "midline", "Cz": "midline", "Pz": "midline",
}  # fmt: skip


def _electrode(name: str) -> str:
    return name.split("-")[0]


def _positions(names: list[str]) -> np.ndarray | None:
    montage = mne.channels.make_standard_montage("colin27_1005")  # standard 10-05 positions (MNE >= 1.13 name)
    pos = {k.lower(): v for k, v in montage.get_positions()["ch_pos"].items()}
    if not all(n.lower() in pos for n in names):
        return None
    return np.array([pos[n.lower()] for n in names])


def _neighbours(names: list[str]) -> list[np.ndarray]:
    pos = _positions(names)
    if pos is None:  # unknown electrodes: neighbours by channel order only
        n = len(names)
        return [np.array([j for j in (i - 1, i + 1) if 0 <= j < n]) for i in range(n)]
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    k = min(_N_NEIGHBOURS, len(names) - 1)
    return [np.argsort(row)[1 : k + 1] for row in d]


def _window_values(x: np.ndarray, idx: np.ndarray, lo: int, hi: int, rows: np.ndarray | None = None) -> np.ndarray:
    """``x[..., idx + lo : idx + hi]`` for every index: shape (..., n_idx, hi - lo), or (n_idx, hi - lo) with ``rows``."""
    offs = np.arange(lo, hi)
    cols = np.clip(idx[:, None] + offs[None, :], 0, x.shape[-1] - 1)
    if rows is not None:
        return x[rows[:, None], cols]
    return x[..., cols]


class SpikeDetector(BaseDetector):
    """Detect interictal spikes and sharp waves (scikit-learn estimator conventions).

    A rule stage finds candidates and their evidence; a second stage (a
    small LightGBM model on morphology and context, :mod:`._stage2`) gives
    each a calibrated confidence. ``fit`` needs no data: it validates the
    parameters and reads the preset's cut-off (``threshold_``) from the
    model; :meth:`detect` fits on first use. Retrain the second stage with
    :func:`train_spike_model` (``dbrain train spikes``).

    Parameters
    ----------
    sensitivity : {"low", "medium", "high"}
        Preset: the calibrated confidence from which a discharge is reported
        (the model's cut-offs; see :data:`SENSITIVITY_PRESETS`). ``"high"``
        finds more spikes and more false ones.
    amplitude_ratio : float
        A candidate's prominence must exceed this many background SDs.
    sharpness_ratio : float
        Both flanks' steepest slopes must exceed this many background slope SDs.
    chunk_duration : float
        Seconds read at a time (memory is bounded by it, not by the recording).
    model : path-like | None
        A second-stage model folder from :func:`train_spike_model`; None for
        the shipped model.
    n_jobs : int | None
        Threads that process chunks side by side: None for the CPUs this
        process may use (at most 4, ``DBRAIN_FILTER_THREADS`` overrides), -1
        for every CPU. The table does not depend on it.

    Attributes
    ----------
    threshold_ : float
        Confidence threshold in use (set by :meth:`fit`).
    n_channels_in_ : int
        Electrodes used by the last :meth:`detect`.
    """

    _derived_attributes = ("threshold_",)
    _parameter_constraints = {
        "sensitivity": tuple(SENSITIVITY_PRESETS),
        "amplitude_ratio": (2.0, 20.0),
        "sharpness_ratio": (1.0, 20.0),
        "chunk_duration": (10.0, 3600.0),
    }

    def __init__(
        self, sensitivity="medium", *, amplitude_ratio=4.0, sharpness_ratio=3.0, chunk_duration=_CHUNK_S, model=None, n_jobs=None
    ):
        self.sensitivity = sensitivity
        self.amplitude_ratio = amplitude_ratio
        self.sharpness_ratio = sharpness_ratio
        self.chunk_duration = chunk_duration
        self.model = model
        self.n_jobs = n_jobs

    def fit(self, X=None, y=None):
        """Validate the parameters and set the preset's threshold.

        Parameters
        ----------
        X : ignored
            Not used; the second stage is trained by :func:`train_spike_model`.
        y : ignored
            Not used.

        Returns
        -------
        self : SpikeDetector
        """
        _check_option("sensitivity", self.sensitivity, SENSITIVITY_PRESETS)
        for name in ("amplitude_ratio", "sharpness_ratio", "chunk_duration"):
            value = getattr(self, name)
            _validate_type(value, (int, float, np.integer, np.floating), name, "number")
            _check_range(name, float(value), *self._parameter_constraints[name])
        if self.model is not None:
            _validate_type(self.model, (str, os.PathLike), "model", "path-like or None")
        if self.n_jobs is not None:
            _validate_type(self.n_jobs, (int, np.integer), "n_jobs", "int or None")
            if self.n_jobs == 0 or self.n_jobs < -1:
                raise ValueError(f"n_jobs must be a positive number of threads, -1 (every CPU) or None, got {self.n_jobs}")
        _, meta = load_spike_model(None if self.model is None else str(self.model))
        self.threshold_ = float(meta["presets"][self.sensitivity])
        return self

    def predict(self, raw):
        """Detected discharges of a recording (same as :meth:`detect`).

        Parameters
        ----------
        raw : mne.io.BaseRaw
            The recording.

        Returns
        -------
        spikes : pandas.DataFrame
            See :meth:`detect`.
        """
        return self.detect(raw)

    def detect(self, raw) -> pd.DataFrame:
        """Detect spikes and sharp waves in a recording.

        Parameters
        ----------
        raw : mne.io.BaseRaw
            A recording with normalised 10-20 channel names (lazy is fine),
            at least 3 scalp EEG electrodes, sampled at 100 Hz or more.

        Returns
        -------
        spikes : pandas.DataFrame
            One row per discharge with :data:`SPIKE_COLUMNS`: the events-table
            columns (``eventType`` ``"spike"``; ``onset`` 100 ms before the
            peak, ``duration`` 0.2 s; ``channels`` the peak electrode then its
            field) and ``peak_time`` (s from the first sample), ``peak_channel``,
            ``amplitude`` (µV, prominence of the negative peak in the average
            montage), ``sharpness`` (the slower flank's slope in background
            slope SDs), ``slow_wave`` (after-going slow wave, background SDs),
            ``field`` (fraction of neighbours in the field), ``bipolar``
            (deflection in double banana, background SDs), ``phase_reversal``
            and ``region``. Empty (same columns) when nothing is found.

        Raises
        ------
        dbrain.errors.ParameterError
            If a parameter is invalid.
        dbrain.errors.RecordingError
            If the recording has too few scalp electrodes or a low sampling rate.
        """
        if not hasattr(self, "threshold_"):
            self.fit()
        cands, names, sfreq, raw = self._scored(raw)
        table = _to_table(cands, names, sfreq, raw, self.threshold_)
        table.attrs["sensitivity"] = self.sensitivity
        logger.info(
            "Spike detection: %d discharge(s) on %d electrodes at confidence >= %.2f (%d candidate(s) below)",
            len(table), len(names), self.threshold_, table.attrs["n_below_cutoff"],
        )  # fmt: skip
        return table

    def _scored(self, raw, *, score: bool = True):
        """Every second-stage candidate with its features, first-stage and calibrated confidence.

        Returns the candidate table (columns of the first stage, :data:`~._stage2.STAGE2_FEATURES`,
        ``rule_confidence``, ``benign`` — the rule that rejects it or ``""`` — and ``confidence``, 0 for a
        rejected candidate; without ``score`` no ``confidence``), the electrode names, the sampling rate
        and the normalised recording.
        """
        raw = as_normalized(raw)
        _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
        sfreq = float(raw.info["sfreq"])
        if sfreq < _MIN_SFREQ:
            raise RecordingError(f"spike detection needs a sampling rate of at least {_MIN_SFREQ:g} Hz, got {sfreq:g} Hz")
        avg, bip, names = _montages(raw)
        self.n_channels_in_ = len(names)
        model = None if self.model is None else str(self.model)
        if self._n_workers() < 2 or not _ecg_channels(raw):
            cands = self._candidates(raw, avg, bip, names, sfreq)
            return _score(cands, sfreq, raw, model=model, confidence=score), names, sfreq, raw
        # The ECG rule's R peaks are found in a thread of their own while the chunks are processed (a
        # serial pass after them made the step slower than before the second stage). A lazy recording is
        # copied for that thread (its own reader state; the samples are not copied).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbrain-rpeaks") as pool:
            r_peaks = pool.submit(_r_peaks, raw if raw.preload else raw.copy(), sfreq)
            cands = self._candidates(raw, avg, bip, names, sfreq)
            r_peaks = r_peaks.result()
        return _score(cands, sfreq, raw, model=model, r_peaks=r_peaks, confidence=score), names, sfreq, raw

    # ------------------------------------------------------------------ internals
    def _n_workers(self) -> int:
        """Chunk threads for ``n_jobs`` (None: the filters' default, :func:`n_threads`)."""
        if self.n_jobs is None:
            return n_threads()
        return (os.cpu_count() or 1) if self.n_jobs == -1 else int(self.n_jobs)

    @staticmethod
    def _hf_sos(sfreq):
        return butter_sos(4, 25.0, "highpass", float(sfreq))

    def _candidates(self, raw, avg, bip, names, sfreq) -> pd.DataFrame:
        n_times = raw.n_times
        chunk, pad, electrodes, process = self._processor(bip, names, sfreq)
        spans = [(start, min(start + chunk, n_times)) for start in range(0, n_times, chunk)]
        spans = [(a, b) for a, b in spans if min(n_times, b + pad) - max(0, a - pad) >= int(2 * sfreq)]
        workers = min(self._n_workers(), len(spans))
        rows = []
        # Chunks are independent: they are read in order here and processed by ``workers`` threads (the
        # filters and most array work release the GIL), at most ``workers`` in flight; results keep their order.
        pending = deque()
        pool = thread_pool(workers) if workers > 1 else None
        threads = 1 if workers > 1 or self.n_jobs == 1 else None
        for start, stop in spans:
            lo, hi = max(0, start - pad), min(n_times, stop + pad)
            data = raw.get_data(picks=electrodes, start=lo, stop=hi)
            if pool is None:
                rows.append(process(data, start, stop, lo, threads))
                continue
            pending.append(pool.submit(process, data, start, stop, lo, threads))
            if len(pending) >= workers:
                rows.append(pending.popleft().result())
        rows.extend(f.result() for f in pending)
        rows = [r for r in rows if len(r)]
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    def _processor(self, bip, names, sfreq):
        """How the recording is read and each chunk processed (shared with the analysis engine's stream).

        Returns ``(chunk, pad, electrodes, process)``: chunks of ``chunk`` samples are read with ``pad``
        samples either side (``electrodes``, referential, volts) and ``process(data, start, stop, lo,
        threads)`` gives the candidates of samples ``[start, stop)`` from ``data`` read from sample ``lo``.
        """
        chunk = int(round(float(self.chunk_duration) * sfreq))
        pad = int(round(_PAD_S * sfreq))
        sos = butter_sos(4, _BAND, "bandpass", float(sfreq))
        neighbours = _neighbours(names)
        bip_pairs = [tuple(_electrode(p) for p in c.split("-")[:2]) for c in bip.ch_names] if bip is not None else []
        # The montages are linear: read and filter the electrodes once, then form the common average of
        # ``names`` (as dbrain.montages does) and the double-banana derivations from the filtered signals.
        electrodes = list(dict.fromkeys([*names, *(e for pair in bip_pairs for e in pair)]))
        row = {e: i for i, e in enumerate(electrodes)}
        avg_rows = np.array([row[e] for e in names])
        bip_a = np.array([row[a] for a, _ in bip_pairs], int)
        bip_b = np.array([row[b] for _, b in bip_pairs], int)

        def process(data, start, stop, lo, threads=None):
            ref = sosfiltfilt_rows(sos, data * 1e6, threads=threads)
            x = ref[avg_rows] - ref[avg_rows].mean(axis=0)
            xb = ref[bip_a] - ref[bip_b] if bip_pairs else None
            return self._chunk(x, xb, lo, start, stop, sfreq, neighbours, names, bip_pairs)

        return chunk, pad, electrodes, process

    def _chunk(self, x, xb, offset, own_start, own_stop, sfreq, neighbours, names, bip_pairs) -> pd.DataFrame:
        slope = np.diff(x, axis=-1) * sfreq / 1000.0  # µV/ms
        bip_sd = np.median(_block_rms(xb, sfreq), axis=-1) if xb is not None else None
        # Local background: RMS in 1 s blocks, median over the 5 s around, never below the chunk's median.
        local_sd = _local_sd(x, sfreq)
        local_slope_sd = _local_sd(slope, sfreq)
        sd_chunk = local_sd.min(axis=-1)  # the chunk floor: candidates are then checked against the local SD
        # Muscle: high-frequency (> 25 Hz) activity in the 1 s block, relative to the chunk's typical block.
        hf_sig = sosfiltfilt_rows(self._hf_sos(sfreq), x)
        hf = _block_rms(hf_sig, sfreq)
        hf_ratio = hf / (np.median(hf, axis=-1, keepdims=True) + 1e-9)
        s = lambda sec: int(round(sec * sfreq))  # noqa: E731
        samples, chans, proms = [], [], []
        for c in range(x.shape[0]):
            peaks, props = signal.find_peaks(
                -x[c],
                prominence=float(self.amplitude_ratio) * sd_chunk[c],
                width=(max(1, _HALF_WIDTH[0] * sfreq), _HALF_WIDTH[1] * sfreq),
                wlen=max(3, s(_PROM_WINDOW)) | 1,
                rel_height=0.5,
            )
            samples.append(peaks)
            chans.append(np.full(peaks.size, c))
            proms.append(props["prominences"])
        idx = np.concatenate(samples).astype(int)
        if not idx.size:
            return pd.DataFrame()
        ch = np.concatenate(chans).astype(int)
        prom = np.concatenate(proms)
        own = (idx + offset >= own_start) & (idx + offset < own_stop)
        margin = (idx >= s(0.3)) & (idx < x.shape[1] - s(0.45))
        keep = own & margin
        idx, ch, prom = idx[keep], ch[keep], prom[keep]
        if not idx.size:
            return pd.DataFrame()
        block = np.minimum(idx // int(sfreq), local_sd.shape[1] - 1)
        sd = local_sd[:, block]  # (n_ch, n_idx): background of every electrode at each candidate
        slope_bg = local_slope_sd[ch, np.minimum(block, local_slope_sd.shape[1] - 1)]
        amp_ratio = prom / sd[ch, np.arange(idx.size)]
        muscle = hf_ratio[ch, np.minimum(block, hf_ratio.shape[1] - 1)]
        w = s(_SLOPE_WINDOW)
        # slope[i] is x[i+1]-x[i]: descending flank before the peak is negative, ascending after positive.
        desc = -_window_values(slope, idx, -w, 0, ch).min(axis=-1)
        asc = _window_values(slope, idx, 0, w, ch).max(axis=-1)
        sharp = np.minimum(desc, asc) / slope_bg
        base_all = _window_values(x, idx, s(_BASELINE[0]), s(_BASELINE[1])).mean(axis=-1)  # (n_ch, n_idx)
        base = base_all[ch, np.arange(idx.size)]
        slow_v = _window_values(x, idx, s(_SLOW_WINDOW[0]), s(_SLOW_WINDOW[1]), ch).mean(axis=-1)
        slow = (base - slow_v) / sd[ch, np.arange(idx.size)]
        ok = (sharp >= float(self.sharpness_ratio)) & (amp_ratio >= float(self.amplitude_ratio))
        idx, ch, prom, sharp, slow, amp_ratio, muscle = (
            idx[ok],
            ch[ok],
            prom[ok],
            sharp[ok],
            slow[ok],
            amp_ratio[ok],
            muscle[ok],
        )
        base_all, sd = base_all[:, ok], sd[:, ok]
        if not idx.size:
            return pd.DataFrame()
        # Group candidates close in time (any electrode) into one discharge; keep the largest prominence.
        order = np.argsort(idx, kind="stable")
        idx, ch, prom, sharp, slow, amp_ratio, muscle = (
            idx[order],
            ch[order],
            prom[order],
            sharp[order],
            slow[order],
            amp_ratio[order],
            muscle[order],
        )
        base_all, sd = base_all[:, order], sd[:, order]
        group = np.concatenate([[0], np.cumsum(np.diff(idx) > s(_MERGE))])
        starts = np.flatnonzero(np.concatenate([[True], np.diff(group) != 0]))
        best_of = np.array([a + int(np.argmax(prom[a:b])) for a, b in zip(starts, [*starts[1:], idx.size], strict=True)])
        # The field and the bipolar deflection can only raise the first-stage confidence up to their caps:
        # a discharge below the second stage's floor even with both at best is dropped before measuring them.
        cols = {
            "amp_ratio": amp_ratio[best_of], "sharpness": sharp[best_of], "slow_wave": slow[best_of],
            "muscle": muscle[best_of], "field": np.ones(best_of.size), "bipolar": np.full(best_of.size, 8.0),
        }  # fmt: skip
        best_of = best_of[_confidence(cols, rhythm=False) >= STAGE2_FLOOR]
        if not best_of.size:
            return pd.DataFrame()
        near = max(1, s(0.015))
        n = best_of.size
        field, n_field, bip_z = np.zeros(n), np.zeros(n, np.int64), np.zeros(n)
        reversal, chain_end, field_chans = np.zeros(n, bool), np.zeros(n, bool), np.empty(n, object)
        for k, best in enumerate(best_of):
            i, c = int(idx[best]), int(ch[best])
            # Deflection of every electrode at the peak (most negative within ±15 ms), from its baseline.
            seg = x[:, max(0, i - near) : i + near + 1]
            defl = seg.min(axis=-1) - base_all[:, best]
            peak_defl = defl[c]
            nb = neighbours[c]
            in_field = nb[defl[nb] <= _FIELD_FRACTION * peak_defl] if peak_defl < 0 else nb[:0]
            field[k], n_field[k] = in_field.size / max(1, nb.size), in_field.size
            bip_z[k], reversal[k], chain_end[k] = (
                _bipolar(xb, bip_sd, bip_pairs, names[c], i, near, s) if xb is not None else (np.nan, False, False)
            )
            field_chans[k] = [names[j] for j in np.argsort(defl) if j != c and defl[j] <= _FIELD_FRACTION * peak_defl]
        cols = {
            "sample": idx[best_of].astype(np.int64) + offset, "channel": ch[best_of].astype(np.int64),
            "amplitude": prom[best_of].astype(float), "amp_ratio": amp_ratio[best_of].astype(float),
            "sharpness": sharp[best_of].astype(float), "slow_wave": slow[best_of].astype(float),
            "muscle": muscle[best_of].astype(float), "field": field, "n_field": n_field, "bipolar": bip_z,
            "phase_reversal": reversal, "chain_end": chain_end, "field_channels": field_chans,
        }  # fmt: skip
        # The rhythmic background can only lower the first-stage confidence: candidates below the second
        # stage's floor without it are never reported, so they are dropped before the costlier features.
        keep = _confidence(cols, rhythm=False) >= STAGE2_FLOOR
        if not keep.any():
            return pd.DataFrame()
        cols = {k: v[keep] for k, v in cols.items()}
        local_idx, chan = cols["sample"] - offset, cols["channel"]
        # Columns are gathered as arrays and made a table once (pandas' per-column bookkeeping was ~15 %
        # of the detector's time).
        cols["alpha_share"], cols["alpha_ratio"] = _rhythm(x, local_idx, chan, cols["amplitude"], sfreq)
        cols["rule_confidence"] = _confidence(cols)
        hf_usual = np.median(hf, axis=-1)
        cols.update(chunk_features(x, hf_sig, hf_usual, local_idx, chan, cols["amplitude"], sfreq, names, neighbours, local_sd))
        return pd.DataFrame(cols)


def _rhythm(x: np.ndarray, idx: np.ndarray, ch: np.ndarray, prom: np.ndarray, sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    """The rhythmic (alpha) background around each candidate on its own electrode.

    In the second either side of the peak, leaving out its own ±150 ms, the
    share of 8–13 Hz power in the 1–40 Hz power (``alpha_share``) and the
    candidate's prominence over the peak-to-peak amplitude of that rhythm
    (``2·√2·RMS`` of the 8–13 Hz signal; ``alpha_ratio``). A crest of an
    alpha train has a high share and a ratio near that of its neighbours; a
    spike stands out of it.
    """
    half, pad, excl = int(round(sfreq)), int(round(sfreq)), int(round(0.15 * sfreq))
    if not idx.size:
        return np.zeros(idx.size), np.full(idx.size, np.inf)
    seg = _window_values(x, idx, -half - pad, half + pad, ch)  # 2 s of filter padding either side
    sos = butter_sos(4, _ALPHA, "bandpass", float(sfreq))
    alpha = signal.sosfiltfilt(sos, seg, axis=-1)[:, pad:-pad]
    seg = seg[:, pad:-pad]
    keep = np.ones(seg.shape[1], bool)
    keep[half - excl : half + excl + 1] = False
    seg = seg[:, keep] - seg[:, keep].mean(axis=-1, keepdims=True)
    a2 = (alpha[:, keep] ** 2).mean(axis=-1)
    share = a2 / ((seg**2).mean(axis=-1) + 1e-12)
    return share, prom / (2.0 * np.sqrt(2.0 * a2) + 1e-9)


def _blocks(x: np.ndarray, sfreq: float) -> np.ndarray:
    n = int(sfreq)
    nb = max(1, x.shape[-1] // n)
    return x[:, : nb * n].reshape(x.shape[0], nb, n) if x.shape[-1] >= n else x[:, None, :]


def _block_rms(x: np.ndarray, sfreq: float) -> np.ndarray:
    """RMS (about the block mean) of each channel in consecutive 1 s blocks, shape (n_channels, n_blocks)."""
    b = _blocks(x, sfreq)
    return np.sqrt(np.maximum((b * b).mean(axis=-1) - b.mean(axis=-1) ** 2, 0.0)) + 1e-9


def _local_sd(x: np.ndarray, sfreq: float) -> np.ndarray:
    """Local background SD per channel and 1 s block: the median RMS of the 5 blocks around each.

    A transient raises the RMS of its own block only, so the median of five
    ignores it; the chunk's median block RMS is the floor, so a quiet stretch
    does not make small transients look large.
    """
    rms = _block_rms(x, sfreq)
    nb = rms.shape[1]
    sd = rms
    if nb >= 5:
        padded = np.pad(rms, ((0, 0), (2, 2)), mode="edge")
        sd = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5, axis=-1), axis=-1)
    return np.maximum(sd, np.median(rms, axis=-1, keepdims=True))


def _bipolar(xb, bip_sd, pairs, electrode, i, near, s):
    """Largest deflection (background SDs) of a double-banana derivation holding ``electrode``, and phase reversal."""
    rows = [k for k, (a, b) in enumerate(pairs) if electrode in (a, b)]
    if not rows:
        return np.nan, False, False
    seg = xb[rows, max(0, i - near) : i + near + 1]
    base = xb[rows, max(0, i + s(_BASELINE[0])) : max(1, i + s(_BASELINE[1]))].mean(axis=-1)
    sd = bip_sd[rows]
    # Deflection of the derivation: electrode as the active lead goes negative, as the reference positive.
    sign = np.array([1.0 if pairs[k][0] == electrode else -1.0 for k in rows])
    dev = seg - base[:, None]
    extreme = np.where(sign > 0, dev.min(axis=-1), dev.max(axis=-1))
    z = np.abs(extreme) / sd
    # Phase reversal: one derivation with the electrode as active lead and one as reference, both deflecting as expected.
    active = (sign > 0) & (extreme < 0) & (z >= 2)
    reference = (sign < 0) & (extreme > 0) & (z >= 2)
    # An electrode at the end of a chain (Fp1, Fp2, O1, O2 in double banana) cannot phase-reverse.
    chain_end = bool((sign > 0).all() or (sign < 0).all())
    return float(z.max()), bool(active.any() and reference.any()), chain_end


def _montages(raw):
    from ...errors import MontageError
    from ...montages import apply_montage

    try:
        avg, res = apply_montage(raw, "average")
    except MontageError as exc:
        raise RecordingError(f"spike detection needs scalp EEG electrodes: {exc}") from exc
    names = [_electrode(c) for c in avg.ch_names]
    if len(names) < 3:
        raise RecordingError(f"spike detection needs at least 3 scalp EEG electrodes, found {len(names)}")
    try:
        bip, _ = apply_montage(raw, "double-banana")
    except MontageError:
        bip = None
    return avg, bip, names


def _confidence(df: pd.DataFrame, *, rhythm: bool = True) -> np.ndarray:
    """Logistic confidence from capped evidence: amplitude, sharpness, slow wave, bipolar, field; muscle and rhythm against.

    Each term is 0 where a background transient typically is and about 1 for
    a typical spike: amplitude and sharpness in doublings above 4 and 3
    background SDs, the after-going slow wave in background SDs, the bipolar
    deflection in doublings above 4 SDs; more than 1.3 times the recording's
    usual high-frequency (> 25 Hz) activity in the same second is muscle; a
    crest of an ongoing alpha rhythm (alpha share above 0.55 around it, not
    standing out of the rhythm by 6 times) counts against. With
    ``rhythm=False`` the rhythm term is left out (it can only lower the
    confidence). Computed on NumPy arrays: it runs once per chunk.
    """
    col = lambda name: np.asarray(df[name], dtype=float)  # noqa: E731 (a table or a dict of arrays)
    amp = np.clip(np.log2(col("amp_ratio") / 4.0), -1.0, 2.0)
    sharp = np.clip(np.log2(col("sharpness") / 3.0), -1.0, 2.0)
    slow = np.clip(col("slow_wave"), -1.0, 2.0) / 2.0
    # An electrode outside the double banana (10-10 extras) cannot be confirmed in bipolar: counts as -1.
    bip = np.clip(np.nan_to_num(np.log2(np.maximum(col("bipolar"), 1e-3) / 4.0), nan=-1.0), -1.0, 1.0)
    field = col("field") - 0.5
    muscle = np.clip(col("muscle") - 1.3, 0.0, 2.0)
    score = amp + sharp + slow + 0.5 * bip + 0.5 * field - 2.0 * muscle - 0.8
    if rhythm:
        # A crest of an ongoing alpha rhythm: high alpha share around it, and not standing out of the rhythm.
        # (Share NaN = not measured: the candidate is below the threshold without this term anyway.)
        share = np.nan_to_num(col("alpha_share"), nan=0.0)
        ratio_term = np.log2(np.maximum(RHYTHM_RATIO / col("alpha_ratio"), 0.5))
        score = score - 1.5 * np.clip((share - RHYTHM_SHARE) / 0.1, 0.0, 1.0) * np.clip(ratio_term, 0.0, 1.0)
    return 1.0 / (1.0 + np.exp(-2.0 * score))


def _ecg_channels(raw) -> list[str]:
    return [c for c, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "ecg"]


def _r_peaks(raw, sfreq) -> np.ndarray:
    """R peaks of the recording's ECG channel (empty without one): the ECG rule's reference."""
    ecg = _ecg_channels(raw)
    if not ecg:
        return np.zeros(0, np.int64)
    from ...ecg._heart_rate import _stream_peaks

    return _stream_peaks(raw, ecg[0], sfreq)[0]


def _score(cands: pd.DataFrame, sfreq, raw, *, model=None, r_peaks=None, confidence: bool = True) -> pd.DataFrame:
    """The second stage on the candidates of ``SpikeDetector._candidates``: rules, then calibrated confidence.

    Adds ``benign`` (the rule that rejects a candidate, or ``""``) and, with ``confidence``, the calibrated
    ``confidence`` (0 where a rule rejects). The ECG rule uses ``r_peaks`` (samples) when given, else the
    R peaks of ``raw``'s ECG channel when ``raw`` is a recording (a streamed table without them: no ECG rule).
    """
    if not len(cands):
        cands = pd.DataFrame({"sample": pd.Series(dtype=int), "channel": pd.Series(dtype=int), "benign": []})
    else:
        cands = cands.copy()
        # Electrode pop: a single electrode without a field (a phase reversal alone is not enough; at the
        # end of a bipolar chain a 4 SD bipolar deflection will do), as in the first stage.
        plausible = (cands["n_field"] >= 1) | (cands["chain_end"] & (cands["bipolar"] >= 4.0))
        cands["benign"] = np.where(plausible, "", "no field (electrode pop)")
        if r_peaks is None:
            r_peaks = _r_peaks(raw, sfreq) if isinstance(raw, mne.io.BaseRaw) else np.zeros(0, np.int64)
        ecg = ecg_rule(cands, np.asarray(r_peaks, np.int64), sfreq)
        cands.loc[ecg & (cands["benign"] == ""), "benign"] = "R-peak locked (ECG)"
        # Without an ECG channel (or where it missed them): focal trains at a regular heart period.
        pulse = pulse_rule(cands, sfreq)
        cands.loc[pulse & (cands["benign"] == ""), "benign"] = "heart-rate train (pulse/ECG)"
    if confidence:
        cands["confidence"] = stage2_confidence(cands, model)
    return cands


def _to_table(cands: pd.DataFrame, names, sfreq, raw, threshold, *, model=None, r_peaks=None) -> pd.DataFrame:
    """The spike table: candidates scored by the second stage (here, unless already) at or above ``threshold``.

    ``raw`` is the recording (or anything with ``info["meas_date"]`` and ``n_times``: a stream's table then
    has no ECG rule unless ``r_peaks`` is given). The table's ``attrs`` hold ``cutoff`` and
    ``n_below_cutoff`` (scored candidates below it, rule-rejected ones included): the report and the viewer
    state both beside the list.
    """
    if "confidence" not in cands.columns:
        cands = _score(cands, sfreq, raw, model=model, r_peaks=r_peaks)
    keep = cands["confidence"].to_numpy() >= threshold if len(cands) else np.zeros(0, bool)
    table = _table(cands[keep].reset_index(drop=True), names, sfreq, raw)
    table.attrs.update(cutoff=float(threshold), n_below_cutoff=int((~keep).sum()))
    return table


def _table(cands: pd.DataFrame, names, sfreq, raw) -> pd.DataFrame:
    if not len(cands):
        return _empty()
    conf = cands["confidence"].to_numpy()
    peak = cands["sample"].to_numpy() / sfreq
    peak_ch = [names[c] for c in cands["channel"]]
    events = make_events(
        np.maximum(peak - _EVENT_DURATION / 2, 0.0),
        _EVENT_DURATION,
        "spike",
        confidence=np.round(conf, 4),
        channels=[[p, *f[:5]] for p, f in zip(peak_ch, cands["field_channels"], strict=True)],
        meas_date=raw.info["meas_date"],
        recording_duration=raw.n_times / sfreq,
    )
    # make_events sorts by onset; peaks are sorted already (chunks in order, groups in order).
    events["peak_time"] = peak
    events["peak_channel"] = peak_ch
    for col in ("amplitude", "sharpness", "slow_wave", "field", "bipolar", "phase_reversal"):
        events[col] = cands[col].to_numpy()
    events["region"] = [SPIKE_REGIONS.get(c, "other") for c in peak_ch]
    return events[SPIKE_COLUMNS]


def _empty() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype=object) for c in SPIKE_COLUMNS})
    for c in ("onset", "duration", "confidence", "recordingDuration", "peak_time", "amplitude", "sharpness", "slow_wave",
              "field", "bipolar"):  # fmt: skip
        df[c] = df[c].astype(float)
    df["phase_reversal"] = df["phase_reversal"].astype(bool)
    return df


@verbose
def detect_spikes(raw, *, sensitivity: str = "medium", verbose=None, **kwargs) -> pd.DataFrame:
    """Detect interictal spikes and sharp waves (builds and runs a :class:`SpikeDetector`).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (normalised 10-20 names; lazy is fine).
    sensitivity : {"low", "medium", "high"}
        Sensitivity preset.
    **kwargs
        Other :class:`SpikeDetector` parameters (``amplitude_ratio``,
        ``sharpness_ratio``, ``chunk_duration``).
    verbose : bool | str | int | None
        Log level for this call (MNE-style); None keeps the current one.

    Returns
    -------
    spikes : pandas.DataFrame
        See :meth:`SpikeDetector.detect`.
    """
    return SpikeDetector(sensitivity, **kwargs).fit().detect(raw)


def spike_rates(spikes: pd.DataFrame, duration: float) -> pd.DataFrame:
    """Spike rate per hour by region and by peak electrode.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Output of :meth:`SpikeDetector.detect`.
    duration : float
        Duration of the analysed recording in seconds.

    Returns
    -------
    rates : pandas.DataFrame
        Columns ``level`` (``"region"``, ``"channel"`` or ``"total"``),
        ``name``, ``count`` and ``per_hour``, sorted by count within level.
    """
    _validate_type(duration, (int, float, np.integer, np.floating), "duration", "number")
    if not duration > 0:
        raise ParameterError(f"duration must be positive, got {duration!r}")
    hours = float(duration) / 3600.0
    parts = [pd.DataFrame({"level": ["total"], "name": ["all"], "count": [len(spikes)]})]
    for level, col in (("region", "region"), ("channel", "peak_channel")):
        counts = spikes[col].value_counts() if len(spikes) else pd.Series(dtype=int)
        parts.append(pd.DataFrame({"level": level, "name": counts.index.astype(str), "count": counts.to_numpy()}))
    out = pd.concat(parts, ignore_index=True)
    out["count"] = out["count"].astype(int)
    out["per_hour"] = out["count"] / hours
    return out
