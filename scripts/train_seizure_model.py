"""Train dbrain's shipped seizure model and measure it on held-out data.

Reads every labelled seizure dataset under ``../shared/data`` (Bonn, Helsinki
neonatal, IIIC development segments, Kaggle Dog 1 iEEG, Wang seizure types),
real EEG without seizures (Guinea-Bissau resting EEG and the ADHD-set children,
each split by person / child into training, preset-tuning and test thirds; the
SpikeNet sample, test only), simulated ICU patterns (:mod:`dbrain.detect._pattern_sim`:
LPD, GPD, LRDA, GRDA and background as hard negatives, fast evolving discharges
as seizures; seeds 5000+) and simulated recordings from :mod:`dbrain.simulate`
(training seeds 1000-1015, validation 2000-2003, test 3000-3005; the 24 h
must-show recording of the benchmark uses seed 2026 and the unit tests 4000+,
never seen here).

Train as you infer: every training row is computed the way the detector
computes it at inference. A recording shorter than 2 minutes has no background
of its own, so its background features are missing (NaN) at inference; the
isolated segments here (all shorter than 2 minutes) therefore train with
missing background too, and every long recording also contributes a *short
view* of its windows (the same rows with the background features missing —
exactly what :func:`dbrain.detect._features.recording_features` gives on a
crop shorter than 2 minutes, since the window and spatial features do not
depend on the recording's length). The earlier model filled the isolated
segments' background from their source's median: missing background then
occurred only in the positives-only Wang set, and the model learned "no
background = seizure" (probability 1.0 on every 50 s ICU segment, issue 17).

It then

1. evaluates leave-one-source-out: for each real seizure source, a model
   trained on everything except that source scores it (window AUROC; recall
   for the positives-only Wang set);
2. evaluates the IIIC segments held out in 2 folds by sample number (each
   fold holds out one segment of every class) through the whole detector
   path (events at the medium preset, per 50 s segment);
3. trains the final model on all training data, tunes the low / medium / high
   presets on the validation simulations and the tuning thirds of the
   seizure-free people, and scores the test simulations (SzCORE event
   sensitivity, false positives per 24 h), the held-out real EEG (false
   positives per 24 h) and the calibration per recording length (held-out
   windows as in a long recording and as in one shorter than 2 minutes);
4. writes ``dbrain/detect/models/seizure/model.txt``, ``model.json`` and
   ``metrics.json`` (the numbers of the model card).

Usage::

    nice -n 10 .venv/bin/python scripts/train_seizure_model.py [--quick] [--skip-cv] [--out DIR] [--cache DIR]

Simulations and features are cached in ``--cache`` (default
/tmp/dbrain_seizure_cache). Seeds are fixed; LightGBM may still differ in the
last digits between machines or thread counts.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.io as sio
from sklearn.metrics import roc_auc_score

from dbrain.detect import _features as F
from dbrain.detect._pattern_sim import SIM_CHANNELS, simulate_pattern
from dbrain.detect._postprocess import events_from_probability
from dbrain.detect._seizures import (
    DEFAULT_MODEL_DIR,
    SeizureDetector,
    _aggregate,
    _per_second,
    _window_labels,
    load_model,
    select_channels,
)
from dbrain.detect._train import event_metrics, tune_presets
from dbrain.simulate import simulate_eeg

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
N_ROUNDS = 200
TOP_K = 2
SIM_BG_WINDOWS = 600  # non-seizure windows kept per training simulation (all seizure windows kept)


@dataclass
class Source:
    """Windows of one real dataset: X (W, C, K), y (W,), group (W,)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    note: str


def _bipolar(data: np.ndarray, names: list[str], pairs: list[tuple[str, str]]) -> np.ndarray:
    idx = {n: i for i, n in enumerate(names)}
    return np.stack([data[..., idx[a], :] - data[..., idx[b], :] for a, b in pairs], axis=-2)


DB_PAIRS = [
    ("Fp1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"), ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fz", "Cz"), ("Cz", "Pz"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"), ("Fp2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
]  # fmt: skip

#: ``--context-features``: append :data:`dbrain.detect._features.CONTEXT_FEATURES` to every row (experimental
#: recipe; off = exactly the shipped v2 recipe).
CONTEXT = {"on": False}


def with_context(X: np.ndarray) -> np.ndarray:
    """Model rows of consecutive windows ``X`` (E, C, K), with their causal context appended when enabled."""
    if not CONTEXT["on"]:
        return X
    return np.concatenate([X, F.context_features(X)], axis=-1)


def isolated(X: np.ndarray) -> np.ndarray:
    """Rows of isolated single windows (1 s clips: no past window, so no context)."""
    if not CONTEXT["on"]:
        return X
    return np.concatenate([X, np.full(X.shape[:-1] + (len(F.CONTEXT_FEATURES),), np.nan, np.float32)], axis=-1)


def model_features() -> list[str]:
    return list(F.FEATURES) + (list(F.CONTEXT_FEATURES) if CONTEXT["on"] else [])


def load_bonn() -> Source:
    root = SHARED / "seizure" / "bonn"
    segs, y, group = [], [], []
    for k, setname in enumerate("ZONFS"):
        files = sorted((root / setname).glob("*.[tT][xX][tT]"))
        for j, path in enumerate(files):
            segs.append(np.loadtxt(path, dtype=np.float32)[:4097])
            y.append(int(setname == "S"))
            group.append(k * 1000 + j)
    X = F.segment_features(np.stack(segs)[:, None, :], 173.61)  # (S, k, 1, K)
    S, k = X.shape[:2]
    X = with_context(X[:, :, 0].transpose(1, 0, 2)).transpose(1, 0, 2)  # segments as channels: context within each
    return Source(
        "bonn",
        X.reshape(S * k, 1, -1),
        np.repeat(y, k),
        np.repeat(group, k),
        f"{S} single-channel 23.6 s segments (100 ictal S; Z, O healthy scalp; N, F interictal intracranial), {S * k} windows",
    )


def load_helsinki() -> Source:
    root = SHARED / "seizure" / "helsinki-neonatal"
    ann = {
        e: pd.read_csv(root / "annotations" / f"annotations_2017_{s}.csv") for e, s in (("A", "A_fixed"), ("B", "B"), ("C", "C"))
    }
    windows, labels, groups, seen = [], [], [], set()
    for expert in ("A", "B"):
        index = pd.read_csv(root / f"windows_index_expert_{expert}.csv")
        with h5py.File(root / "working" / "inputs" / f"results_expert_{expert}" / f"expert_{expert}_1sec_1chunk_64Hz.hdf5") as f:
            mtx = f["FINAL_mtx"][:]
        for row in index.itertuples():
            if row.seizure:
                sec = int(row.seizure_onset_sec_1based) - 1
                key = (row.infant_id, sec)
                votes = [float(ann[e].iloc[sec, row.infant_id - 1]) for e in "ABC"]
                if key in seen or sum(votes) < 3:  # consensus of all three experts
                    continue
                label = 1
            else:
                key = (row.infant_id, "bg", row.window_index)
                if expert == "B":  # the non-seizure windows of both files are drawn from the same infants; keep A's
                    continue
                label = 0
            seen.add(key)
            windows.append(mtx[row.row_start : row.row_start + 64, :18].T * 1e6)
            labels.append(label)
            groups.append(row.infant_id)
    X = isolated(F.segment_features(np.stack(windows).astype(np.float32), 64.0)[:, 0])
    y = np.array(labels)
    return Source(
        "helsinki",
        X,
        y,
        np.array(groups),
        f"{len(y)} one-second 18-channel bipolar windows at 64 Hz ({int(y.sum())} seizure onsets with consensus of 3 experts, "
        f"{int((y == 0).sum())} non-seizure), {len(set(groups))} infants",
    )


IIIC_ORDER = ["Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz", "Pz", "Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2"]


def segment_rows(seg: np.ndarray, sfreq: float, order=IIIC_ORDER) -> np.ndarray:
    """Features of a referential segment as the detector computes them at inference (double banana, own background)."""
    return with_context(F.recording_features(_bipolar(seg.astype(np.float32), list(order), DB_PAIRS), sfreq))


def load_iiic() -> Source:
    """The 12 IIIC segments, whole (50 s), as the detector sees a 50 s recording (no background: under 2 minutes).

    Seizure segments: the windows inside the scored central 10 s are seizure, the others are left out (unknown);
    the other classes: every window is non-seizure (ICU patterns persist well beyond the scored 10 s).
    """
    root = SHARED / "patterns" / "iiic-dev"
    Xs, y, group = [], [], []
    for g, path in enumerate(sorted(root.glob("*.mat"))):
        X = segment_rows(sio.loadmat(path)["seg"][:19], 200.0)  # (E, 18, K)
        sz = path.name.startswith("SZ")
        keep = (np.arange(len(X)) >= 20) & (np.arange(len(X)) + F.WINDOW <= 30) if sz else np.ones(len(X), bool)
        Xs.append(X[keep])
        y += [int(sz)] * int(keep.sum())
        group += [g] * int(keep.sum())
    return Source(
        "iiic",
        np.concatenate(Xs),
        np.array(y),
        np.array(group),
        "12 ICU segments (2 SZ: the 9 windows of the scored central 10 s; 10 LPD/GPD/LRDA/GRDA/Other: all 49 windows), "
        "double banana, no background (50 s)",
    )


IIIC_FILES = sorted(p.stem for p in (SHARED / "patterns" / "iiic-dev").glob("*.mat"))
SIM_PATTERN_SEEDS = range(5000, 5012)  # 12 segments per class; the pattern classifier's checks use 7000+


SIM_SEIZURE_FROM = 15  # first window kept of a varied simulated seizure: its onset is drawn in the first 15 s


def load_sim_patterns(cache: Path, forms: str = "basic") -> Source:
    """Simulated 50 s ICU segments: LPD/GPD/LRDA/GRDA/background as hard negatives, evolving ictal rhythms as seizures.

    ``forms="basic"``: the single form per class of :func:`simulate_pattern` (``varied=False``), as model v2 was
    trained; ``"both"`` adds the varied forms of the same seeds (evolving rhythmic delta, spike-and-wave,
    accelerating discharges as seizures — windows after the onset only —; slowing and artifacts as other).
    """
    path = cache / (("simpatterns" if forms == "basic" else f"simpatterns_{forms}") + ("_ctx" if CONTEXT["on"] else "") + ".npz")
    if not path.exists():
        Xs, y, group = [], [], []
        for k, kind in enumerate(("seizure", "lpd", "gpd", "lrda", "grda", "other")):
            for seed, varied in [(s, False) for s in SIM_PATTERN_SEEDS] + [
                (s, True) for s in SIM_PATTERN_SEEDS if forms == "both"
            ]:
                data, _ = simulate_pattern(kind, seed=seed, varied=varied)
                X = segment_rows(data, 200.0, SIM_CHANNELS)
                X = X[SIM_SEIZURE_FROM:] if (varied and kind == "seizure") else X
                Xs.append(X)
                y += [int(kind == "seizure")] * len(X)
                group += [k * 10000 + seed + 100000 * varied] * len(X)
        np.savez(path, X=np.concatenate(Xs), y=np.array(y), group=np.array(group))
    d = np.load(path)
    return Source(
        "simpatterns",
        d["X"],
        d["y"],
        d["group"],
        f"{len(SIM_PATTERN_SEEDS)} simulated 50 s segments per class (seeds {SIM_PATTERN_SEEDS.start}-{SIM_PATTERN_SEEDS.stop - 1}): "
        "LPD, GPD, LRDA, GRDA, background as non-seizure, evolving 2.5-6 Hz discharges as seizure; no background (50 s)",
    )


def load_dog() -> Source:
    d = np.load(SHARED / "seizure" / "kaggle-dog1-ieeg" / "dog1_clips.npz")
    ictal = d["ictal"].astype(int)
    lat = d["latency_s"]
    group = np.zeros(len(ictal), int)
    g = 0
    for i in range(len(ictal)):
        if ictal[i] and (i == 0 or not ictal[i - 1] or lat[i] <= lat[i - 1]):
            g += 1
        elif not ictal[i] and (i == 0 or ictal[i - 1] or (i % 60 == 0)):
            g += 1
        group[i] = g
    X = isolated(F.segment_features(d["data"].astype(np.float32), float(d["sfreq"]))[:, 0])
    return Source(
        "dog1",
        X,
        ictal,
        group,
        f"{len(ictal)} one-second 16-channel canine intracranial clips at 399.61 Hz ({int(ictal.sum())} ictal), grouped by seizure",
    )


def load_wang() -> Source:
    Xs = []
    for name in "ABCD":
        e = sio.loadmat(SHARED / "seizure" / "wang-seizure-types" / f"SezDemo_{name}.mat")["EEGseg"][0, 0]
        data = np.asarray(e["data"], np.float32)[None]
        Xs.append(with_context(F.segment_features(data, 100.0)[0]))
    X = np.concatenate(Xs)
    group = np.repeat(np.arange(4), len(Xs[0]))
    return Source("wang", X, np.ones(len(X), int), group, "4 scalp seizures (7 referential channels, 100 Hz, 20 s), all ictal")


GB_CHANNELS = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7", "T8"]


def load_guinea_bissau(cache: Path) -> dict[int, np.ndarray]:
    """Continuous resting EEG without seizures: person id -> features (E, 14, K) with their own background."""
    path = cache / "guinea_bissau.npz"
    if not path.exists():
        out = {}
        for f in sorted((SHARED / "epilepsy-diagnosis" / "guinea-bissau" / "EEGs").glob("signal-*.csv.gz")):
            person = int(f.name.split("-")[1].split(".")[0])
            data = pd.read_csv(f, usecols=GB_CHANNELS)[GB_CHANNELS].to_numpy(np.float32).T
            out[f"p{person}"] = F.recording_features(data, 128.0)
        np.savez(path, **out)
    d = np.load(path)
    return {int(k[1:]): with_context(d[k]) for k in d.files}


_BG_COLUMNS = [F.FEATURES.index(n) for n in (*F.BACKGROUND_FEATURES, "log_power_bg_ctx")]


def short_view(X: np.ndarray) -> np.ndarray:
    """The same windows as the detector sees them in a recording shorter than 2 minutes: background missing."""
    X = X.copy()
    X[..., _BG_COLUMNS] = np.nan
    return X


ADHD_RENAME = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}


def load_adhd(cache: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Child EEG without seizures (ADHD set, units as given): child -> features (E, 18, K) in double banana, and group."""
    path = cache / "adhd.npz"
    d = np.load(SHARED / "developmental" / "adhd-children" / "adhd_children_128hz.npz")
    order = [ADHD_RENAME.get(str(c), str(c)) for c in d["channels"]]
    groups = {str(s): str(g) for s, g in zip(d["subject"], d["group"], strict=True)}
    if not path.exists():
        out = {}
        for subject in d["subject"]:
            data = d[f"eeg_{subject}"].astype(np.float32)
            out[str(subject)] = F.recording_features(_bipolar(data, order, DB_PAIRS), float(d["sfreq"]))
        np.savez(path, **out)
    c = np.load(path)
    return {k: with_context(c[k]) for k in c.files}, groups


def split_thirds(ids) -> tuple[list, list, list]:
    """Training / tuning / test by rank: 0, 1, 2 mod 3 (people or children, never windows)."""
    ids = sorted(ids)
    return ids[0::3], ids[1::3], ids[2::3]


# --- simulations ------------------------------------------------------------------------------
SIM_VARIANTS = [("double-banana", 256), ("referential", 128), ("subset", 200), ("double-banana", 512), ("average", 256)]


def _sim_raw(seed: int, duration: str, sfreq: int, variant: str, seizures: int):
    raw, ev = simulate_eeg(duration, sfreq=sfreq, seizures=seizures, spikes=40, artifacts=True, seed=seed, verbose="error")
    montage = "auto"
    if variant == "subset":
        rng = np.random.default_rng(seed)
        eeg = [c for c in raw.ch_names if c != "ECG"]
        raw.drop_channels(list(rng.choice(eeg, 7, replace=False)))
    elif variant in ("referential", "average"):
        montage = variant
    return raw, ev[ev["eventType"] == "sz"], montage


def sim_training_rows(seeds, cache: Path):
    Xs, ys = [], []
    for i, seed in enumerate(seeds):
        path = cache / (f"simtrain_{seed}" + ("_ctx" if CONTEXT["on"] else "") + ".npz")
        if not path.exists():
            variant, sfreq = SIM_VARIANTS[i % len(SIM_VARIANTS)]
            raw, ev, montage = _sim_raw(seed, "1h", sfreq, variant, 5)
            det = SeizureDetector(montage=montage, max_background=SIM_BG_WINDOWS, random_state=seed)
            if CONTEXT["on"]:  # the same rows as SeizureDetector._recording_rows, with the context of the whole recording
                source, picks, _ = select_channels(raw, montage)
                Xf = with_context(F.recording_features(source, picks=picks, workers=1))
                yf = _window_labels(Xf.shape[0], ev, picks).reshape(-1)
                Xf = Xf.reshape(-1, Xf.shape[-1])
                pos, neg = np.flatnonzero(yf == 1), np.flatnonzero(yf == 0)
                if neg.size > SIM_BG_WINDOWS * len(picks):
                    neg = np.sort(np.random.default_rng(seed).choice(neg, SIM_BG_WINDOWS * len(picks), replace=False))
                idx = np.concatenate([pos, neg])
                X, y = Xf[idx], yf[idx].astype(np.float32)
            else:
                X, y = det._recording_rows(raw, ev, np.random.default_rng(seed))
            np.savez(path, X=X, y=y)
        d = np.load(path)
        Xs.append(d["X"])
        ys.append(d["y"])
    return np.concatenate(Xs), np.concatenate(ys)


def sim_eval_set(seeds, cache: Path, tag: str):
    """Full feature arrays of held-out simulations (for the whole detector path)."""
    out = []
    for i, seed in enumerate(seeds):
        path = cache / f"sim{tag}_{seed}.npz"
        variant, sfreq = SIM_VARIANTS[i % len(SIM_VARIANTS)]
        if not path.exists():
            duration = "1h" if sfreq > 256 else "2h"
            raw, ev, montage = _sim_raw(seed, duration, sfreq, variant, 4 if duration == "2h" else 2)
            src, picks, used = select_channels(raw, montage)
            X = F.recording_features(src, picks=picks)
            n_sec = int(raw.n_times // raw.info["sfreq"])
            np.savez(path, X=X, onset=ev["onset"].to_numpy(), duration=ev["duration"].to_numpy(), n_sec=n_sec, montage=used)
        d = np.load(path)
        out.append(
            {
                "seed": seed,
                "X": with_context(d["X"]),
                "sz": list(zip(d["onset"], d["duration"], strict=True)),
                "n_sec": int(d["n_sec"]),
                "montage": str(d["montage"]),
                "sfreq": sfreq,
            }
        )
    return out


# --- training and scoring ---------------------------------------------------------------------
MAX_PART_ROWS = 40000  # rows kept per training part (random, seeded): each part's total weight is fixed anyway


def train(parts, seed=0, rounds=N_ROUNDS, max_rows=MAX_PART_ROWS):
    """parts: list of (X2d, y, source_weight). Each part's classes get equal total weight."""
    Xs, ys, ws = [], [], []
    rng = np.random.default_rng(seed)
    for X, y, w in parts:
        if len(y) > max_rows:  # keep every seizure row when they are few; subsample the rest
            pos = np.flatnonzero(y == 1)
            neg = np.flatnonzero(y != 1)
            keep_pos = pos if len(pos) <= max_rows // 2 else rng.choice(pos, max_rows // 2, replace=False)
            keep_neg = rng.choice(neg, min(len(neg), max_rows - len(keep_pos)), replace=False)
            idx = np.sort(np.concatenate([keep_pos, keep_neg]))
            X, y = X[idx], y[idx]
        n_pos, n_neg = max((y == 1).sum(), 1), max((y == 0).sum(), 1)
        weight = np.where(y == 1, w / 2 / n_pos, w / 2 / n_neg)
        Xs.append(X)
        ys.append(y)
        ws.append(weight)
    y = np.concatenate(ys)
    w = np.concatenate(ws)
    det = SeizureDetector(n_estimators=rounds, top_k=TOP_K, random_state=seed)
    det._fit_arrays(np.concatenate(Xs), y, weight=w * len(y) / w.sum(), features=model_features())
    return det


def source_rows(src: Source, mask=None):
    m = np.ones(len(src.y), bool) if mask is None else mask
    X = src.X[m]
    W, C, K = X.shape
    return X.reshape(W * C, K), np.repeat(src.y[m], C).astype(np.float32)


def window_proba(det, X, short_map=None):
    """Recording-level probability per window; a recording without background gets the short-recording map (as inference)."""
    W, C, K = X.shape
    p = det.booster_.predict(X.reshape(-1, K), num_threads=2).reshape(W, C)
    if short_map is not None and np.isnan(X[..., _BG_COLUMNS[0]]).all():
        p = apply_short_map(p, short_map)
    return _aggregate(p, TOP_K)


def _auc(y, p):
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def sim_probabilities(det, recs):
    return [_per_second(window_proba(det, r["X"]), r["n_sec"]) for r in recs]


def sim_events(det, recs, on, off):
    return event_metrics(sim_probabilities(det, recs), [r["sz"] for r in recs], on=on, off=off)


def sim_window_auc(det, recs):
    ys, ps = [], []
    for r in recs:
        pw = window_proba(det, r["X"])
        y = _window_labels(
            len(pw),
            pd.DataFrame(
                {"onset": [s[0] for s in r["sz"]], "duration": [s[1] for s in r["sz"]], "eventType": "sz", "channels": "n/a"}
            ),
            ["x"],
        )[:, 0]
        ys.append(y[y >= 0])
        ps.append(pw[y >= 0])
    return _auc(np.concatenate(ys), np.concatenate(ps))


def sim_window_labels(r) -> np.ndarray:
    ev = pd.DataFrame(
        {"onset": [x[0] for x in r["sz"]], "duration": [x[1] for x in r["sz"]], "eventType": "sz", "channels": "n/a"}
    )
    return _window_labels(len(r["X"]), ev, ["x"])[:, 0]


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Window-level calibration: mean predicted vs observed, Brier score, expected calibration error (10 equal bins)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    ece = sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean() for b in range(bins) if (idx == b).any())
    return {
        "windows": int(len(y)),
        "seizure_share": round(float(y.mean()), 4),
        "mean_probability": round(float(p.mean()), 4),
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "ece": round(float(ece), 4),
        "share_above_0.5_of_non_seizure": round(float(np.mean(p[y == 0] >= 0.5)), 4) if (y == 0).any() else None,
        "share_above_0.5_of_seizure": round(float(np.mean(p[y == 1] >= 0.5)), 4) if (y == 1).any() else None,
    }


def fit_short_map(short_p: np.ndarray, long_p: np.ndarray, weight: np.ndarray | None = None) -> list[float]:
    """[a, b] of sigmoid(a logit(p_short) + b) closest (weighted cross-entropy) to the long-recording probability of the same windows."""
    from scipy.optimize import minimize

    q = np.clip(short_p.astype(np.float64), 1e-6, 1 - 1e-6)
    t = np.clip(long_p.astype(np.float64), 0, 1)
    w = np.ones_like(q) if weight is None else np.asarray(weight, np.float64)
    w = w / w.sum()
    z0 = np.log(q / (1 - q))

    def loss(ab):
        z = ab[0] * z0 + ab[1]
        return float(np.sum(w * (np.logaddexp(0, z) - t * z)))

    res = minimize(loss, np.array([1.0, 0.0]), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-9, "maxiter": 2000})
    return [round(float(res.x[0]), 4), round(float(res.x[1]), 4)]


def apply_short_map(p: np.ndarray, ab) -> np.ndarray:
    from dbrain.detect._seizures import short_recording_map

    return short_recording_map(p, {"short_recordings": {"map": ab}})


#: ``--short-map``: how the short-recording map weighs its fitting windows. ``all``: every window alike (model v2;
#: seizure windows are ~2 % of them, so the map matches the long scale of non-seizure windows); ``balanced``:
#: seizure and non-seizure windows carry equal total weight (ambiguous boundary windows left out), so seizure
#: windows of a short recording also land on their long-recording scale.
SHORT_MAP = {"weighting": "all"}


def short_map(det, val, tune_neg, weighting: str | None = None) -> list[float]:
    """Fit the short-recording map on validation windows (simulations + tuning people) seen long and short."""
    weighting = weighting or SHORT_MAP["weighting"]
    negs = [X for X in tune_neg if len(X) >= F.MIN_BACKGROUND_WINDOWS]  # those with a background
    recs = [r["X"] for r in val] + negs
    v_long = np.concatenate([window_proba(det, X) for X in recs])
    v_short = np.concatenate([window_proba(det, short_view(X)) for X in recs])
    if weighting == "all":
        return fit_short_map(v_short, v_long)
    y = np.concatenate([sim_window_labels(r) for r in val] + [np.zeros(len(X)) for X in negs])
    n_pos, n_neg = max((y == 1).sum(), 1), max((y == 0).sum(), 1)
    weight = np.where(y == 1, 0.5 / n_pos, np.where(y == 0, 0.5 / n_neg, 0.0))
    return fit_short_map(v_short, v_long, weight)


def calibration_per_length(det, ab, test, test_neg) -> dict:
    y_sim = np.concatenate([sim_window_labels(r) for r in test])
    keep = y_sim >= 0
    long_p = np.concatenate([window_proba(det, r["X"]) for r in test])[keep]
    short_raw = np.concatenate([window_proba(det, short_view(r["X"])) for r in test])[keep]
    test_neg = [X for X in test_neg if len(X) >= F.MIN_BACKGROUND_WINDOWS]  # recordings with a background, seen both ways
    neg_long = np.concatenate([window_proba(det, X) for X in test_neg])
    neg_short_raw = np.concatenate([window_proba(det, short_view(X)) for X in test_neg])
    cal = {
        "note": "window level, held-out data (test simulations 3000-3005; test thirds of the Guinea-Bissau people and ADHD-set "
        "children). 'long' = as in a recording of 2 min or more (any length: the background is the surrounding 20 min, so a "
        "1 h and a 72 h recording give the same features away from their edges); 'short' = the same windows as in a "
        "recording under 2 min (background missing), before ('raw') and after the short-recording map fitted on the "
        "validation simulations 2000-2003 and the tuning people",
        "short_recording_map": ab,
        "sim_test_long": calibration(y_sim[keep], long_p),
        "sim_test_short_raw": calibration(y_sim[keep], short_raw),
        "sim_test_short_mapped": calibration(y_sim[keep], apply_short_map(short_raw, ab)),
        "real_seizure_free_long": calibration(np.zeros(len(neg_long)), neg_long),
        "real_seizure_free_short_raw": calibration(np.zeros(len(neg_short_raw)), neg_short_raw),
        "real_seizure_free_short_mapped": calibration(np.zeros(len(neg_short_raw)), apply_short_map(neg_short_raw, ab)),
        "mean_abs_difference_short_mapped_vs_long_sim_test": round(
            float(np.mean(np.abs(apply_short_map(short_raw, ab) - long_p))), 4
        ),
    }
    return cal


def segment_events(prob_windows: np.ndarray, n_sec: int, on: float, off: float) -> int:
    runs, _ = events_from_probability(
        _per_second(prob_windows, n_sec), on=on, off=off, smoothing=5.0, merge_gap=10.0, min_duration=10.0
    )
    return len(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/dbrain_seizure_cache"))
    ap.add_argument("--loso-only", action="store_true", help="Stop after the leave-one-source-out evaluation.")
    ap.add_argument("--guinea-weight", type=float, default=2.0, help="Total training weight of the Guinea-Bissau negatives.")
    ap.add_argument("--adhd-weight", type=float, default=1.0, help="Total training weight of the ADHD-set children (negatives).")
    ap.add_argument(
        "--sim-only-presets",
        dest="tune_on_real_background",
        action="store_false",
        help="Tune the presets on the validation simulations alone (default: also on the tuning people and children).",
    )
    ap.add_argument("--skip-iiic-loso", action="store_true", help="No held-out evaluation of the IIIC segments.")
    ap.add_argument(
        "--iiic-holdout",
        choices=("folds", "segments"),
        default="folds",
        help="IIIC held out in 2 folds by sample number (default) or leave-one-segment-out (12 fits).",
    )
    ap.add_argument(
        "--holdout-rounds",
        type=int,
        default=None,
        help="Boosting rounds of the IIIC held-out fits (default: as the final model).",
    )
    ap.add_argument(
        "--holdout-rows",
        type=int,
        default=None,
        help=f"Rows kept per training part in the IIIC held-out fits (default: as the final model, {MAX_PART_ROWS}).",
    )
    ap.add_argument(
        "--sim-pattern-forms",
        choices=("basic", "both"),
        default="basic",
        help="Simulated ICU segments: the basic forms (model v2) or basic + varied forms (see load_sim_patterns).",
    )
    ap.add_argument("--iiic-json", type=Path, default=None, help="With --iiic-only: write the per-segment table here.")
    ap.add_argument(
        "--iiic-only", action="store_true", help="Stop after the IIIC held-out evaluation (presets of the shipped model)."
    )
    ap.add_argument(
        "--context-features",
        action="store_true",
        help="Experimental: add the causal context features (dbrain.detect._features.CONTEXT_FEATURES) to every row.",
    )
    ap.add_argument(
        "--short-map",
        choices=("all", "balanced"),
        default="all",
        help="Weighting of the short-recording map's fitting windows (see SHORT_MAP; default: as model v2).",
    )
    ap.add_argument(
        "--compare-short-map",
        action="store_true",
        help="IIIC held out: also score with the short map of the other weighting (else 'other_map' columns repeat the map used).",
    )
    ap.add_argument("--sim-cache-only", action="store_true", help="Build the simulation caches and stop.")
    ap.add_argument("--skip-source-loso", action="store_true", help="No leave-one-source-out evaluation.")
    ap.add_argument("--loso-sources", default=None, help="Comma-separated sources for leave-one-source-out (default: all).")
    ap.add_argument(
        "--reuse-final",
        type=Path,
        default=None,
        help="Load the final model (model.txt) an earlier run of this same command wrote instead of refitting it "
        "(fixed seeds: the same model); everything after the fit is recomputed.",
    )
    args = ap.parse_args()
    CONTEXT["on"] = args.context_features
    if args.context_features and args.out.resolve() == DEFAULT_MODEL_DIR.resolve() and not (args.iiic_only or args.loso_only):
        # the detector does not compute the context features: such a model must not replace the shipped one
        ap.error("--context-features is experimental (the detector does not compute these features): give --out DIR")
    SHORT_MAP["weighting"] = args.short_map
    args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    n_train = 6 if args.quick else 16
    sources = {
        s.name: s
        for s in (
            load_bonn(),
            load_helsinki(),
            load_iiic(),
            load_dog(),
            load_wang(),
            load_sim_patterns(args.cache, args.sim_pattern_forms),
        )
    }
    print(f"real sources loaded in {time.time() - t0:.0f} s", flush=True)
    Xsim, ysim = sim_training_rows(range(1000, 1000 + n_train), args.cache)
    val = sim_eval_set(range(2000, 2002 if args.quick else 2004), args.cache, "val")
    test = sim_eval_set(range(3000, 3002 if args.quick else 3006), args.cache, "test")
    print(f"simulations ready in {time.time() - t0:.0f} s: {len(ysim)} training rows", flush=True)
    if args.sim_cache_only:
        return
    SIM_W, REAL_W, GB_W, ADHD_W = 2.0, 1.0, args.guinea_weight, args.adhd_weight
    gb = load_guinea_bissau(args.cache)
    gb_train, gb_val, gb_test = split_thirds(gb)
    adhd, adhd_group = load_adhd(args.cache)
    # split by child within each group (ADHD / control), by rank of the id
    adhd_train, adhd_val, adhd_test = [], [], []
    for g in ("adhd", "control"):
        a, b, c = split_thirds([k for k in adhd if adhd_group[k] == g])
        adhd_train, adhd_val, adhd_test = adhd_train + a, adhd_val + b, adhd_test + c

    def negatives(arrays, weight):
        X = np.concatenate(arrays)
        X = X.reshape(-1, X.shape[-1])
        return (X, np.zeros(len(X), np.float32), weight)

    gb_part = negatives([gb[p] for p in gb_train], GB_W)
    adhd_part = negatives([adhd[c] for c in adhd_train], ADHD_W)
    rng = np.random.default_rng(0)
    # short views (recording < 2 min: background missing) of half the rows of every long training recording
    half = rng.random(len(ysim)) < 0.5
    short_parts = [
        (short_view(Xsim[half]), ysim[half], SIM_W),
        (short_view(gb_part[0][::2]), gb_part[1][::2], GB_W),
        (short_view(adhd_part[0][::2]), adhd_part[1][::2], ADHD_W),
    ]
    with h5py.File(SHARED / "spikes" / "spikenet-sample-eeg" / "sample_eeg.mat") as f:
        spk = np.asarray(f["data"], np.float32)
    spk = spk if spk.shape[0] == 19 else spk.T
    order = ["Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz", "Pz", "Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2"]
    spikenet = with_context(F.recording_features(_bipolar(spk, order, DB_PAIRS), 128.0))
    metrics = {"sources": {}, "loso": {}, "iiic_held_out": {}}
    for s in sources.values():
        metrics["sources"][s.name] = {
            "windows": int(len(s.y)),
            "seizure_windows": int(s.y.sum()),
            "groups": int(len(set(s.group))),
            "note": s.note,
        }

    def parts_except(names, extra=(), guinea=True):
        return (
            [(Xsim, ysim, SIM_W), adhd_part]
            + ([gb_part] if guinea else [])
            + short_parts
            + [(*source_rows(s), REAL_W) for s in sources.values() if s.name not in names]
            + list(extra)
        )

    held_out_negative = {
        f"guinea_bissau_test ({len(gb_test)} people)": [gb[p] for p in gb_test],
        f"adhd_set_controls_test ({sum(adhd_group[c] == 'control' for c in adhd_test)} children)": [
            adhd[c] for c in adhd_test if adhd_group[c] == "control"
        ],
        f"adhd_set_adhd_test ({sum(adhd_group[c] == 'adhd' for c in adhd_test)} children)": [
            adhd[c] for c in adhd_test if adhd_group[c] == "adhd"
        ],
        "spikenet_sample (180 s)": [spikenet],
    }

    def real_background_fp(det):
        """False events on real EEG without seizures (held-out people / children), per preset and per hour."""
        out = {}
        for label, recs in held_out_negative.items():
            probs = [_per_second(window_proba(det, X, ab), len(X) + 1) for X in recs]
            out[label] = {}
            for name, (on, off) in det.meta_["presets"].items():
                r = event_metrics(probs, [[] for _ in probs], on=on, off=off)
                r["false_events_per_hour"] = r["false_positives"] / max(r["hours"], 1e-9)
                r["seconds_above_on"] = int(sum(int((p >= on).sum()) for p in probs))
                out[label][name] = r
        return out

    # 1. leave one source out
    for name, s in sources.items():
        if name == "iiic" or args.skip_source_loso or (args.loso_sources and name not in args.loso_sources.split(",")):
            continue  # IIIC: evaluated segment by segment below
        det = train(parts_except({name}))
        p = window_proba(det, s.X)
        entry = {"auroc": _auc(s.y, p), "windows": int(len(s.y))}
        if name == "wang":
            entry["recall_at_0.5"] = float(np.mean(p >= 0.5))
        else:
            entry["recall_at_0.5"] = float(np.mean(p[s.y == 1] >= 0.5))
            entry["false_positive_rate_at_0.5"] = float(np.mean(p[s.y == 0] >= 0.5))
        metrics["loso"][name] = entry
        print("LOSO", name, entry, f"{time.time() - t0:.0f} s", flush=True)
    if args.loso_only:
        print(json.dumps(metrics["loso"], indent=1))
        return
    # 2. IIIC leave one segment out, through the whole detector path on the 50 s segment
    iiic = sources["iiic"]
    iiic_full = [
        segment_rows(sio.loadmat(SHARED / "patterns" / "iiic-dev" / f"{stem}.mat")["seg"][:19], 200.0) for stem in IIIC_FILES
    ]
    iiic_probs, iiic_probs_other = {}, {}  # the other: with the other short-map weighting (for comparison)
    iiic_fold_medium = {}  # the medium preset tuned inside each fold (validation sims + tuning people, as the final model)
    if not args.skip_iiic_loso:
        # folds: 2 folds by sample number (``*_sample1`` / ``*_sample2``), each holding out one segment of every
        # class; segments: leave one segment out (12 fits; affordable with --holdout-rounds / --holdout-rows).
        # Either way no segment is in the training of the model that scores it.
        if args.iiic_holdout == "folds":
            folds = [[g for g, stem in enumerate(IIIC_FILES) if stem.endswith(f)] for f in ("sample1", "sample2")]
        else:
            folds = [[g] for g in range(len(IIIC_FILES))]
        for held in folds:
            keep = ~np.isin(iiic.group, held)
            rest = Source("iiic", iiic.X[keep], iiic.y[keep], iiic.group[keep], iiic.note)
            det = train(
                parts_except({"iiic"}, [(*source_rows(rest), REAL_W)]),
                rounds=args.holdout_rounds or N_ROUNDS,
                max_rows=args.holdout_rows or MAX_PART_ROWS,
            )
            fold_map = short_map(det, val, [gb[p] for p in gb_val] + [adhd[c] for c in adhd_val])
            other = "balanced" if SHORT_MAP["weighting"] == "all" else "all"
            other_map = (
                short_map(det, val, [gb[p] for p in gb_val] + [adhd[c] for c in adhd_val], other)
                if args.compare_short_map
                else fold_map
            )
            tn = [gb[p] for p in gb_val] + [adhd[c] for c in adhd_val]
            fold_presets, _ = tune_presets(
                sim_probabilities(det, val) + [_per_second(window_proba(det, X, fold_map), len(X) + 1) for X in tn],
                [r["sz"] for r in val] + [[] for _ in tn],
            )
            print(
                "fold maps", SHORT_MAP["weighting"], fold_map, other, other_map, "fold medium", fold_presets["medium"], flush=True
            )
            for g in held:
                iiic_fold_medium[IIIC_FILES[g]] = fold_presets["medium"]
                iiic_probs[IIIC_FILES[g]] = window_proba(det, iiic_full[g], fold_map)
                iiic_probs_other[IIIC_FILES[g]] = window_proba(det, iiic_full[g], other_map)
                print(
                    "IIIC held out",
                    IIIC_FILES[g],
                    float(iiic_probs[IIIC_FILES[g]][20:29].mean()),
                    f"{time.time() - t0:.0f} s",
                    flush=True,
                )
    if args.iiic_only:
        # the per-segment table at the shipped model's medium preset (no final model is fitted in this mode)
        on, off = load_model(DEFAULT_MODEL_DIR)[1]["presets"]["medium"]
        rows = {
            stem: {
                "expert": stem.split("_")[0],
                "mean_probability_scored_10s": round(float(p[20:29].mean()), 4),
                "max_probability": round(float(p.max()), 4),
                "events_at_medium": segment_events(p, len(p) + 1, on, off),
                "events_at_fold_medium": segment_events(p, len(p) + 1, *iiic_fold_medium[stem]),
                "other_map_max_probability": round(float(iiic_probs_other[stem].max()), 4),
                "other_map_events_at_medium": segment_events(iiic_probs_other[stem], len(p) + 1, on, off),
                "other_map_events_at_fold_medium": segment_events(iiic_probs_other[stem], len(p) + 1, *iiic_fold_medium[stem]),
            }
            for stem, p in iiic_probs.items()
        }
        print(pd.DataFrame(rows).T.to_string())
        for col in ("events_at_fold_medium", "other_map_events_at_medium", "other_map_events_at_fold_medium"):
            f = {s: r[col] > 0 for s, r in rows.items()}
            print(
                f"  {col}: seizure flagged {sum(v for s, v in f.items() if s.startswith('SZ'))}/"
                f"{sum(s.startswith('SZ') for s in f)}, false {sum(v for s, v in f.items() if not s.startswith('SZ'))}/"
                f"{sum(not s.startswith('SZ') for s in f)}"
            )
        flagged = {s: r["events_at_medium"] > 0 for s, r in rows.items()}
        n_sz = sum(s.startswith("SZ") for s in flagged)
        print(
            f"IIIC held out ({args.iiic_holdout}, rounds {args.holdout_rounds or N_ROUNDS}, rows/part "
            f"{args.holdout_rows or MAX_PART_ROWS}): seizure flagged {sum(v for s, v in flagged.items() if s.startswith('SZ'))}/{n_sz}, "
            f"false {sum(v for s, v in flagged.items() if not s.startswith('SZ'))}/{len(flagged) - n_sz}; {time.time() - t0:.0f} s",
            flush=True,
        )
        if args.iiic_json:
            args.iiic_json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        return
    # 3. final model, its short-recording map (fitted on validation data before anything else uses the model)
    tune_neg = [gb[p] for p in gb_val] + [adhd[c] for c in adhd_val]
    if args.reuse_final:
        det = SeizureDetector(model=args.reuse_final)
        det.booster_, det.meta_ = load_model(args.reuse_final)
        det.meta_ = {k: v for k, v in det.meta_.items() if k not in ("presets", "short_recordings", "trained_on", "created_by")}
    else:
        det = train(parts_except(set()))
    ab = short_map(det, val, tune_neg)
    tune_probs = [_per_second(window_proba(det, X, ab), len(X) + 1) for X in tune_neg]
    if args.tune_on_real_background:
        presets, curve = tune_presets(sim_probabilities(det, val) + tune_probs, [r["sz"] for r in val] + [[] for _ in tune_neg])
    else:
        presets, curve = tune_presets(sim_probabilities(det, val), [r["sz"] for r in val])
    metrics["preset_tuning"] = (
        f"validation simulations (seeds 2000-2003) + {len(gb_val)} Guinea-Bissau people and {len(adhd_val)} ADHD-set children "
        "(every third by id rank)"
        if args.tune_on_real_background
        else "validation simulations (seeds 2000-2003)"
    )
    metrics["presets"] = presets
    metrics["validation_curve"] = curve
    on, off = presets["medium"]
    for stem, p in iiic_probs.items():
        n_sec = len(p) + 1
        metrics["iiic_held_out"][stem] = {
            "expert": stem.split("_")[0],
            "mean_probability_scored_10s": round(float(p[20:29].mean()), 4),
            "max_probability": round(float(p.max()), 4),
            "events_at_medium": segment_events(p, n_sec, on, off),
        }
    metrics["sim_test"] = {
        "recordings": [
            {
                "seed": r["seed"],
                "hours": r["n_sec"] / 3600,
                "sfreq": r["sfreq"],
                "montage": r["montage"],
                "channels": int(r["X"].shape[1]),
                "seizures": len(r["sz"]),
            }
            for r in test
        ],
        "window_auroc": sim_window_auc(det, test),
        "events": {name: sim_events(det, test, on_, off_) for name, (on_, off_) in presets.items()},
    }
    print("presets", presets, flush=True)
    print("sim test", json.dumps(metrics["sim_test"], indent=1), flush=True)
    det.meta_["presets"] = presets
    det.meta_["top_k"] = TOP_K
    # calibration per recording length on held-out windows (the same windows seen long and short)
    neg = [gb[p] for p in gb_test] + [adhd[c] for c in adhd_test]
    metrics["calibration"] = calibration_per_length(det, ab, test, neg)
    det.meta_["short_recordings"] = {
        "map": ab,
        "note": "recordings under 2 minutes: background features missing, as in training (isolated segments and short "
        "views); probabilities mapped as sigmoid(a logit(p) + b) onto the long-recording scale",
    }
    if iiic_probs:
        yi = np.concatenate(
            [
                np.r_[np.full(20, -1), np.ones(9), np.full(len(p) - 29, -1)] if s.startswith("SZ") else np.zeros(len(p))
                for s, p in iiic_probs.items()
            ]
        )
        pi = np.concatenate(list(iiic_probs.values()))
        metrics["calibration"]["iiic_50s_held_out_mapped"] = calibration(yi[yi >= 0], pi[yi >= 0])
    print("calibration", json.dumps(metrics["calibration"], indent=1), flush=True)
    metrics["real_background"] = {
        "data": f"held out by person / child: Guinea-Bissau resting EEG of {len(gb_test)} people ({len(gb_train)} in training, "
        f"{len(gb_val)} for preset tuning), ADHD-set children {len(adhd_test)} ({len(adhd_train)} in training, {len(adhd_val)} "
        "tuning); the 180 s SpikeNet sample (interictal discharges); no seizures annotated",
        "final_model": real_background_fp(det),
    }
    print("real background", json.dumps(metrics["real_background"], indent=1), flush=True)
    det.meta_["trained_on"] = {name: s.note for name, s in sources.items()} | {
        "guinea_bissau": f"{len(gb_train)} people (every third by id rank), all 2 s windows of ~5 min resting 14-ch Emotiv EEG, "
        "as non-seizure windows with their own background (and half of them again without, as in a recording < 2 min)",
        "adhd_children": f"{len(adhd_train)} children (every third by id rank within ADHD / control), 19-ch child EEG in double "
        "banana, units as given, as non-seizure windows (half again without background)",
        "simulated": f"{n_train} one-hour dbrain.simulate recordings (seeds 1000-{999 + n_train}, 5 seizures each, spikes, artifacts; "
        "128-512 Hz; double banana, referential, average and electrode subsets); half the rows again without background",
    }
    det.meta_["created_by"] = "scripts/train_seizure_model.py" + (" --quick" if args.quick else "")
    det.save(args.out)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
