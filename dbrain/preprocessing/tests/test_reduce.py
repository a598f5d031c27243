"""Tests of artifact reduction (dbrain.preprocessing)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dbrain.errors import ParameterError
from dbrain.io import read_recording
from dbrain.preprocessing import ArtifactReductionReport, reduce_artifacts
from dbrain.simulate import simulate_eeg

POSTERIOR = ["P7", "P3", "Pz", "P4", "P8", "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2"]


@pytest.fixture(scope="module")
def eeglab(shared_data):
    path = shared_data / "formats" / "eeglab-sample-data" / "sample_data" / "eeglab_data.set"
    if not path.exists():
        pytest.skip(f"{path} not found")
    raw, _ = read_recording(path)
    return raw


@pytest.mark.slow
def test_ica_removes_blinks_keeps_alpha(eeglab):
    before = eeglab.get_data()
    cleaned, report = reduce_artifacts(eeglab, "ica", line_freq=60.0)
    assert isinstance(report, ArtifactReductionReport)
    np.testing.assert_array_equal(eeglab.get_data(), before)  # input untouched
    assert "torch" not in sys.modules  # ICLabel ran through onnxruntime
    assert len(report.removed) >= 1
    assert "eye blink" in set(report.removed["label"])
    assert (report.removed["probability"] >= 0.8).all()
    ch = report.channels.set_index("channel")
    assert ch.loc["Fpz", "strength_after"] < 0.5 * ch.loc["Fpz", "strength_before"]
    assert report.strength_after < report.strength_before
    # Alpha power: total within 10 %, and every posterior channel within 10 %.
    total = ch["alpha_after"].sum() / ch["alpha_before"].sum() - 1
    assert abs(total) < 0.10
    assert (ch.loc[POSTERIOR, "alpha_change"].abs() < 0.10).all()
    # EOG channels are left as they were.
    eog = [eeglab.ch_names.index(c) for c in ("EOG1", "EOG2")]
    np.testing.assert_array_equal(cleaned.get_data(picks=eog), eeglab.get_data(picks=eog))
    assert 0 < report.fraction_modified <= 1 and report.asr_cutoff is None


def test_asr(eeglab):
    cleaned, report = reduce_artifacts(eeglab, "asr", cutoff=5.0, line_freq=60.0)
    assert report.method == "asr" and report.asr_cutoff == 5.0 and report.removed.empty
    assert 0 < report.fraction_modified <= 1
    ch = report.channels.set_index("channel")
    assert ch.loc["Fpz", "strength_after"] < 0.9 * ch.loc["Fpz", "strength_before"]
    assert abs(ch["alpha_after"].sum() / ch["alpha_before"].sum() - 1) < 0.10  # calibrated on clean windows
    assert cleaned.get_data().shape == eeglab.get_data().shape
    # At EEGLAB's default cutoff the tutorial's blinks stay: ASR at 20 SD is for large bursts.
    _, default = reduce_artifacts(eeglab, "asr", line_freq=60.0)
    assert default.fraction_modified < 0.01


def test_errors():
    raw, _ = simulate_eeg(40, seed=0)
    with pytest.raises(ParameterError, match="'method'.*Did you mean 'ica'"):
        reduce_artifacts(raw, "icaa")
    with pytest.raises(ParameterError, match="threshold"):
        reduce_artifacts(raw, threshold=1.5)
    with pytest.raises(ParameterError, match="raw"):
        reduce_artifacts(np.zeros((3, 100)))
