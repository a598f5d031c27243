"""Second stage of the spike detector: a learned spike / not-spike decision on each candidate.

The first stage (``_detector.py``) finds sharp surface-negative transients and measures the evidence of
a discharge. Every candidate whose first-stage confidence reaches ``STAGE2_FLOOR`` then gets the
features below (morphology and context, all relative to the recording's own background so that
recordings of unknown units compare) and a LightGBM model, trained on real normal EEG (every detection
false) and on simulated and real discharges, gives its probability of being a spike; an isotonic map
fitted on persons the model never saw turns that into the reported, calibrated confidence. Two benign
patterns are rejected by stated rules instead (:func:`benign_rule`): a single electrode without field
(electrode pop; the first stage's field gate) and a transient time-locked to the ECG's R peak.

Which benign variant each feature is aimed at (docs/spikes.md, "Second stage"):

* alpha / mu crests, wicket: ``alpha_share``, ``alpha_ratio``, ``context_ratio`` (a crest of a train does
  not stand out of its own train);
* POSTS, blinks seen through the average reference: ``opposite_ratio`` (a larger positive deflection
  elsewhere: the transient is positive somewhere else), ``eye_ratio``;
* lateral eye movements: ``lateral_eye`` (F7 and F8 deflect in opposite directions);
* vertex waves: ``midline`` and ``lr_balance`` (midline maximum, symmetric field), ``slow_share`` (state);
* small sharp spikes: ``width_ms``, ``slow_wave``, ``log_amp``;
* EMG: ``muscle`` (first stage) and ``hf_local`` (> 25 Hz power in ±100 ms against the channel's usual);
* electrode pops: ``nb_ratio`` (peak over the largest neighbour) besides the field rule;
* a discharge's own morphology seen over its whole field (``field_slow``, ``field_after``, ``field_corr``):
  the waveform averaged over the electrodes that deflect with the peak, each weighted by its share of the
  peak, is less noisy than the peak electrode alone for a small discharge, and a brain discharge has the
  same waveform over its field where independent background waves do not.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ParameterError

#: First-stage confidence from which a candidate is passed to the second stage.
STAGE2_FLOOR = 0.15

#: Share of the peak's deflection from which an electrode counts as in the discharge's field (as in the rule stage).
FIELD_SHARE = 0.10

#: Model features, in the model's order.
STAGE2_FEATURES = [
    "log_amp", "log_sharp", "slow_wave", "muscle", "field", "n_field", "log_bipolar", "phase_reversal",
    "alpha_share", "log_alpha_ratio", "rule_confidence", "width_ms", "asymmetry", "context_ratio",
    "spread50", "opposite_ratio", "nb_ratio", "eye_ratio", "lateral_eye", "midline", "lr_balance",
    "bg_rel", "slow_share", "hf_local", "field_slow", "field_after", "field_corr",
    *(f"wave_{ms:+d}" for ms in (-150, -100, -50, -25, 25, 50, 75, 100, 150, 200, 250, 300)),
]  # fmt: skip
_WAVE_MS = (-150, -100, -50, -25, 25, 50, 75, 100, 150, 200, 250, 300)

_EYE = ("Fp1", "Fp2", "Fpz", "AF3", "AF4", "AF7", "AF8")
_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "spikes"

#: ECG rule: a candidate within this many seconds of an R peak ...
ECG_LOCK = 0.040
#: ... on a channel where at least this share of its (at least ``ECG_MIN``) candidates is R-locked.
ECG_SHARE = 0.4
ECG_MIN = 5

#: Pulse rule (no ECG channel needed): heart periods from 40 to 150 beats per minute (s) ...
PULSE_PERIOD = (0.4, 1.5)
#: ... a run of same-electrode candidates whose successive intervals are one, two or three periods within
#: this share of the period (a missed beat is no candidate), with at least ``PULSE_MIN_BEATS`` one-period
#: intervals whose beat-to-beat variability is at most ``PULSE_CV`` (a resting heart's is a few per cent).
#: The period is the median of the last ``_PULSE_LOCAL`` one-period intervals (heart rate drifts) ...
PULSE_TOL = 0.12
PULSE_MIN_BEATS = 6
PULSE_CV = 0.10
_PULSE_LOCAL = 8
#: ... focal (median share of the other electrodes at >= 50 % of the peak below this: at most one of 14-19;
#: periodic discharges — LPDs, GPDs — have a regional or wider field) ...
PULSE_SPREAD = 0.10
#: ... and of one waveform (median correlation of the members' waveform lags with the run's median).
PULSE_WAVE_CORR = 0.3


def _win(x, idx, lo, hi, rows=None):
    offs = np.arange(lo, hi)
    cols = np.clip(idx[:, None] + offs[None, :], 0, x.shape[-1] - 1)
    return x[rows[:, None], cols] if rows is not None else x[..., cols]


def chunk_features(x, hf, hf_usual, idx, ch, prom, sfreq, names, neighbours, local_sd) -> dict[str, np.ndarray]:
    """Context and morphology features of candidates in one chunk (the model's inputs not in stage 1).

    Parameters
    ----------
    x : array, shape (n_channels, n_times)
        The chunk, common average, 1–40 Hz, µV.
    hf : array, shape (n_channels, n_times)
        The chunk above 25 Hz.
    hf_usual : array, shape (n_channels,)
        Each electrode's usual > 25 Hz level: the median of its 1 s block RMS in the chunk.
    idx, ch : arrays of int
        Peak sample (chunk-relative) and electrode of each candidate.
    prom : array
        Prominence of each candidate on its electrode.
    sfreq : float
        Sampling rate.
    names : list of str
        Electrode names of ``x``'s rows.
    neighbours : list of arrays
        Nearest neighbours of each electrode.
    local_sd : array, shape (n_channels, n_blocks)
        Local background SD per 1 s block.

    Returns
    -------
    features : dict of arrays
        One value per candidate for every feature of :data:`STAGE2_FEATURES` computed here.
    """
    s = lambda sec: int(round(sec * sfreq))  # noqa: E731
    m, n_ch = idx.size, x.shape[0]
    ar = np.arange(m)
    near = max(1, s(0.015))
    base = _win(x, idx, s(-0.2), s(-0.08)).mean(-1)  # (n_ch, m)
    seg = _win(x, idx, -near, near + 1)
    dmin, dmax = seg.min(-1) - base, seg.max(-1) - base
    peak = np.minimum(dmin[ch, ar], -1e-6)
    amp = -peak
    spread50 = ((dmin <= 0.5 * peak).sum(0) - 1) / max(1, n_ch - 1)
    opposite = dmax.max(0) / amp
    nb_max = np.array([max(1e-6, float(-dmin[neighbours[c], i].min())) if len(neighbours[c]) else 1e-6
                       for i, c in enumerate(ch)])  # fmt: skip
    nb_ratio = np.log2(np.clip(amp / nb_max, 0.25, 64.0))
    # Width at half the deflection on the peak electrode.
    c0 = s(0.1)
    w = _win(x, idx, -c0, c0 + 1, ch) - base[ch, ar][:, None]
    below = w <= (peak / 2)[:, None]
    lb, rb = ~below[:, c0::-1], ~below[:, c0:]
    left = np.where(lb.any(1), lb.argmax(1), lb.shape[1])
    right = np.where(rb.any(1), rb.argmax(1), rb.shape[1])
    width = (left + right - 1) / sfreq * 1000.0
    # Slope asymmetry: descending over ascending flank.
    sw = s(0.07)
    d = np.diff(_win(x, idx, -sw, sw + 1, ch), axis=-1)
    asym = np.log2(np.clip(-d[:, :sw].min(-1), 1e-6, None) / np.clip(d[:, sw:].max(-1), 1e-6, None))
    asym = np.clip(asym, -4, 4)
    # Context: peak-to-peak of the same electrode in the second around, without the candidate and its slow wave.
    ctx = np.concatenate([_win(x, idx, -s(1.0), -s(0.15), ch), _win(x, idx, s(0.35), s(1.0), ch)], axis=-1)
    context_ratio = np.log2(np.clip(amp / (np.ptp(ctx, axis=-1) + 1e-6), 1 / 16, 16))
    # Eyes: frontopolar deviation around the candidate; F7/F8 deflecting in opposite directions.
    lower = [n.lower() for n in names]
    eye_rows = np.array([lower.index(e.lower()) for e in _EYE if e.lower() in lower], int)
    if eye_rows.size:
        ew = _win(x, idx, -s(0.3), s(0.3) + 1)[eye_rows] - base[eye_rows][..., None]
        eye_ratio = np.abs(ew).max(axis=(0, 2)) / amp
    else:
        eye_ratio = np.zeros(m)
    lateral = np.zeros(m)
    if "f7" in lower and "f8" in lower:
        mid = _win(x, idx, -s(0.1), s(0.1) + 1)
        f7 = mid[lower.index("f7")].mean(-1) - base[lower.index("f7")]
        f8 = mid[lower.index("f8")].mean(-1) - base[lower.index("f8")]
        lateral = np.clip(-(f7 * f8) / amp**2, 0.0, 4.0)
    # Symmetry of the field: left (odd) against right (even) electrodes.
    side = np.array([_side(n) for n in names])
    neg = np.clip(-dmin, 0, None)
    left_s, right_s = neg[side == 1].sum(0), neg[side == 2].sum(0)
    lr_balance = np.abs(left_s - right_s) / (left_s + right_s + 1e-6)
    midline = np.array([names[c].lower().endswith("z") for c in ch], float)
    # Background and state: the electrode's local SD against the other electrodes'; slow share around.
    block = np.minimum(idx // int(sfreq), local_sd.shape[1] - 1)
    bg = local_sd[:, block]
    bg_rel = np.log2(bg[ch, ar] / (np.median(bg, axis=0) + 1e-9))
    half = s(1.0)
    around = _win(x, idx, -half, half, ch)
    around = around - around.mean(-1, keepdims=True)
    spec = np.abs(np.fft.rfft(around * np.hanning(around.shape[1]), axis=-1)) ** 2
    f = np.fft.rfftfreq(around.shape[1], 1 / sfreq)
    slow_share = spec[:, (f >= 1) & (f < 7)].sum(-1) / (spec[:, (f >= 1) & (f <= 40)].sum(-1) + 1e-12)
    hw = _win(hf, idx, -s(0.1), s(0.1) + 1, ch)
    # Against the electrode's median block RMS (the muscle measure's reference; a median of the samples
    # themselves cost ~15 % of the detector's time).
    hf_local = np.log2(np.sqrt((hw**2).mean(-1)) / (hf_usual[ch] + 1e-9) + 1e-3)
    # The waveform of the peak electrode at fixed lags, in units of the deflection (baseline 0, peak -1).
    lags = np.array([s(ms / 1000.0) for ms in _WAVE_MS])
    wave = (x[ch[:, None], np.clip(idx[:, None] + lags[None, :], 0, x.shape[1] - 1)] - base[ch, ar][:, None]) / amp[:, None]
    waves = {f"wave_{ms:+d}": np.clip(wave[:, k], -3, 3) for k, ms in enumerate(_WAVE_MS)}
    return {
        **waves,
        **_field_morphology(x, idx, ch, dmin, peak, base, sfreq),
        "width_ms": width,
        "asymmetry": asym,
        "context_ratio": context_ratio,
        "spread50": spread50,
        "opposite_ratio": np.clip(opposite, 0, 10),
        "nb_ratio": nb_ratio,
        "eye_ratio": np.clip(eye_ratio, 0, 20),
        "lateral_eye": lateral,
        "midline": midline,
        "lr_balance": lr_balance,
        "bg_rel": bg_rel,
        "slow_share": slow_share,
        "hf_local": hf_local,
    }


def _field_morphology(x, idx, ch, dmin, peak, base, sfreq) -> dict[str, np.ndarray]:
    """The discharge's waveform over its field: after-going slow wave, early return and waveform agreement.

    Each electrode is weighted by its deflection at the peak as a share of the peak's (at most 1; 0 below
    :data:`FIELD_SHARE` or of the opposite sign): the weighted average of the electrodes' waveforms
    (baseline 0, peak -1) is a spatial filter towards the discharge. ``field_slow`` is its mean 100–300 ms
    after the peak (negative: an after-going slow wave), ``field_after`` its value 50 ms after;
    ``field_corr`` is the mean correlation of the other weighted electrodes' waveforms (-100 to +300 ms)
    with the peak electrode's (0 without any).
    """
    s = lambda sec: int(round(sec * sfreq))  # noqa: E731
    m = idx.size
    ar = np.arange(m)
    wgt = np.clip(dmin / peak[None, :], 0.0, 1.0)  # (n_ch, m)
    wgt[wgt < FIELD_SHARE] = 0.0  # the rule stage's field: a deflection of at least 10 % of the peak
    wgt[ch, ar] = 1.0
    seg = _win(x, idx, -s(0.1), s(0.3) + 1) - base[..., None]  # (n_ch, m, n)
    avg = np.einsum("cm,cmn->mn", wgt, seg) / np.einsum("cm,cm->m", wgt, -np.minimum(dmin, -1e-6))[:, None]
    t0 = s(0.1)
    field_slow = avg[:, t0 + s(0.1) : t0 + s(0.3) + 1].mean(-1)
    field_after = avg[:, t0 + s(0.05)]
    own = seg[ch, ar]  # (m, n)
    own = own - own.mean(-1, keepdims=True)
    z = seg - seg.mean(-1, keepdims=True)
    corr = np.einsum("cmn,mn->cm", z, own) / (np.sqrt((z**2).sum(-1) * (own**2).sum(-1)[None, :]) + 1e-12)
    others = wgt.copy()
    others[ch, ar] = 0.0
    field_corr = np.einsum("cm,cm->m", others, corr) / np.maximum(others.sum(0), 1e-9)
    return {
        "field_slow": np.clip(field_slow, -3, 3),
        "field_after": np.clip(field_after, -3, 3),
        "field_corr": np.where(others.sum(0) > 0, field_corr, 0.0),
    }


def _side(name: str) -> int:
    """1 for a left electrode (odd number), 2 for right (even), 0 for midline or unknown."""
    digits = "".join(ch for ch in name if ch.isdigit())
    return 0 if not digits else (1 if int(digits) % 2 else 2)


def feature_matrix(cands: pd.DataFrame) -> np.ndarray:
    """The model's input matrix from a candidate table (first-stage evidence + :func:`chunk_features`).

    Parameters
    ----------
    cands : pandas.DataFrame
        Candidates with the first-stage columns and the second-stage features.

    Returns
    -------
    X : numpy.ndarray, shape (n_candidates, len(STAGE2_FEATURES))
    """
    col = lambda n: cands[n].to_numpy(dtype=float)  # noqa: E731
    derived = {
        "log_amp": np.log2(np.maximum(col("amp_ratio"), 1e-3)),
        "log_sharp": np.log2(np.maximum(col("sharpness"), 1e-3)),
        "log_bipolar": np.log2(np.maximum(np.nan_to_num(col("bipolar"), nan=0.25), 0.25)),
        "phase_reversal": col("phase_reversal"),
        "log_alpha_ratio": np.log2(np.clip(col("alpha_ratio"), 1 / 16, 64)),
    }
    return np.column_stack([derived[n] if n in derived else col(n) for n in STAGE2_FEATURES])


def shipped_presets() -> dict[str, float]:
    """The shipped model's preset cut-offs (its ``model.json``; read without loading the model)."""
    return {k: float(v) for k, v in json.loads((_MODEL_DIR / "model.json").read_text())["presets"].items()}


@functools.lru_cache(maxsize=4)
def load_spike_model(path: str | None = None):
    """The second-stage model: a LightGBM booster and its metadata (calibration map, cut-offs).

    Parameters
    ----------
    path : str | None
        A model folder written by :func:`dbrain.detect.spikes.train_spike_model` (``model.txt`` +
        ``model.json``); None for the shipped model.

    Returns
    -------
    booster : lightgbm.Booster
    meta : dict
    """
    import lightgbm as lgb

    folder = Path(path) if path is not None else _MODEL_DIR
    text, meta_path = folder / "model.txt", folder / "model.json"
    if not (text.is_file() and meta_path.is_file()):
        raise ParameterError(f"'{folder}' is not a spike model folder (it needs model.txt and model.json).")
    meta = json.loads(meta_path.read_text())
    if meta.get("features") != STAGE2_FEATURES:
        raise ParameterError(f"spike model in '{folder}' was made for other features; retrain it with 'dbrain train spikes'.")
    return lgb.Booster(model_file=str(text)), meta


def calibrate(p: np.ndarray, meta: dict) -> np.ndarray:
    """Calibrated confidence from the model's raw probability (isotonic map stored in ``meta``)."""
    xs, ys = meta["calibration"]["x"], meta["calibration"]["y"]
    return np.interp(p, xs, ys)


def stage2_confidence(cands: pd.DataFrame, model: str | None = None) -> np.ndarray:
    """Calibrated second-stage confidence of each candidate (0 where a benign rule rejects it).

    Parameters
    ----------
    cands : pandas.DataFrame
        Candidates with the first-stage columns and the second-stage features (and ``benign``).
    model : str | None
        Model folder; None for the shipped model.

    Returns
    -------
    confidence : numpy.ndarray
    """
    if not len(cands):
        return np.zeros(0)
    booster, meta = load_spike_model(model)
    conf = calibrate(booster.predict(feature_matrix(cands)), meta)
    if "benign" in cands:
        conf = np.where(cands["benign"].to_numpy() == "", conf, 0.0)
    return conf


def ecg_rule(cands: pd.DataFrame, r_peaks: np.ndarray, sfreq: float) -> np.ndarray:
    """Which candidates are ECG artifact: R-locked on a channel whose candidates are mostly R-locked.

    A candidate is R-locked when its peak lies within :data:`ECG_LOCK` s of an R peak. By chance about
    ``2·ECG_LOCK·heart rate`` (8 % at 60/min) of a channel's transients are R-locked; on a channel where
    at least :data:`ECG_SHARE` of at least :data:`ECG_MIN` candidates are, the R-locked ones are the
    ECG seen in the EEG and are rejected.

    Parameters
    ----------
    cands : pandas.DataFrame
        Candidates with ``sample`` and ``channel``.
    r_peaks : array of int
        R-peak samples (sorted).
    sfreq : float
        Sampling rate.

    Returns
    -------
    reject : numpy.ndarray of bool
    """
    if not len(cands) or r_peaks.size == 0:
        return np.zeros(len(cands), bool)
    t = cands["sample"].to_numpy()
    j = np.clip(np.searchsorted(r_peaks, t), 1, r_peaks.size - 1) if r_peaks.size > 1 else np.zeros(t.size, int)
    dist = np.minimum(np.abs(t - r_peaks[j]), np.abs(t - r_peaks[np.maximum(j - 1, 0)])) / sfreq
    locked = dist <= ECG_LOCK
    chan = cands["channel"].to_numpy()
    reject = np.zeros(t.size, bool)
    for c in np.unique(chan):
        on = chan == c
        if on.sum() >= ECG_MIN and locked[on].mean() >= ECG_SHARE:
            reject |= on & locked
    return reject


def pulse_rule(cands: pd.DataFrame, sfreq: float) -> np.ndarray:
    """Which candidates are pulse (or ECG) artifact seen without an ECG channel: focal heart-rate trains.

    An electrode over a scalp artery (or picking up the ECG) shows one transient per heart beat: on that
    electrode the candidates follow each other at one heart period, 0.4–1.5 s (:data:`PULSE_PERIOD`, 40–150
    beats per minute), or a multiple of it when a beat gave no candidate, and the beat-to-beat intervals
    vary by a few per cent only. On every electrode, runs are built from successive intervals within
    :data:`PULSE_TOL` of one, two or three periods (the period is the median of the last few one-period
    intervals); a run with at least :data:`PULSE_MIN_BEATS` one-period intervals whose beat-to-beat
    variability (:func:`_heart_runs`) is at most :data:`PULSE_CV` is a heart-rate train. Its members are
    rejected when the run is also focal (median ``spread50`` below :data:`PULSE_SPREAD`: periodic
    discharges such as LPDs recur at similar intervals but have a regional field) and of one waveform
    (median correlation of the members' waveform lags with the run's median waveform at least
    :data:`PULSE_WAVE_CORR`). Random discharges
    almost never form such a run: seven or more candidates on one electrode at one interval, each within a
    few per cent of the last.

    Parameters
    ----------
    cands : pandas.DataFrame
        Candidates with ``sample``, ``channel``, ``spread50`` and the ``wave_*`` lags (every second-stage
        candidate, rule-rejected ones included: they are beats too).
    sfreq : float
        Sampling rate.

    Returns
    -------
    reject : numpy.ndarray of bool
    """
    reject = np.zeros(len(cands), bool)
    if len(cands) < PULSE_MIN_BEATS + 1:
        return reject
    t = cands["sample"].to_numpy() / float(sfreq)
    chan = cands["channel"].to_numpy()
    spread = cands["spread50"].to_numpy(float)
    waves = cands[[f"wave_{ms:+d}" for ms in _WAVE_MS]].to_numpy(float)
    for c in np.unique(chan):
        rows = np.flatnonzero(chan == c)
        if rows.size < PULSE_MIN_BEATS + 1:
            continue
        rows = rows[np.argsort(t[rows], kind="stable")]
        for members, jitter, n_beats in _heart_runs(t[rows]):
            if n_beats < PULSE_MIN_BEATS or jitter > PULSE_CV:
                continue
            run = rows[members]
            if np.median(spread[run]) >= PULSE_SPREAD:
                continue
            w = waves[run] - waves[run].mean(1, keepdims=True)
            ref = np.median(waves[run], 0)
            ref = ref - ref.mean()
            corr = (w @ ref) / (np.sqrt((w**2).sum(1) * (ref**2).sum()) + 1e-12)
            if np.median(corr) >= PULSE_WAVE_CORR:
                reject[run] = True
    return reject


def _heart_runs(t: np.ndarray) -> list[tuple[np.ndarray, float, int]]:
    """Runs of heart-period intervals in sorted times ``t``: (member positions, beat-to-beat variability, beats).

    The period is the median of the last :data:`_PULSE_LOCAL` one-period intervals (a heart rate drifts over
    minutes and hours), and the variability is that of successive one-period intervals,
    ``sqrt(mean(diff(d)**2) / 2) / mean(d)`` (the coefficient of variation for independent beat-to-beat
    jitter, unmoved by a slow drift), so long runs cost linear time and are judged on beat-to-beat
    regularity.
    """
    lo, hi = PULSE_PERIOD
    d = np.diff(t)
    out, j = [], 0
    while j < d.size:
        if not lo <= d[j] <= hi:
            j += 1
            continue
        beats, period, k = [d[j]], d[j], j + 1
        while k < d.size:
            m = round(d[k] / period)
            if not (1 <= m <= 3 and abs(d[k] - m * period) <= PULSE_TOL * period):
                break
            if m == 1:
                beats.append(d[k])
                period = float(np.median(beats[-_PULSE_LOCAL:]))
            k += 1
        b = np.asarray(beats)
        jitter = float(np.sqrt(np.mean(np.diff(b) ** 2) / 2) / b.mean()) if b.size > 1 else np.inf
        out.append((np.arange(j, k + 1), jitter, len(beats)))
        j = k
    return out
