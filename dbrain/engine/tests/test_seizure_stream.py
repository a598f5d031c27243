"""The seizure step on a stream gives the file path's tables; what it gives before the stream ends."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from dbrain.detect import SeizureDetector
from dbrain.detect import _features as F
from dbrain.engine import ArraySource, Engine, FileSource, SeizureStep, StreamInfo, run
from dbrain.simulate import simulate_eeg

TOL = 1e-6
DURATION = 13 * 60.0  # long enough for windows to become final while streaming (> 610 windows)


@pytest.fixture(scope="module")
def recording():
    raw, _ = simulate_eeg(DURATION, seizures=1, spikes=10, artifacts=True, seed=7, verbose="error")
    return raw


@pytest.fixture(scope="module")
def reference(recording):
    return SeizureDetector().run(recording)


def _cut(raw, n):
    return mne.io.RawArray(raw.get_data()[:, :n], raw.info, verbose="error")


def _assert_same(result, ref):
    assert result.probability.shape == ref.probability.shape
    assert np.abs(result.probability - ref.probability).max() <= TOL
    assert np.abs(result.smoothed - ref.smoothed).max() <= TOL
    assert np.abs(result.channel_probability - ref.channel_probability).max() <= TOL
    assert result.channels == ref.channels and result.montage == ref.montage
    cols = ["onset", "duration", "confidence", "channels", "lateralisation"]
    assert result.events[cols].astype(str).equals(ref.events[cols].astype(str))
    np.testing.assert_allclose(result.to_frame().to_numpy(), ref.to_frame().to_numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize(("max_size", "seed"), [(700, 0), (20_000, 1)])
def test_stream_of_random_chunks_equals_file_path(recording, reference, max_size, seed):
    step = SeizureStep.create()
    engine = run([step], ArraySource(recording.get_data(), recording.info, max_size=max_size, seed=seed))
    assert step.stream._final, "no window became final while streaming: the test would not test the stream"
    result = engine.results["seizures"]
    _assert_same(result.data["seizures"], reference)
    assert result.summary["montage"] == "double-banana" and len(reference.events) >= 1
    assert result.tables["seizure_probability"].equals(reference.to_frame())


def test_file_source_equals_file_path(recording, reference):
    engine = run([SeizureStep.create()], FileSource(recording, chunk_duration=61.7))
    _assert_same(engine.results["seizures"].data["seizures"], reference)


def test_start_of_stream_background_unknown(recording):
    """First 2 minutes: no background yet, so background features are missing, as for a short recording."""
    sfreq = recording.info["sfreq"]
    engine = Engine([SeizureStep.create()]).start(StreamInfo(recording.info))
    data = recording.get_data()
    engine.push(data[:, : int(5 * sfreq)])
    assert engine.partial() == {}  # under 10 s: no result yet
    n = int(90 * sfreq)
    engine.push(data[:, int(5 * sfreq) : n])
    partial = engine.partial()["seizures"]
    cut = _cut(recording, n)
    _assert_same(partial, SeizureDetector().run(cut))
    # ... and that file-path result is the one without background features.
    source, picks = _select(cut)
    X = F.recording_features(source, picks=picks)
    assert np.isnan(X[..., F.FEATURES.index("log_power_bg")]).all()


def _select(raw):
    from dbrain.detect import select_channels

    source, picks, _ = select_channels(raw)
    return source, picks


def test_provisional_then_final(recording, reference):
    """Mid-stream: the file path's result on the recording so far; the first seconds are already final."""
    sfreq = recording.info["sfreq"]
    step = SeizureStep.create()
    engine = Engine([step]).start(StreamInfo(recording.info))
    n = int(12 * 60 * sfreq)
    for piece in np.array_split(recording.get_data()[:, :n], 37, axis=1):
        engine.push(piece)
    partial = engine.partial()["seizures"]
    _assert_same(partial, SeizureDetector().run(_cut(recording, n)))
    final = step.stream.n_final_seconds()
    # 12 min = 71 complete blocks of 10 windows; blocks with 60 complete blocks after them are final.
    assert final == (71 - 60) * 10
    assert np.abs(partial.probability[:final] - reference.probability[:final]).max() <= TOL


def test_state_is_bounded(recording):
    """Only the not-yet-final windows (60 blocks and the current one) are kept, whatever the length."""
    step = SeizureStep.create()
    engine = Engine([step]).start(StreamInfo(recording.info))
    data = recording.get_data()
    most = 0
    for start in range(0, data.shape[1], 1000):
        engine.push(data[:, start : start + 1000])
        most = max(most, len(step.stream._pending))
        assert step.stream._buf.shape[1] <= 1000 + int(2 * recording.info["sfreq"])
    bound = (F.BACKGROUND_HALF + 1) * F.BACKGROUND_BLOCK + 4  # + the windows of one push (1000 samples < 4 s)
    assert F.BACKGROUND_HALF * F.BACKGROUND_BLOCK < most <= bound


def test_long_stream_drops_old_blocks_and_equals_file_path():
    """Past 20 minutes the blocks no window needs any more are let go (bounded memory), results unchanged."""
    raw, _ = simulate_eeg(26 * 60.0, seizures=1, spikes=0, artifacts=False, seed=3, verbose="error")
    reference = SeizureDetector().run(raw)
    step = SeizureStep.create()
    engine = Engine([step]).start(StreamInfo(raw.info))
    data, rng = raw.get_data(), np.random.default_rng(5)
    start, kept, mid, checked = 0, [], int(18 * 60 * raw.info["sfreq"]), False
    while start < data.shape[1]:
        stop = min(data.shape[1], start + int(rng.integers(1, 40_000)))
        engine.push(data[:, start:stop])
        kept.append(len(step.stream._blocks))
        if start < mid <= stop:  # provisional result mid-way = the file path on the recording so far
            _assert_same(engine.partial()["seizures"], SeizureDetector().run(_cut(raw, stop)))
            checked = True
        start = stop
    assert checked and step.stream._block0 > 0, "no block was dropped: the test would not test the dropping"
    assert max(kept) <= 2 * F.BACKGROUND_HALF + 10  # the neighbourhood, not every block of the stream
    _assert_same(engine.finish()["seizures"].data["seizures"], reference)
