"""Spike detections on real EEG without expert marks: the EEGLAB tutorial, the SpikeNet demo, healthy controls.

    python benchmarks/eval_spikes_real.py [--data ../shared/data] [--controls N]

Prints, per recording and preset, the number of detections and detections per minute:

* the EEGLAB tutorial recording (healthy adult, task, 32 ch 10-10, 128 Hz, 238 s) — no epileptiform
  discharges: every detection is false; it was looked at while choosing the alpha-rhythm rule;
* the SpikeNet demo EEG (180 s, 19 ch, 128 Hz) — contains interictal discharges (not marked);
* the control group of the Guinea-Bissau Emotiv recordings (30 in this snapshot; 14 ch 10-10, 128 Hz, ~5 min, eyes
  closed and open; people without epilepsy) — no discharges expected: every detection is false. Not used
  for any choice. The consumer headset is noisy (movement, poor contacts), so this is a hard floor.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from dbrain.detect.spikes import SpikeDetector
from dbrain.io import read_recording

PRESETS = ("low", "medium", "high")
SPIKENET = "Fp1 F3 C3 P3 F7 T7 P7 O1 Fz Cz Pz Fp2 F4 C4 P4 F8 T8 P8 O2".split()
EMOTIV = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7", "T8"]


def guinea_bissau_controls(folder: Path, limit: int):
    """The control recordings as (name, raw); µV with the Emotiv DC offset removed (median per channel)."""
    meta = pd.read_csv(folder / "metadata_guineabissau.csv")
    for sid in meta.loc[meta["Group"] == "Control", "subject.id"].head(limit):
        df = pd.read_csv(folder / "EEGs" / f"signal-{sid}.csv.gz", usecols=EMOTIV)
        x = df[EMOTIV].to_numpy(float).T
        x -= np.median(x, axis=1, keepdims=True)
        yield f"gb-control-{sid}", mne.io.RawArray(x * 1e-6, mne.create_info(EMOTIV, 128.0, "eeg"), verbose="error")


def count(raw, detector_cls=SpikeDetector) -> dict:
    """Detections per preset of ``raw``."""
    return {p: int(len(detector_cls(p).fit().detect(raw))) for p in PRESETS}


def evaluate(data: Path, controls: int, detector_cls=SpikeDetector) -> pd.DataFrame:
    """One row per recording: minutes and detections per preset."""
    rows = []
    raw, _ = read_recording(data / "formats" / "eeglab-sample-data" / "sample_data" / "eeglab_data.set")
    rows.append(
        {"recording": "eeglab-tutorial (healthy)", "minutes": raw.n_times / raw.info["sfreq"] / 60, **count(raw, detector_cls)}
    )
    spikenet = data / "spikes" / "spikenet-sample-eeg" / "sample_eeg.mat"
    if spikenet.exists():
        import h5py

        with h5py.File(spikenet, "r") as f:
            x = np.asarray(f["data"], float).T  # (19, 23040) µV
        raw = mne.io.RawArray(x * 1e-6, mne.create_info(SPIKENET, 128.0, "eeg"), verbose="error")
        rows.append(
            {"recording": "spikenet-demo (has discharges)", "minutes": raw.n_times / 128 / 60, **count(raw, detector_cls)}
        )
    gb = data / "epilepsy-diagnosis" / "guinea-bissau"
    if gb.exists():
        for name, raw in guinea_bissau_controls(gb, controls):
            rows.append({"recording": name, "minutes": raw.n_times / 128 / 60, **count(raw, detector_cls)})
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--controls", type=int, default=46)
    args = parser.parse_args()
    df = evaluate(args.data, args.controls)
    pd.set_option("display.width", 200)
    print(df.round(2).to_string(index=False))
    gb = df[df["recording"].str.startswith("gb-control")]
    if len(gb):
        per_min = {p: gb[p].sum() / gb["minutes"].sum() for p in PRESETS}
        print(
            f"\nGuinea-Bissau controls: {len(gb)} recordings, {gb['minutes'].sum():.0f} min; detections per minute "
            + ", ".join(f"{p} {v:.2f}" for p, v in per_min.items())
            + f"; recordings with no detection at medium: {(gb['medium'] == 0).sum()}"
        )


if __name__ == "__main__":
    main()
