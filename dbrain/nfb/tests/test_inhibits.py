"""Inhibits withhold reward on real blinks and muscle bursts (real recordings), and on simulated ones (exact truth)."""

import mne
import numpy as np
import pytest
import yaml
from scipy.signal import welch

from dbrain.engine import ArraySource, run
from dbrain.io import read_recording
from dbrain.nfb import NFBStep, load_protocol, run_session
from dbrain.simulate import simulate_eeg

EEGLAB = "formats/eeglab-sample-data/sample_data/eeglab_data.set"
CHILDREN = "developmental/adhd-children/adhd_children_128hz.npz"


def _check_withheld(df):
    assert not (df["reward"] & df["inhibit"]).any()
    assert not (df["displayed_reward"] & df["inhibit"]).any()


def test_blinks_real_eeglab(shared_data, tmp_path):
    """EEGLAB tutorial recording: blinks found on the EOG1 channel (mne's EOG detector), inhibit read at Fpz."""
    path = shared_data / EEGLAB
    raw, _ = read_recording(path, preload=True)
    peaks = mne.preprocessing.find_eog_events(raw, ch_name="EOG1", verbose="error")[:, 0] / raw.info["sfreq"]
    assert len(peaks) >= 10
    df = run_session("theta-beta", f"file:{path}", minutes=3.9, speed=1e5, out_dir=tmp_path, record=False).feedback
    t = df["t"].to_numpy()
    # updates whose 1 s blink window holds a blink peak well inside it, and updates 2 s from any blink
    near = np.array([np.any((peaks > x - 0.8) & (peaks < x - 0.2)) for x in t])
    far = np.array([not np.any(np.abs(peaks - (x - 0.5)) < 2.0) for x in t])
    assert near.sum() >= 30
    assert df["inhibit_blink"][near].mean() >= 0.8  # measured 0.89
    assert df["inhibit_blink"][far].mean() <= 0.05  # measured 0.026
    assert df["reward"][near].mean() <= 0.2
    _check_withheld(df)


@pytest.mark.parametrize("child", ["v53p", "v54p"])
def test_muscle_bursts_real_children(shared_data, child):
    """Real child EEG (ADHD set): 1 s segments whose 30-45 Hz power at Cz is >= 10x the child's median.

    The segments are unlabelled high-frequency bursts (most likely muscle), found offline on the whole
    recording with non-overlapping windows — a different estimate from the step's running median.
    """
    z = np.load(shared_data / CHILDREN)
    chans = [str(c) for c in z["channels"]]
    x = z[f"eeg_{child}"].astype(float) * 1e-6  # unknown units: the relative rule does not depend on them
    sfreq = float(z["sfreq"])
    info = mne.create_info(chans, sfreq, "eeg")
    step = NFBStep.create({"protocol": load_protocol("theta-beta")})
    run([step], ArraySource(x, info, max_size=64, seed=2))
    df = step.finish().tables["feedback"]
    n = x.shape[1] // int(sfreq)
    seg = x[chans.index("Cz"), : n * int(sfreq)].reshape(n, int(sfreq))
    f, p = welch(seg, fs=sfreq, nperseg=int(sfreq), axis=-1)
    hi = p[:, (f >= 30) & (f < 45)].sum(-1)
    burst = np.flatnonzero(hi >= 10 * np.median(hi))
    assert len(burst) >= 3
    # updates whose 2 s window holds a whole burst second (after the running median has 8 values)
    t = df["t"].to_numpy()
    hit = np.array([np.any((burst >= x - 2) & (burst + 1 <= x)) for x in t]) & (t > 4)
    assert hit.sum() >= 8
    assert df["inhibit_emg"][hit].mean() >= 0.9
    assert df["inhibit_emg"].mean() <= 0.35
    _check_withheld(df)


def test_simulated_muscle_and_blinks_exact_truth(tmp_path):
    """dbrain.simulate places muscle bursts (strongest over F7/T7, fading to C3) and blinks at known samples.

    The EMG inhibit reads T7 and F7 here: at C3 the simulated bursts reach only ~3x the median 30-45 Hz
    power, the default factor, and about 70 % of their updates are inhibited there.
    """
    proto = {
        "name": "smr-c3",
        "reward": {"feature": "band_power", "channel": "C3", "band": [12, 15], "direction": "up"},
        "inhibits": [
            {"name": "emg", "channels": ["T7", "F7"], "band": [30, 45], "factor": 3.0},
            {"name": "blink", "channels": ["Fp1", "Fp2"], "band": [0.5, 3], "window_s": 1.0, "factor": 8.0},
        ],
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(proto))
    raw, events = simulate_eeg("10min", seed=11, artifacts=True, ekg=False)
    step = NFBStep.create({"protocol": load_protocol(tmp_path / "p.yaml")})
    run([step], ArraySource(raw.get_data(), raw.info, max_size=100, seed=3))
    df = step.finish().tables["feedback"]
    t = df["t"].to_numpy()

    def covered(kind, win, need):
        ev = events[events["eventType"] == kind]
        out = np.zeros(len(t), bool)
        for on, dur in zip(ev["onset"], ev["duration"], strict=True):
            out |= (np.minimum(t, on + dur) - np.maximum(t - win, on)) >= min(need, dur)
        return out

    muscle = covered("muscle", 2.0, 1.0)
    blink = covered("eyeblink", 1.0, 0.25)
    assert muscle.sum() >= 20 and blink.sum() >= 40
    assert df["inhibit_emg"][muscle].mean() >= 0.9
    assert df["inhibit_blink"][blink].mean() >= 0.9
    clean = ~covered("muscle", 2.0, 0.0) & ~covered("eyeblink", 1.0, 0.0) & ~covered("electrode_pop", 2.0, 0.0)
    assert df["inhibit"][clean].mean() <= 0.02
    _check_withheld(df)
