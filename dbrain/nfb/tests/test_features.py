"""The streaming features equal an offline computation on the same samples."""

import numpy as np
import pytest
from mne.time_frequency import psd_array_welch

from dbrain.engine import ArraySource, run
from dbrain.io import read_recording
from dbrain.nfb import NFBStep, load_protocol

EEGLAB = "formats/eeglab-sample-data/sample_data/eeglab_data.set"


def _offline_power(x, sfreq, band, nper):
    psd, f = psd_array_welch(x, sfreq, fmin=0, fmax=sfreq / 2, n_fft=nper, n_per_seg=nper, n_overlap=nper // 2,
                             window="hann", average="mean", verbose="error")  # fmt: skip
    m = (f >= band[0]) & (f < band[1])
    return psd[m].sum() * (f[1] - f[0]) * 1e12


@pytest.mark.parametrize("name", ["theta-beta", "smr"])
def test_band_features_equal_offline_welch(shared_data, name):
    raw, _ = read_recording(shared_data / EEGLAB, preload=True)
    data = raw.get_data()
    sfreq = raw.info["sfreq"]
    proto = load_protocol(name)
    step = NFBStep.create({"protocol": proto})
    # random chunk sizes (1-700 samples): update boundaries fall anywhere inside chunks
    run([step], ArraySource(data, raw.info, max_size=700, seed=4))
    df = step.finish().tables["feedback"]
    ch = raw.ch_names.index(step.reward_channel)
    win = int(round(proto.window_s * sfreq))
    nper = int(round(sfreq))
    assert len(df) == int(data.shape[1] / (sfreq / proto.update_hz)) - int(proto.window_s * proto.update_hz) + 1
    r = proto.reward
    for _, row in df.iloc[::7].iterrows():
        b = int(round(row["t"] * sfreq))
        x = data[ch, b - win : b]
        if r.feature == "ratio":
            want = _offline_power(x, sfreq, r.numerator, nper) / _offline_power(x, sfreq, r.denominator, nper)
        else:
            want = _offline_power(x, sfreq, r.band, nper)
        assert row["feature"] == pytest.approx(want, rel=1e-9)


def test_scp_feature_equals_offline_means():
    rng = np.random.default_rng(0)
    import mne

    sfreq = 250.0
    info = mne.create_info(["Cz", "Fp1", "Fp2"], sfreq, "eeg")
    data = rng.normal(scale=10e-6, size=(3, int(60 * sfreq)))
    proto = load_protocol("scp")
    step = NFBStep.create({"protocol": proto})
    run([step], ArraySource(data, info, max_size=333, seed=1))
    df = step.finish().tables["feedback"]
    r = proto.reward
    base, trial, avg = (int(round(v * sfreq)) for v in (r.baseline_s, r.trial_s, r.average_s))
    assert df["t"].iloc[0] > r.baseline_s
    for _, row in df.iloc[::5].iterrows():
        b = int(round(row["t"] * sfreq))
        start = base + ((b - 1 - base) // trial) * trial
        want = (data[0, max(start, b - avg) : b].mean() - data[0, start - base : start].mean()) * 1e6
        assert row["feature"] == pytest.approx(want, rel=1e-9, abs=1e-9)
