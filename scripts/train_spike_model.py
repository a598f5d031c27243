"""Train the shipped second stage of the spike detector (dbrain/detect/models/spikes).

    nice -n 10 .venv/bin/python scripts/train_spike_model.py [--data ../shared/data] [--cache DIR]

Rows: the detector's second-stage candidates on

* normal EEG of the development persons (benchmarks/_spike_data.py: Guinea-Bissau controls, ADHD-set
  control children, ADFSU healthy adults, the EEGLAB tutorial; every fourth person of the first three is
  held out for benchmarks/eval_spikes_real.py and never read here) — every candidate is false;
* simulated recordings, seeds 7001–7064 (10 min, 40 spikes, artifacts; odd seeds at 128 Hz, even at
  256 Hz) — candidates within 50 ms of a true peak are spikes, the others false;
* the IIIC LPD and GPD segments — candidates with a first-stage confidence ≥ 0.3 are taken as real
  discharges (weak labels; the rest are left out).

Then person-grouped 5-fold cross-validation, an isotonic calibration on the out-of-fold predictions, the
presets as the lowest cut-offs within the false-detection targets (out of fold, per normal dataset), and
the final model on all rows (dbrain.detect.spikes._train.fit_spike_model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _spike_data import DATA, iiic_discharges, normal_recordings  # noqa: E402

from dbrain.detect.spikes._train import (  # noqa: E402
    candidate_rows,
    fit_spike_model,
    inject_spikes,
    save_spike_model,
    simulated_rows,
)

SIM_SEEDS = range(7001, 7065)
#: Copies of each development person with synthetic discharges added (different seeds).
INJECTED_COPIES = 2
OUT = Path(__file__).resolve().parents[1] / "dbrain" / "detect" / "models" / "spikes"


def collect(data: Path) -> tuple[pd.DataFrame, dict]:
    parts, minutes = [], {}
    for dataset, person, raw in normal_recordings(data, "dev"):
        rows, mins = candidate_rows(raw, person=person, dataset=dataset)
        minutes[dataset] = minutes.get(dataset, 0.0) + mins
        parts.append(rows)
        # The same person with synthetic discharges added: positives on a real background (spikes only:
        # its other candidates are the rows above again).
        for copy in range(INJECTED_COPIES):
            seeded, peaks = inject_spikes(raw, rate=12.0, seed=1000 * copy + len(parts))
            rows, _ = candidate_rows(seeded, peaks=peaks, person=person, dataset="injected")
            parts.append(rows[rows["label"] == 1])
    for person, raw in iiic_discharges(data):
        rows, _ = candidate_rows(raw, person=person, dataset="iiic-discharges")
        from dbrain.detect.spikes._detector import SpikeDetector

        cands, *_ = SpikeDetector()._scored(raw, score=False)
        strong = cands["rule_confidence"].to_numpy() >= 0.3
        rows = rows[strong].assign(label=1)
        parts.append(rows)
    parts.extend(simulated_rows(SIM_SEEDS))
    return pd.concat(parts, ignore_index=True), minutes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=None, help="Folder to keep the candidate rows in (reused).")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    t0 = time.time()
    cache = args.cache / "spike_rows.parquet" if args.cache else None
    if cache is not None and cache.exists():
        rows = pd.read_parquet(cache)
        minutes = json.loads((args.cache / "spike_minutes.json").read_text())
    else:
        rows, minutes = collect(args.data)
        if cache is not None:
            args.cache.mkdir(parents=True, exist_ok=True)
            rows.to_parquet(cache)
            (args.cache / "spike_minutes.json").write_text(json.dumps(minutes))
    print(f"{len(rows)} candidate rows ({int(rows['label'].sum())} spikes) in {time.time() - t0:.0f} s")
    print(rows.groupby("dataset")["label"].agg(["size", "sum"]).to_string())
    booster, meta, _ = fit_spike_model(rows, minutes)
    meta["training"]["normal_minutes"] = {k: round(v, 1) for k, v in minutes.items()}
    meta["training"]["simulated_seeds"] = f"{SIM_SEEDS.start}-{SIM_SEEDS.stop - 1}"
    save_spike_model(args.out, booster, meta)
    print(json.dumps({"presets": meta["presets"], "out_of_fold": meta["out_of_fold"]}, indent=1))
    print(f"written to {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
