"""The pattern step on a stream gives the file path's windows, classes and events, bit for bit."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.detect.patterns import classify_patterns
from dbrain.engine import ArraySource, FileSource, PatternStep, run
from dbrain.simulate import simulate_eeg

# 13 min 3.3 s: two 600 s blocks, the second one short, and a partial window at the end (dropped by both paths).
DURATION = 13 * 60.0 + 3.3


@pytest.fixture(scope="module")
def recording():
    raw, _ = simulate_eeg(DURATION, seizures=1, spikes=10, artifacts=True, seed=11, verbose="error")
    return raw


@pytest.fixture(scope="module")
def reference(recording):
    return classify_patterns(recording)


def _assert_same(result, ref):
    pd.testing.assert_frame_equal(result.windows, ref.windows, check_exact=True)
    pd.testing.assert_frame_equal(result.events, ref.events, check_exact=True)
    pd.testing.assert_frame_equal(result.prevalence(), ref.prevalence(), check_exact=True)


@pytest.mark.parametrize(("max_size", "seed"), [(3_000, 0), (100_000, 1)])
def test_stream_of_random_chunks_equals_file_path(recording, reference, max_size, seed):
    step = PatternStep.create()
    engine = run([step], ArraySource(recording.get_data(), recording.info, max_size=max_size, seed=seed))
    result = engine.results["patterns"]
    assert result.summary["computed"] and len(reference.windows) == 78
    _assert_same(result.data["patterns"], reference)
    # Memory: after the stream, only the samples from the last block's padding on were kept.
    assert step.stream._pieces[0].shape[1] <= (DURATION - 600 + 5) * recording.info["sfreq"] + 1


def test_file_source_equals_file_path(recording, reference):
    engine = run([PatternStep.create()], FileSource(recording, chunk_duration=47.0))
    _assert_same(engine.results["patterns"].data["patterns"], reference)


def test_blocks_described_while_streaming(recording):
    """Windows are described as soon as a block and its padding have arrived, not at the end."""
    sfreq = recording.info["sfreq"]
    step = PatternStep.create()
    from dbrain.engine import Engine, StreamInfo

    engine = Engine([step]).start(StreamInfo(recording.info))
    data = recording.get_data()
    engine.push(data[:, : int(604 * sfreq)])
    assert step.stream._rows == []  # the first block needs 5 s of padding after its 600 s
    engine.push(data[:, int(604 * sfreq) : int(606 * sfreq)])
    assert sum(len(r) for r in step.stream._rows) == 60


def test_channels_as_recorded_and_window_parameter(recording):
    """Fewer than 3 scalp electrodes: the EEG channels as recorded (no montage), as on the file path; other window."""
    picks = ["Fp1", "C3", "ECG"] if "ECG" in recording.ch_names else ["Fp1", "C3"]
    raw = recording.copy().pick(picks)
    ref = classify_patterns(raw, window=7.5)
    engine = run([PatternStep.create({"window": 7.5})], ArraySource(raw.get_data(), raw.info, max_size=5_000, seed=3))
    _assert_same(engine.results["patterns"].data["patterns"], ref)


def test_unusable_recordings():
    info = mne.create_info(["Fp1", "F3", "C3", "P3"], 256.0, "eeg")
    short = np.random.default_rng(0).normal(0, 1e-5, (4, int(256 * 8)))
    res = run([PatternStep.create()], ArraySource(short, info)).results["patterns"]
    assert res.summary == {"computed": False, "reason": "recording shorter than one 10 s window"}
    slow = mne.create_info(["Fp1", "F3", "C3", "P3"], 40.0, "eeg")
    res = run([PatternStep.create()], ArraySource(np.zeros((4, 40 * 30)), slow)).results["patterns"]
    assert "at least 50 Hz" in res.summary["reason"] and not res.summary["computed"]
    ecg = mne.create_info(["ECG"], 256.0, "ecg")
    res = run([PatternStep.create()], ArraySource(np.zeros((1, 256 * 30)), ecg)).results["patterns"]
    assert res.summary == {"computed": False, "reason": "no EEG channels"}
