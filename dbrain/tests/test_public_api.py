"""The top-level verbs work on plain MNE objects and on dbrain's own reads alike."""

import logging
import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pytest

import dbrain
from dbrain.channels._raw import as_normalized
from dbrain.errors import ParameterError

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"


def test_import_is_lazy_and_every_name_resolves():
    code = (
        "import sys, dbrain; assert 'dbrain.qeeg' not in sys.modules and 'mne' not in sys.modules, sorted(sys.modules);"
        "[getattr(dbrain, n) for n in dbrain.__all__]; print(len(dbrain.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(dbrain.__all__) >= 10


def test_analyze_is_both_the_verb_and_the_package():
    import dbrain.analyze as package

    assert callable(dbrain.analyze) and package is dbrain.analyze
    assert package.analyze.__name__ == "analyze"


def test_version_comes_from_package_metadata():
    import importlib.metadata

    assert dbrain.__version__ == importlib.metadata.version("dbrain")


def test_normalize_raw_maps_names_types_and_logs(caplog):
    info = mne.create_info(["EEG FP1-REF", "EEG T3-REF", "EKG", "X1"], 256.0, "eeg")
    raw = mne.io.RawArray(np.zeros((4, 256)), info, verbose="error")
    with caplog.at_level(logging.INFO, logger="dbrain"):
        out = dbrain.normalize_raw(raw, verbose="info")
    assert out.ch_names == ["Fp1", "T7", "ECG", "X1"]
    assert out.get_channel_types() == ["eeg", "eeg", "ecg", "misc"]
    assert raw.ch_names[0] == "EEG FP1-REF"  # copy by default
    assert "'EKG' -> 'ECG' (ecg)" in caplog.text
    again = dbrain.normalize_raw(out)
    assert again.ch_names == out.ch_names and again.get_channel_types() == out.get_channel_types()
    with pytest.raises(ParameterError, match="raw must be"):
        dbrain.normalize_raw(np.zeros(3))


def test_read_recording_output_passes_the_boundary_unchanged():
    raw, _ = dbrain.read_recording(SAMPLE)
    assert as_normalized(raw) is raw


def test_plain_mne_raw_gives_the_same_qeeg_as_read_recording():
    ours, _ = dbrain.read_recording(SAMPLE)
    plain = mne.io.read_raw_edf(SAMPLE, verbose="error")
    a, b = dbrain.compute_qeeg(ours), dbrain.compute_qeeg(plain)
    assert b.ch_names == a.ch_names and "ECG" not in b.ch_names and len(b.region_names) == 7
    np.testing.assert_array_equal(a.measures, b.measures)
    assert plain.ch_names[0] == "EEG Fp1-REF"  # the caller's Raw is left alone
    spikes = dbrain.detect_spikes(plain)  # raised "missing EEG channels" before normalisation at the boundary
    assert list(spikes.columns)[:3] == ["onset", "duration", "eventType"]
    patterns = dbrain.detect_patterns(plain)
    assert list(patterns.columns)[:3] == ["onset", "duration", "eventType"]
    assert dbrain.detect_seizures(plain, smoothing=3.0)["eventType"].eq("sz").all()


def test_bandpower_is_a_wide_channel_by_band_table():
    raw, _ = dbrain.read_recording(SAMPLE)
    q = dbrain.compute_qeeg(raw)
    absolute = q.bandpower(max_artifact=None)
    assert list(absolute.columns) == ["delta", "theta", "alpha", "beta", "gamma", "total", "n_epochs"]
    assert list(absolute.index) == q.ch_names and absolute.index.name == "channel"
    np.testing.assert_allclose(absolute.loc["O1", "alpha"], q.measure("abs_alpha", "O1").mean(), rtol=1e-5)
    assert (absolute["n_epochs"] == q.times.size).all()
    clean = q.bandpower(relative=True, regions=True)
    assert (clean["n_epochs"] <= q.times.size).all() and clean["n_epochs"].min() < q.times.size
    assert list(clean.index[-len(q.region_names) :]) == q.region_names
    band_sum = clean[["delta", "theta", "alpha", "beta", "gamma"]].sum(axis=1)
    assert ((band_sum > 0.9) & (band_sum <= 1.0 + 1e-4)).all()
    with pytest.raises(ValueError, match="max_artifact"):
        q.bandpower(max_artifact=1.5)
