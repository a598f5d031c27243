"""Spike detections on real EEG: false detections per minute on normal EEG held out by person, the SpikeNet demo.

    nice -n 10 python benchmarks/eval_spikes_real.py [--data ../shared/data] [--split test|dev]

Three methods from one detector pass per recording (benchmarks/_spike_data.py): ``model`` (the released
detector with its second stage), ``rules`` (the detector before it: rule confidence, version 2) and
``threshold`` (a prominence/sharpness threshold with the field gate).

* Normal EEG — no discharges, every detection is false — per dataset: the Guinea-Bissau controls
  (consumer Emotiv headset), the ADHD-set control children, the ADFSU healthy adults, and the cognitively
  normal adults of ds004504 (never in training; cleaned, 95 Hz resampled to 128 Hz). ``--split test``
  (default) reads only the persons held out from training (every fourth by id; all of ds004504);
  ``--split dev`` the training persons (their figures are not held out: development figures).
* The EEGLAB tutorial (one healthy adult; in training, looked at for version 2's rule): development.
* The SpikeNet demo EEG (contains discharges, not marked; never used for training): detections per method
  and the model's detections listed with their review cluster.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _spike_data import DATA, METHODS, NORMAL_SETS, normal_recordings, reported, scored, spikenet

from dbrain.detect.spikes import SENSITIVITY_PRESETS, review_spikes

PRESETS = ("low", "medium", "high")


def normal_table(data: Path, split: str, only=None) -> pd.DataFrame:
    """One row per normal recording: dataset, person, minutes and detections per method and preset."""
    rows = []
    for dataset, person, raw in normal_recordings(data, split, only):
        cands, _, sfreq = scored(raw)
        row = {"dataset": dataset, "person": person, "minutes": raw.n_times / sfreq / 60.0}
        for m in METHODS:
            for p in PRESETS:
                row[f"{m}_{p}"] = int(reported(cands, m, p).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """False detections per minute per dataset (persons pooled), method and preset."""
    out = []
    for dataset, g in df.groupby("dataset", sort=False):
        row = {"dataset": NORMAL_SETS.get(dataset, dataset), "persons": g["person"].nunique(), "minutes": g["minutes"].sum()}
        for m in METHODS:
            for p in PRESETS:
                row[f"{m}_{p}"] = g[f"{m}_{p}"].sum() / g["minutes"].sum()
        row["persons with 0 at medium (model)"] = int((g.groupby("person")["model_medium"].sum() == 0).sum())
        out.append(row)
    return pd.DataFrame(out)


def spikenet_report(data: Path) -> None:
    raw = spikenet(data)
    if raw is None:
        print("SpikeNet demo: not found")
        return
    cands, names, sfreq = scored(raw)
    minutes = raw.n_times / sfreq / 60.0
    counts = {f"{m}_{p}": int(reported(cands, m, p).sum()) for m in METHODS for p in PRESETS}
    print(
        f"\nSpikeNet demo ({minutes:.1f} min, discharges present but not marked): detections "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    from dbrain.detect.spikes import SpikeDetector

    for preset in ("medium", "high"):
        spikes = SpikeDetector(preset).fit().detect(raw)
        review = review_spikes(raw, spikes)
        table = spikes[["peak_time", "peak_channel", "confidence", "amplitude", "region"]].copy()
        table["cluster"] = review.labels + 1 if len(spikes) else []
        print(
            f"model at {preset} (cut-off {SENSITIVITY_PRESETS[preset]}): {len(spikes)} detections, "
            f"{len(spikes) / minutes:.2f}/min (before the second stage: {counts[f'rules_{preset}']}, "
            f"{counts[f'rules_{preset}'] / minutes:.2f}/min); {spikes.attrs.get('n_below_cutoff')} scored candidates "
            "below the cut-off"
        )
        if len(spikes):
            print(table.round(3).to_string(index=False))
            frame = review.to_frame()[["cluster", "focus", "region", "count"]]
            print(frame.assign(cluster=frame["cluster"] + 1).to_string(index=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    args = parser.parse_args()
    pd.set_option("display.width", 250)
    print(f"presets (calibrated confidence cut-offs): {SENSITIVITY_PRESETS}")
    df = normal_table(args.data, args.split)
    label = "HELD-OUT test persons" if args.split == "test" else "DEVELOPMENT persons (in training)"
    print(f"\nNormal EEG, {label}: false detections per minute")
    print(summary(df).round(3).to_string(index=False))
    if args.split == "test":
        eeglab = normal_table(args.data, "dev", only={"eeglab"})
        if len(eeglab):
            print(
                "\nEEGLAB tutorial (development: in training): detections "
                + ", ".join(f"{m}_{p} {int(eeglab[f'{m}_{p}'].sum())}" for m in METHODS for p in PRESETS)
            )
    spikenet_report(args.data)


if __name__ == "__main__":
    main()
