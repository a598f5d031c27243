"""Training the spike detector's second stage (``dbrain train spikes``).

Training rows are the detector's own second-stage candidates (:meth:`SpikeDetector._scored`), so the
model learns exactly what it will see: label 1 when a candidate's peak lies within 50 ms of a marked
(or simulated) spike, 0 otherwise — on recordings without discharges every candidate is 0. Persons are
never split: the model is cross-validated by person (grouped folds), the isotonic calibration is fitted
on the out-of-fold predictions (each row predicted by a model that never saw its person), and the
presets are the lowest cut-offs whose out-of-fold false detections per minute on the normal recordings
stay within targets. The final model is trained on every row and ships with that calibration.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ParameterError
from ...utils import _check_range, _validate_type, logger
from ._stage2 import STAGE2_FEATURES, feature_matrix

#: Peak tolerance when labelling candidates against marked spikes (s).
TOLERANCE = 0.050
#: Out-of-fold false detections per minute on normal recordings each preset may reach (per dataset).
FP_TARGETS = {"low": 0.05, "medium": 0.15, "high": 0.5}
#: Normal datasets shorter than this (minutes) are reported but do not set the presets.
MIN_MINUTES = 30.0
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
}
#: Features that may only lower the spike probability as they rise (LightGBM monotone constraints).
#: High-frequency (> 25 Hz) power is evidence of muscle, never of a spike; but the simulated spikes'
#: pointed apex carries > 25 Hz power of its own, so an unconstrained model learnt "more > 25 Hz, more
#: spike" from the simulations (issue 18: on simulated recordings the session-6 model lost 2.4 points of
#: sensitivity when both were set to the real negatives' median; the constrained model loses none).
MONOTONE = {"muscle": -1, "hf_local": -1}


def candidate_rows(raw, *, peaks=None, person: str, dataset: str) -> tuple[pd.DataFrame, float]:
    """Second-stage candidates of one recording as training rows, and its length in minutes.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording.
    peaks : array of float | None
        Times (s) of the true spike peaks; None or empty for a recording without discharges.
    person : str
        Person id (the unit of every split).
    dataset : str
        Dataset name (weights and per-dataset figures).

    Returns
    -------
    rows : pandas.DataFrame
        :data:`STAGE2_FEATURES`, ``label``, ``benign``, ``rule_confidence``, ``peak_time``, ``person``,
        ``dataset``.
    minutes : float
    """
    from ._detector import SpikeDetector

    cands, _, sfreq, raw = SpikeDetector()._scored(raw, score=False)
    minutes = raw.n_times / sfreq / 60.0
    if not len(cands):
        return pd.DataFrame(columns=[*STAGE2_FEATURES, "label", "benign", "peak_time", "person", "dataset"]), minutes
    t = cands["sample"].to_numpy() / sfreq
    label = np.zeros(t.size, int)
    if peaks is not None and len(peaks):
        # One-to-one: each true spike labels the nearest candidate within the tolerance.
        for p in np.asarray(peaks, float):
            d = np.abs(t - p)
            d[label == 1] = np.inf
            j = int(np.argmin(d))
            if d[j] <= TOLERANCE:
                label[j] = 1
    rows = pd.DataFrame(feature_matrix(cands), columns=STAGE2_FEATURES)
    rows["label"], rows["benign"], rows["peak_time"] = label, cands["benign"].to_numpy(), t
    rows["peak_channel"] = cands["channel"].to_numpy()
    rows["person"], rows["dataset"] = person, dataset
    return rows, minutes


#: Share of the positives' total weight per source (the rest is split equally among other sources).
POSITIVE_SHARES = {"injected": 0.3, "simulated": 0.6}


def _weights(rows: pd.DataFrame) -> np.ndarray:
    """Each dataset's negatives the same total weight; positives as much in all as negatives in all.

    Positives are shared among their sources by :data:`POSITIVE_SHARES` (discharges added to real normal
    EEG most, simulated recordings next, the few real discharges the rest).
    """
    w = np.zeros(len(rows))
    label, dataset = rows["label"].to_numpy(), rows["dataset"].to_numpy()
    neg = label == 0
    sets = np.unique(dataset[neg])
    for d in sets:
        m = neg & (dataset == d)
        w[m] = 1.0 / m.sum()
    pos_sets = list(np.unique(dataset[~neg]))
    named = [d for d in pos_sets if d in POSITIVE_SHARES]
    others = [d for d in pos_sets if d not in POSITIVE_SHARES]
    shares = {d: POSITIVE_SHARES[d] for d in named}
    rest = max(0.0, 1.0 - sum(shares.values())) if others else 0.0
    shares.update({d: rest / len(others) for d in others})
    total = sum(shares.values()) or 1.0
    for d in pos_sets:
        m = ~neg & (dataset == d)
        w[m] = len(sets) * shares[d] / total / m.sum()
    return w * len(rows) / w.sum()


def _fit(rows, rounds, seed):
    import lightgbm as lgb

    data = lgb.Dataset(rows[STAGE2_FEATURES].to_numpy(float), rows["label"].to_numpy(), weight=_weights(rows))
    monotone = [MONOTONE.get(f, 0) for f in STAGE2_FEATURES]
    return lgb.train({**PARAMS, "monotone_constraints": monotone, "seed": seed}, data, num_boost_round=rounds)


def _isotonic(p, y, w) -> dict:
    """A monotone calibration map: isotonic regression, then linear between the centres of its steps.

    Isotonic regression alone is a staircase: every raw score on one step gets the same confidence, so a
    preset's cut-off could only be one of its few step values (issue 18: the medium cut-off jumped
    between 0.84 and 0.91 and lost sensitivity in between). Joining the step centres keeps the fitted
    calibration and makes the map strictly increasing where the staircase rises.
    """
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y, sample_weight=w)
    xs = np.asarray(iso.X_thresholds_, float)
    ys = np.asarray(iso.y_thresholds_, float)
    levels, first = np.unique(ys, return_index=True)
    last = np.array([np.flatnonzero(ys == v).max() for v in levels])
    centres = (xs[first] + xs[last]) / 2
    order = np.argsort(centres)
    cx = np.concatenate([[xs.min()], centres[order], [xs.max()]])
    cy = np.concatenate([[levels[order][0]], levels[order], [levels[order][-1]]])
    keep = np.concatenate([[True], np.diff(cx) > 0])
    return {"x": [round(float(v), 6) for v in cx[keep]], "y": [round(float(v), 6) for v in cy[keep]]}


def fp_per_minute(rows: pd.DataFrame, conf: np.ndarray, cutoff: float, minutes: dict) -> dict[str, float]:
    """False detections per minute at ``cutoff`` per dataset of recordings without discharges."""
    out = {}
    for d, mins in minutes.items():
        m = (rows["dataset"].to_numpy() == d) & (rows["label"].to_numpy() == 0)
        out[d] = float(((conf >= cutoff) & m).sum() / mins) if mins > 0 else float("nan")
    return out


def fit_spike_model(rows: pd.DataFrame, normal_minutes: dict, *, folds=5, rounds=200, seed=0, targets=None):
    """Cross-validate by person, calibrate out of fold, choose the presets, fit the final model.

    Parameters
    ----------
    rows : pandas.DataFrame
        Training rows of :func:`candidate_rows` (all recordings).
    normal_minutes : dict
        Minutes of recordings without discharges per dataset (the presets keep their false detections per
        minute within ``targets``).
    folds : int
        Person-grouped folds.
    rounds : int
        LightGBM rounds.
    seed : int
        Random seed.
    targets : dict | None
        False detections per minute per preset (default :data:`FP_TARGETS`).

    Returns
    -------
    booster : lightgbm.Booster
    meta : dict
        Features, calibration map, presets and the out-of-fold figures.
    oof : numpy.ndarray
        Out-of-fold calibrated confidence of every row (0 where a rule rejects it).
    """
    from sklearn.model_selection import GroupKFold

    targets = dict(FP_TARGETS if targets is None else targets)
    rows = rows[rows["benign"] == ""].reset_index(drop=True)  # rule-rejected rows are never scored
    if rows["label"].sum() < 10 or (rows["label"] == 0).sum() < 10:
        raise ParameterError("training needs at least 10 spike and 10 non-spike candidates.")
    groups = rows["person"].to_numpy()
    n_folds = min(folds, len(np.unique(groups)))
    if n_folds < 2:
        raise ParameterError("training needs recordings of at least 2 persons (the model is cross-validated by person).")
    raw_oof = np.zeros(len(rows))
    for k, (tr, te) in enumerate(GroupKFold(n_splits=n_folds).split(rows, groups=groups)):
        booster = _fit(rows.iloc[tr], rounds, seed + k)
        raw_oof[te] = booster.predict(rows.iloc[te][STAGE2_FEATURES].to_numpy(float))
    calibration = _isotonic(raw_oof, rows["label"].to_numpy(), _weights(rows))
    oof = np.interp(raw_oof, calibration["x"], calibration["y"])
    grid = np.round(np.arange(0.05, 0.9951, 0.005), 3)
    presets, figures = {}, {}
    # Only datasets of at least MIN_MINUTES set the presets: on 4 minutes one detection is 0.25 per minute.
    judged = {d: m for d, m in normal_minutes.items() if m >= MIN_MINUTES} or dict(normal_minutes)
    for name, target in targets.items():
        ok = [c for c in grid if max(fp_per_minute(rows, oof, c, judged).values()) <= target]
        presets[name] = float(ok[0]) if ok else float(grid[-1])
    pos = rows["label"].to_numpy() == 1
    for name, c in presets.items():
        figures[name] = {
            "cutoff": c,
            "positives_found": float((oof[pos] >= c).mean()) if pos.any() else None,
            "fp_per_min": fp_per_minute(rows, oof, c, normal_minutes),
        }
    booster = _fit(rows, rounds, seed)
    meta = {
        "features": STAGE2_FEATURES,
        "presets": presets,
        "calibration": calibration,
        "training": {
            "rows": int(len(rows)),
            "positives": int(pos.sum()),
            "persons": int(len(np.unique(groups))),
            "datasets": {d: int((rows["dataset"] == d).sum()) for d in sorted(rows["dataset"].unique())},
            "folds": int(n_folds),
            "rounds": int(rounds),
            "seed": int(seed),
            "fp_targets": targets,
            "trained": dt.date.today().isoformat(),
        },
        "out_of_fold": figures,
    }
    return booster, meta, oof


def save_spike_model(out, booster, meta) -> Path:
    """Write ``model.txt`` (LightGBM text) and ``model.json`` to the folder ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / "model.txt"))
    (out / "model.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


#: Event types an events file of a recording without discharges may hold (besides none at all).
NORMAL_EVENT_TYPES = ("bckg", "normal")
_READABLE = (".edf", ".bdf", ".set", ".vhdr", ".fif", ".gdf", ".cnt")


def find_spike_recordings(root) -> list[tuple[Path, Path, str]]:
    """Recordings with an events file under ``root``: (recording, events file, person).

    A recording ``X_eeg.edf`` (or ``X.edf``; also .bdf, .set, .vhdr, .fif, .gdf, .cnt) needs
    ``X_events.tsv`` beside it. The person is the BIDS ``sub-`` entity of the name when there is one,
    else the file name.
    """
    _validate_type(root, (str, os.PathLike), "data", "path-like")
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"'{root}' is not a folder of recordings with *_events.tsv files.")
    out = []
    for f in sorted(p for p in root.rglob("*") if p.suffix.lower() in _READABLE):
        stem = f.name[: -len(f.suffix)]
        base = stem[: -len("_eeg")] if stem.endswith("_eeg") else stem
        events = f.with_name(base + "_events.tsv")
        if not events.is_file():
            logger.info("skipping %s: no %s", f, events.name)
            continue
        sub = next((part for part in base.split("_") if part.startswith("sub-")), base)
        out.append((f, events, sub))
    if not out:
        raise ParameterError(f"no recording under '{root}' has an _events.tsv beside it (X.edf + X_events.tsv).")
    return out


def train_spike_model(data, out, *, simulated: int = 24, folds: int = 5, rounds: int = 200, seed: int = 0,
                      sim_duration: float = 600.0, on_progress=None) -> dict:  # fmt: skip
    """Train the spike detector's second stage on your recordings (and simulated spikes).

    Every recording under ``data`` with an events file beside it (``X.edf`` + ``X_events.tsv``, BIDS
    names welcome) is used: rows with ``eventType`` ``spike`` mark discharges (peak at ``peak_time``
    when the column exists, else the middle of the event); a recording whose events file has no row, or
    only ``bckg`` / ``normal`` rows, is taken as free of discharges, so every candidate on it is false (one
    with other events but no spike row is skipped: it is not known to be free of them), and a copy of it with synthetic
    discharges added (:func:`inject_spikes`) gives positives on that person's background. ``simulated``
    recordings (10 min, 40 spikes, artifacts; seeds 7001… — the shipped model's training seeds) add more.

    Parameters
    ----------
    data : path-like
        Folder of recordings with events files.
    out : path-like
        Model folder to write (``model.txt``, ``model.json``); use it with ``SpikeDetector(model=out)``.
    simulated : int
        Simulated recordings to add (0 for none).
    folds : int
        Person-grouped cross-validation folds.
    rounds : int
        LightGBM rounds.
    seed : int
        Random seed.
    sim_duration : float
        Seconds per simulated recording.
    on_progress : callable | None
        Called with the fraction done.

    Returns
    -------
    meta : dict
        What ``model.json`` holds (presets, calibration, out-of-fold figures).
    """
    from ...io import read_recording

    _check_range("simulated", simulated, 0, 500)
    _check_range("folds", folds, 2, 50)
    _check_range("rounds", rounds, 10, 5000)
    recs = find_spike_recordings(data)
    parts, minutes = [], {}
    total = len(recs) + simulated
    for k, (f, events, person) in enumerate(recs):
        raw, _ = read_recording(f)
        ev = pd.read_csv(events, sep="\t")
        kinds = ev["eventType"].astype(str) if "eventType" in ev else pd.Series([""] * len(ev))
        spk = ev[kinds == "spike"]
        if not len(spk) and not kinds.isin(NORMAL_EVENT_TYPES).all():
            # Other events (a seizure …) but no spike marked: not known to be free of discharges.
            logger.info("skipping %s: events other than %s but no spike row", f, ", ".join(NORMAL_EVENT_TYPES))
            continue
        if "peak_time" in spk:
            peaks = spk["peak_time"].to_numpy(float)
        else:
            peaks = (spk["onset"] + spk.get("duration", 0.0) / 2).to_numpy(float) if len(spk) else np.zeros(0)
        rows, mins = candidate_rows(raw, peaks=peaks, person=person, dataset="user")
        parts.append(rows)
        if not len(peaks):
            minutes["user"] = minutes.get("user", 0.0) + mins
            # The same person with synthetic discharges added: positives on a real background.
            seeded, added = inject_spikes(raw, rate=12.0, seed=seed + k)
            rows, _ = candidate_rows(seeded, peaks=added, person=person, dataset="injected")
            parts.append(rows[rows["label"] == 1])
        if on_progress:
            on_progress((k + 1) / total)
    parts.extend(simulated_rows(range(7001, 7001 + simulated), duration=sim_duration))
    if on_progress:
        on_progress(1.0)
    if not minutes:
        raise ParameterError(
            "no recording without discharges: the presets need normal EEG (an events file with no row, or only bckg/normal rows)."
        )
    booster, meta, _ = fit_spike_model(pd.concat(parts, ignore_index=True), minutes, folds=folds, rounds=rounds, seed=seed)
    save_spike_model(out, booster, meta)
    return meta


def simulated_rows(seeds, *, duration=600.0, spikes=40, on_progress=None) -> list[pd.DataFrame]:
    """Training rows of simulated recordings (odd seeds at 128 Hz, even at 256 Hz; 'person' = seed).

    Half are simulated at 128 Hz so the model cannot tell real normal EEG (mostly 128 Hz here) from
    simulated spikes by the sampling rate.
    """
    from ...simulate import SPIKE_PEAK_LATENCY, simulate_eeg

    out = []
    seeds = list(seeds)
    for k, seed in enumerate(seeds):
        sfreq = 128.0 if seed % 2 else 256.0
        raw, events = simulate_eeg(duration, sfreq=sfreq, spikes=spikes, artifacts=True, seed=seed, verbose="error")
        truth = events[events["eventType"] == "spike"]
        peaks = (np.round(truth["onset"].to_numpy() * sfreq) + round(SPIKE_PEAK_LATENCY * sfreq)) / sfreq
        rows, _ = candidate_rows(raw, peaks=peaks, person=f"sim-{seed}", dataset="simulated")
        out.append(rows)
        if on_progress:
            on_progress((k + 1) / len(seeds))
    return out


def inject_spikes(raw, *, rate: float = 10.0, seed: int = 0):
    """A copy of a normal recording with synthetic spikes and sharp waves added, and their peak times.

    Positives on the recording's own background: the model cannot tell a spike from a false detection
    by the background (simulated EEG differs from real EEG). Each discharge is a surface-negative
    transient of 20–70 ms (spike) or 70–200 ms (sharp wave) with a steeper rise than fall, usually
    followed by a surface-negative slow wave (150–350 ms, 0.2–0.8 of the peak; none in a quarter), at a
    random electrode with a field that falls off with distance (Gaussian, 3–7 cm) over the electrodes'
    standard 10-05 positions, and 4–12 times the electrode's robust 1–40 Hz SD at its focus.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording without discharges (normalised 10-20/10-10 names).
    rate : float
        Discharges per minute (at least 3 s apart).
    seed : int
        Random seed.

    Returns
    -------
    raw : mne.io.RawArray
        The copy with discharges.
    peaks : numpy.ndarray
        Peak times (s).
    """
    import mne

    from ...channels._raw import as_normalized
    from .._filter import butter_sos
    from ._detector import _positions

    rng = np.random.default_rng(seed)
    raw = as_normalized(raw)
    picks = [c for c, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "eeg"]
    pos = _positions(picks)
    data = raw.get_data()
    sfreq = float(raw.info["sfreq"])
    rows = [raw.ch_names.index(c) for c in picks]
    x = data[rows]
    from scipy import signal

    filt = signal.sosfiltfilt(butter_sos(4, (1.0, 40.0), "bandpass", sfreq), x - x.mean(0), axis=-1)
    sd = 1.4826 * np.median(np.abs(filt - np.median(filt, axis=-1, keepdims=True)), axis=-1) + 1e-12
    dur = raw.n_times / sfreq
    n = int(dur / 60.0 * rate)
    times = np.sort(rng.uniform(1.5, max(1.6, dur - 1.5), n))
    times = times[np.concatenate([[True], np.diff(times) >= 3.0])] if times.size else times
    t = np.arange(-0.4, 0.6, 1 / sfreq)
    for peak in times:
        focus = int(rng.integers(len(picks)))
        sharp_wave = rng.random() < 0.4
        width = rng.uniform(0.07, 0.2) if sharp_wave else rng.uniform(0.02, 0.07)
        rise = width * rng.uniform(0.3, 0.5)
        fall = width - rise
        wave = np.where(t < 0, np.exp(-0.5 * (t / (rise / 2)) ** 2), np.exp(-0.5 * (t / (fall / 2)) ** 2))
        if rng.random() > 0.25:
            sw_len = rng.uniform(0.15, 0.35)
            centre = fall + sw_len / 2 + 0.02
            wave = wave + rng.uniform(0.2, 0.8) * np.exp(-0.5 * ((t - centre) / (sw_len / 4)) ** 2)
        wave = -wave  # surface negative
        if pos is not None:
            d = np.linalg.norm(pos - pos[focus], axis=1)
            gain = np.exp(-0.5 * (d / rng.uniform(0.03, 0.07)) ** 2)
        else:
            gain = np.zeros(len(picks))
            gain[focus] = 1.0
        amp = rng.uniform(4.0, 12.0) * sd[focus]
        i0 = int(round(peak * sfreq)) + int(round(-0.4 * sfreq))
        lo, hi = max(0, i0), min(raw.n_times, i0 + t.size)
        x[:, lo:hi] += amp * gain[:, None] * wave[None, lo - i0 : hi - i0]
    data[rows] = x
    out = mne.io.RawArray(data, raw.info.copy(), verbose="error")
    return out, times
