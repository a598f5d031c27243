"""Where the spike detector's sensitivity / false-detection trade sits: one row per confidence cut-off.

For each cut-off of the released model's calibrated confidence: the sensitivity on simulated
DEVELOPMENT seeds (default 8001–8040: never trained on, never a test set; a development figure, it was
looked at while choosing the session-7 changes) and the false detections per minute on the real normal
EEG held out by person, per dataset (benchmarks/_spike_data.py, ``--split test``). The presets are not
chosen here (they are the training's out-of-fold cut-offs, ``model.json``); this table only shows what
another cut-off would cost or give.

    nice -n 10 python benchmarks/spike_tradeoff.py [--seeds 8001-8040] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _spike_data import DATA, NORMAL_SETS, match_peaks, normal_recordings, scored, true_peaks

from dbrain.detect.spikes import SENSITIVITY_PRESETS
from dbrain.simulate import simulate_eeg


def simulated_confidences(seeds) -> tuple[list[np.ndarray], int]:
    """Per true spike the confidence of its matched candidate (0 when none within 50 ms), and the number of spikes."""
    best = []
    for seed in seeds:
        raw, events = simulate_eeg(600.0, spikes=40, artifacts=True, seed=seed, verbose="error")
        truth = events[events["eventType"] == "spike"]
        cands, _, sfreq = scored(raw)
        sfreq = float(sfreq)
        t = cands["sample"].to_numpy() / sfreq if len(cands) else np.zeros(0)
        conf = cands["confidence"].to_numpy() if len(cands) else np.zeros(0)
        # Each true spike takes its nearest unused candidate within the tolerance (_spike_data.match_peaks, as eval_spikes.py;
        # a candidate's confidence does not change which one it is).
        match = match_peaks(t, true_peaks(truth, sfreq))
        best.extend(conf[j] if j >= 0 else 0.0 for j in match)
    return np.asarray(best), len(best)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="8001-8040")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    a, b = (int(v) for v in args.seeds.split("-"))
    sim, n_true = simulated_confidences(range(a, b + 1))
    normal = {}
    for dataset, _, raw in normal_recordings(args.data, "test"):
        cands, _, sfreq = scored(raw)
        conf, minutes = normal.get(dataset, (np.zeros(0), 0.0))
        c = cands["confidence"].to_numpy() if len(cands) else np.zeros(0)
        normal[dataset] = (np.concatenate([conf, c]), minutes + raw.n_times / sfreq / 60.0)
    cutoffs = sorted({*np.round(np.arange(0.5, 0.99, 0.05), 2), *SENSITIVITY_PRESETS.values()})
    rows = []
    for c in cutoffs:
        row = {"cut-off": c, "preset": ", ".join(k for k, v in SENSITIVITY_PRESETS.items() if v == c)}
        row[f"sensitivity (sim dev {args.seeds})"] = float((sim >= c).sum() / n_true)
        for dataset, (conf, minutes) in normal.items():
            row[f"{dataset} FP/min"] = float((conf >= c).sum() / minutes)
        rows.append(row)
    pd.set_option("display.width", 250)
    print(f"{n_true} simulated spikes; held-out normal EEG: "
          + "; ".join(f"{NORMAL_SETS.get(d, d)} {m:.1f} min" for d, (_, m) in normal.items()))  # fmt: skip
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
