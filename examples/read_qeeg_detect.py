"""Read a recording, compute quantitative EEG, detect events and plot them — in a notebook's few lines.

Run: ``python examples/read_qeeg_detect.py [RECORDING] [--out DIR]`` (default: the bundled sample).
"""

import argparse
from pathlib import Path

import mne

import dbrain

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("recording", nargs="?", default=str(SAMPLE))
parser.add_argument("--out", default="example-out")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# dbrain's reader: any format, channel labels normalised (EEG T3-REF -> T7, EKG -> ECG as type ecg).
raw, info = dbrain.read_recording(args.recording)
print(f"{info.format}, {info.duration:.0f} s, {len(raw.ch_names)} channels")

# A Raw read with MNE itself works too: dbrain normalises its channels once, at the boundary.
plain = dbrain.normalize_raw(mne.io.read_raw_edf(args.recording, verbose="error"))
assert plain.ch_names == raw.ch_names

qeeg = dbrain.compute_qeeg(raw)
bands = qeeg.bandpower(relative=True)  # channel x band, artifact-heavy epochs left out
print(bands.round(3).head())
bands.to_csv(out / "relative_bandpower.csv")

seizures = dbrain.detect_seizures(raw)
spikes = dbrain.detect_spikes(raw)
print(f"{len(seizures)} seizure(s), {len(spikes)} spike(s)")

figure = dbrain.qeeg.plot_trends(qeeg)
figure.savefig(out / "trends.png", dpi=80)
print(f"wrote {out / 'relative_bandpower.csv'} and {out / 'trends.png'}")
