"""The shared recordings the spike detector's second stage is trained and evaluated on, and their split.

Normal EEG (no discharges: every detection is false), one person per id:

* ``gb-controls`` — Guinea-Bissau controls (consumer Emotiv headset, 14 ch 10-10, 128 Hz, ~5 min);
* ``adhd-control-children`` — the control children of the ADHD set (19 ch, 128 Hz, 1–6 min, unknown units);
* ``adfsu-healthy`` — healthy elderly adults of ADFSU (19 ch, 128 Hz, 8 s eyes closed + 8 s open);
* ``eeglab`` — the EEGLAB tutorial (healthy adult, 32 ch 10-10, 128 Hz, 4 min);
* ``ds004504-controls`` — the cognitively normal adults of OpenNeuro ds004504 (19 ch, 5 min each, ICA- and
  ASR-cleaned, 95 Hz resampled to 128 Hz here because the detector needs 100 Hz; nothing above 45 Hz).
  Never used for training: every person is a test person (added in session 7: the ADFSU adults held out
  are 48 s only).

Held-out test persons: all of ds004504's controls; within each of the first three datasets, sorted by id,
every fourth (rank 3, 7, 11, …). They are used for nothing but the final figures
(``benchmarks/eval_spikes_real.py``). The EEGLAB tutorial is one person and was looked at while designing version 2's rhythm rule: development only.

Real discharges (development only, weak labels): the IIIC LPD and GPD segments (ICU, 19 ch, 200 Hz):
candidates with a first-stage confidence ≥ 0.3 on them are taken as discharges. The SpikeNet demo is not
used for training: it is the independent check.
"""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pandas as pd

EMOTIV = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7", "T8"]
IIIC = "Fp1 F3 C3 P3 F7 T7 P7 O1 Fz Cz Pz Fp2 F4 C4 P4 F8 T8 P8 O2".split()
SPIKENET = IIIC
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
#: Dataset label → what it stands for in the figures.
NORMAL_SETS = {
    "gb-controls": "consumer headset (Guinea-Bissau controls)",
    "adhd-control-children": "children (ADHD-set controls)",
    "adfsu-healthy": "adults (ADFSU healthy)",
    "eeglab": "adult (EEGLAB tutorial; development only)",
    "ds004504-controls": "adults (ds004504 cognitively normal; cleaned, 95 Hz resampled to 128 Hz)",
}


def is_test(rank: int) -> bool:
    """Every fourth person (by sorted id) is held out for the final figures."""
    return rank % 4 == 3


def _raw(x, names, sfreq):
    return mne.io.RawArray(np.asarray(x, float) * 1e-6, mne.create_info(list(names), float(sfreq), "eeg"), verbose="error")


def normal_recordings(data: Path = DATA, split: str = "dev", only=None):
    """Yield (dataset, person, raw) of the normal recordings of ``split`` ('dev', 'test' or 'all').

    ``only``: a collection of dataset names to read (default all).
    """
    want = lambda r: split == "all" or (is_test(r) == (split == "test"))  # noqa: E731
    use = lambda d: only is None or d in only  # noqa: E731
    gb = data / "epilepsy-diagnosis" / "guinea-bissau"
    if gb.exists() and use("gb-controls"):
        meta = pd.read_csv(gb / "metadata_guineabissau.csv")
        ids = sorted(meta.loc[meta["Group"] == "Control", "subject.id"].astype(int))
        for r, sid in enumerate(ids):
            if want(r):
                x = pd.read_csv(gb / "EEGs" / f"signal-{sid}.csv.gz", usecols=EMOTIV)[EMOTIV].to_numpy(float).T
                x -= np.median(x, axis=1, keepdims=True)  # the Emotiv DC offset
                yield "gb-controls", f"gb-{sid}", _raw(x, EMOTIV, 128.0)
    adhd = data / "developmental" / "adhd-children" / "adhd_children_128hz.npz"
    if adhd.exists() and use("adhd-control-children"):
        z = np.load(adhd, allow_pickle=False)
        ids = sorted(str(s) for s, g in zip(z["subject"], z["group"], strict=True) if g == "control")
        for r, sid in enumerate(ids):
            if want(r):
                yield "adhd-control-children", f"adhd-{sid}", _raw(z[f"eeg_{sid}"], z["channels"], z["sfreq"])
    adfsu = data / "dementia" / "adfsu" / "adfsu_128hz.npz"
    if adfsu.exists() and use("adfsu-healthy"):
        z = np.load(adfsu, allow_pickle=False)
        healthy = z["group"] == "Healthy"
        ids = sorted(set(z["person"][healthy]), key=lambda p: int(p.replace("Paciente", "")))
        for r, pid in enumerate(ids):
            if want(r):
                for k in np.flatnonzero(healthy & (z["person"] == pid)):
                    yield "adfsu-healthy", f"adfsu-{pid}", _raw(z["data"][k], z["ch_names"], z["sfreq"])
    ds = data / "dementia" / "ds004504" / "ds004504_95hz_5min.npz"
    if ds.exists() and split in ("test", "all") and use("ds004504-controls"):
        z = np.load(ds, allow_pickle=False)
        for sid in sorted(str(s) for s, g in zip(z["subject"], z["group"], strict=True) if g == "C"):
            raw = _raw(z[f"eeg_{sid}"].astype(float) * float(z["unit_uV"]), [str(c) for c in z["channels"]], z["sfreq"])
            yield "ds004504-controls", f"ds-{sid}", raw.resample(128.0, verbose="error")
    eeglab = data / "formats" / "eeglab-sample-data" / "sample_data" / "eeglab_data.set"
    if eeglab.exists() and split in ("dev", "all") and use("eeglab"):
        from dbrain.io import read_recording

        raw, _ = read_recording(eeglab)
        yield "eeglab", "eeglab-tutorial", raw


def iiic_discharges(data: Path = DATA):
    """Yield (person, raw) of the IIIC LPD and GPD segments (EKG included as ECG)."""
    import scipy.io as sio

    folder = data / "patterns" / "iiic-dev"
    for f in sorted(folder.glob("[LG]PD_sample*.mat")):
        seg = sio.loadmat(f)["seg"]
        info = mne.create_info([*IIIC, "ECG"], 200.0, [*["eeg"] * 19, "ecg"])
        yield f"iiic-{f.stem}", mne.io.RawArray(seg * 1e-6, info, verbose="error")


def spikenet(data: Path = DATA):
    """The SpikeNet demo EEG (180 s, 19 ch, 128 Hz; contains discharges, not marked), or None."""
    path = data / "spikes" / "spikenet-sample-eeg" / "sample_eeg.mat"
    if not path.exists():
        return None
    import h5py

    with h5py.File(path, "r") as f:
        x = np.asarray(f["data"], float).T
    return _raw(x, SPIKENET, 128.0)


#: The simple baseline: every candidate with a field whose prominence and sharpness pass these
#: (amplitude in local background SDs, sharpness in background slope SDs).
THRESHOLD_BASELINE = {"low": (8.0, 5.0), "medium": (6.0, 4.0), "high": (5.0, 3.5)}
METHODS = ("model", "rules", "threshold")


#: A detection matches a true spike when its peak is within this many seconds of the true negative peak.
TOLERANCE = 0.050


def true_peaks(truth: pd.DataFrame, sfreq: float) -> np.ndarray:
    """Peak times (s) of the simulated spikes in ``truth``, on the recording's sample grid."""
    from dbrain.simulate import SPIKE_PEAK_LATENCY

    return (np.round(truth["onset"].to_numpy() * sfreq) + round(SPIKE_PEAK_LATENCY * sfreq)) / sfreq


def match_peaks(times: np.ndarray, peaks: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """Greedy one-to-one matching: per true peak, the nearest unused detection within ``tolerance`` (index, or -1)."""
    used = np.zeros(times.size, bool)
    match = np.full(peaks.size, -1)
    for i, p in enumerate(peaks):
        d = np.abs(times - p)
        d[used] = np.inf
        if d.size and d.min() <= tolerance:
            j = int(np.argmin(d))
            used[j] = True
            match[i] = j
    return match


def scored(raw):
    """The detector's second-stage candidates of ``raw`` (one pass), the electrode names and the rate."""
    from dbrain.detect.spikes._detector import SpikeDetector

    cands, names, sfreq, _ = SpikeDetector()._scored(raw)
    return cands, names, sfreq


def reported(cands, method: str, preset: str):
    """Which candidates each method reports at a preset.

    ``model``: the released detector (second stage, calibrated confidence ≥ the preset's cut-off, benign
    rules); ``rules``: the detector before the second stage (version 2: field gate, rule confidence ≥
    0.75 / 0.45 / 0.3); ``threshold``: field gate plus :data:`THRESHOLD_BASELINE`.
    """
    from dbrain.detect.spikes import SENSITIVITY_PRESETS
    from dbrain.detect.spikes._detector import RULE_PRESETS

    if not len(cands):
        return np.zeros(0, bool)
    field = (cands["benign"] != "no field (electrode pop)").to_numpy()
    if method == "model":
        return cands["confidence"].to_numpy() >= SENSITIVITY_PRESETS[preset]
    if method == "rules":
        return field & (cands["rule_confidence"].to_numpy() >= RULE_PRESETS[preset])
    amp, sharp = THRESHOLD_BASELINE[preset]
    return field & (cands["amp_ratio"].to_numpy() >= amp) & (cands["sharpness"].to_numpy() >= sharp)
