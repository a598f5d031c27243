"""The qEEG step fed by the engine gives compute_qeeg's results, bit for bit, with bounded buffering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbrain.engine import ArraySource, Engine, FileSource, QEEGStep, StreamInfo, run
from dbrain.errors import ParameterError
from dbrain.qeeg import compute_qeeg
from dbrain.simulate import simulate_eeg

ARRAYS = (
    "spectrogram",
    "region_spectrogram",
    "asymmetry",
    "measures",
    "asymmetry_index",
    "artifact",
    "artifact_type",
    "suppression",
)


@pytest.fixture(scope="module")
def recording():
    raw, _ = simulate_eeg(11 * 60.0, seizures=1, artifacts=True, seed=11, verbose="error")
    return raw


def _assert_same(result, ref):
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(result, name), getattr(ref, name), err_msg=name)
    pd.testing.assert_frame_equal(result.to_frame(), ref.to_frame())
    pd.testing.assert_frame_equal(result.aeeg, ref.aeeg)
    pd.testing.assert_frame_equal(result.aperiodic, ref.aperiodic)
    pd.testing.assert_frame_equal(result.burst_suppression, ref.burst_suppression)


def _assert_reduced(step_result, ref):
    """The default step keeps no per-epoch spectra or measures, and its table equals the whole result's."""
    result = step_result.data
    for name in ("spectrogram", "region_spectrogram", "asymmetry", "measures", "asymmetry_index"):
        assert getattr(result, name).shape == (0, *getattr(ref, name).shape[1:]), name
    for name in ("times", "suppression", "artifact", "artifact_type"):
        np.testing.assert_array_equal(getattr(result, name), getattr(ref, name), err_msg=name)
    pd.testing.assert_frame_equal(step_result.tables["qeeg"], ref.to_frame(), check_exact=True)
    for name in ("aeeg", "aperiodic", "burst_suppression"):
        pd.testing.assert_frame_equal(getattr(result, name), getattr(ref, name), check_exact=True)


@pytest.mark.parametrize("max_size", [1500, 90_000])
def test_fed_qeeg_equals_compute_qeeg(recording, max_size, monkeypatch):
    # Short qEEG chunks so that an 11 min recording spans several of them, and a small feed buffer.
    monkeypatch.setattr(QEEGStep, "chunk_duration", 60.0)
    monkeypatch.setattr(QEEGStep, "keep_arrays", True)
    ref = compute_qeeg(recording, line_freq=50.0, n_jobs=2, chunk_duration=60.0)
    step = QEEGStep.create()
    source = ArraySource(recording.get_data(), recording.info, max_size=max_size, seed=4, known_length=True)
    held = []
    engine = Engine([step]).start(source.info)
    for _, data in source:
        engine.push(data)
        held.append(step.feed._end - step.feed._start)
    result = engine.finish()["qeeg"]
    engine.close()
    _assert_same(result.data, ref)
    # The feed never holds much more than its bound, whatever the recording's length.
    assert max(held) <= step.feed.max_buffer + 2 * max_size


def test_file_source(recording, monkeypatch):
    ref = compute_qeeg(recording, line_freq=50.0, n_jobs=2)
    monkeypatch.setattr(QEEGStep, "keep_arrays", True)
    engine = run([QEEGStep.create()], FileSource(recording, chunk_duration=47.0))
    _assert_same(engine.results["qeeg"].data, ref)


@pytest.mark.parametrize("chunk_duration", [47.0, 300.0])
def test_reduced_by_default(recording, chunk_duration, monkeypatch):
    # qEEG chunks of 47 s do not end on whole minutes: the per-minute table is aggregated across them.
    monkeypatch.setattr(QEEGStep, "chunk_duration", chunk_duration)
    ref = compute_qeeg(recording, line_freq=50.0, n_jobs=2, chunk_duration=chunk_duration)
    source = ArraySource(recording.get_data(), recording.info, max_size=20_000, seed=2, known_length=True)
    engine = run([QEEGStep.create()], source)
    _assert_reduced(engine.results["qeeg"], ref)


def test_live_stream_of_unknown_length_refused(recording):
    with pytest.raises(ParameterError, match="length in advance"):
        Engine([QEEGStep.create()]).start(StreamInfo(recording.info))


def test_failure_in_qeeg_thread_surfaces(recording):
    step = QEEGStep.create({"fmax": 200.0})  # above Nyquist: compute_qeeg refuses it in its thread
    with pytest.raises(ParameterError, match="fmax"):
        run([step], ArraySource(recording.get_data(), recording.info, sizes=5000, known_length=True))
    assert not step._thread.is_alive()
