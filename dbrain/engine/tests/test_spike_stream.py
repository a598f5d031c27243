"""The spike step on a stream gives the detector's table on the file, bit for bit."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.detect.spikes import SpikeDetector
from dbrain.engine import ArraySource, Engine, FileSource, SpikeStep, StreamInfo, run
from dbrain.errors import RecordingError
from dbrain.simulate import simulate_eeg

# 5 min 7.3 s: five full 60 s spans and a short last one.
DURATION = 5 * 60.0 + 7.3


@pytest.fixture(scope="module")
def recording():
    raw, _ = simulate_eeg(DURATION, seizures=0, spikes=40, artifacts=True, seed=5, verbose="error")
    return raw


@pytest.fixture(scope="module")
def reference(recording):
    return SpikeDetector("medium").fit().detect(recording)


@pytest.mark.parametrize(("max_size", "seed"), [(2_000, 0), (60_000, 1)])
def test_stream_of_random_chunks_equals_file_path(recording, reference, max_size, seed):
    step = SpikeStep.create()
    engine = run([step], ArraySource(recording.get_data(), recording.info, max_size=max_size, seed=seed))
    result = engine.results["spikes"]
    assert result.summary["computed"] and len(reference) >= 10
    pd.testing.assert_frame_equal(result.tables["spikes"], reference, check_exact=True)
    assert step.detector.n_channels_in_ == 19
    # Memory: only the last span's padding (and the samples after it) were kept.
    assert step.stream._pieces[0].shape[1] <= (DURATION - 300 + 2) * recording.info["sfreq"] + 1


def test_file_source_and_sensitivity(recording):
    ref = SpikeDetector("high").fit().detect(recording)
    engine = run([SpikeStep.create({"sensitivity": "high"})], FileSource(recording, chunk_duration=47.0))
    pd.testing.assert_frame_equal(engine.results["spikes"].tables["spikes"], ref, check_exact=True)


def test_spans_processed_while_streaming(recording):
    sfreq = recording.info["sfreq"]
    step = SpikeStep.create()
    engine = Engine([step]).start(StreamInfo(recording.info))
    data = recording.get_data()
    engine.push(data[:, : int(61 * sfreq)])
    assert step.stream._rows == []  # the first span needs 2 s of padding after its 60 s
    engine.push(data[:, int(61 * sfreq) : int(62 * sfreq)])
    assert len(step.stream._rows) == 1


def test_unusable_recordings():
    names = ["Fp1", "F3", "C3", "P3"]
    short = np.random.default_rng(0).normal(0, 1e-5, (4, int(256 * 8)))
    res = run([SpikeStep.create()], ArraySource(short, mne.create_info(names, 256.0, "eeg"))).results["spikes"]
    assert res.summary == {"computed": False, "reason": "recording shorter than 10 s"}
    slow = mne.create_info(names, 80.0, "eeg")
    res = run([SpikeStep.create()], ArraySource(np.zeros((4, 80 * 30)), slow)).results["spikes"]
    assert res.summary == {"computed": False, "reason": "sampling rate 80 Hz is below 100 Hz"}
    two = mne.create_info(["Fp1", "F3"], 256.0, "eeg")
    res = run([SpikeStep.create()], ArraySource(np.zeros((2, 256 * 30)), two)).results["spikes"]
    with pytest.raises(RecordingError) as file_path:  # the same reason as the detector gives on the file
        SpikeDetector().detect(mne.io.RawArray(np.zeros((2, 256 * 30)), two, verbose="error"))
    assert res.summary == {"computed": False, "reason": str(file_path.value)}
    ecg = mne.create_info(["ECG"], 256.0, "ecg")
    res = run([SpikeStep.create()], ArraySource(np.zeros((1, 256 * 30)), ecg)).results["spikes"]
    assert res.summary == {"computed": False, "reason": "no EEG channels"}


def test_r_peaks_from_the_file_give_the_detectors_ecg_rule(recording, reference):
    # dbrain analyze's spike step reads the R peaks of the recording's ECG channel, as detect() does.
    from dbrain.detect.spikes._detector import _r_peaks

    peaks = _r_peaks(recording, recording.info["sfreq"])
    assert len(peaks) > 0, "the simulated recording has an ECG channel"

    class FileSpikeStep(SpikeStep):
        def r_peaks(self):
            return peaks

    engine = run([FileSpikeStep.create()], ArraySource(recording.get_data(), recording.info, max_size=5_000, seed=3))
    pd.testing.assert_frame_equal(engine.results["spikes"].tables["spikes"], reference, check_exact=True)

    # By default the step takes them from the engine's ecg_peaks product: the same peaks, from the chunks.
    step = SpikeStep.create()
    run([step], ArraySource(recording.get_data(), recording.info, max_size=5_000, seed=3))
    np.testing.assert_array_equal(step.r_peaks(), peaks)

    # The hook is used: R peaks placed on the detections make the ECG rule reject them (this recording's own
    # R peaks reject none, so the equality above alone would also hold without the hook).
    on_spikes = np.unique(np.round(reference["peak_time"].to_numpy() * recording.info["sfreq"]).astype(np.int64))

    class LockedSpikeStep(SpikeStep):
        def r_peaks(self):
            return on_spikes

    locked = run([LockedSpikeStep.create()], ArraySource(recording.get_data(), recording.info, max_size=5_000, seed=3))
    assert len(locked.results["spikes"].tables["spikes"]) < len(reference)
