"""The engine's ecg_peaks product: the R-peak scan of compute_heart_rate on the file, from the chunks, once for all steps."""

from __future__ import annotations

import numpy as np
import pytest

from dbrain.ecg import compute_heart_rate
from dbrain.ecg._heart_rate import _stream_peaks
from dbrain.engine import ArraySource, Engine, FileSource, Step, StepResult, StreamInfo, run
from dbrain.simulate import simulate_eeg


class _Reader(Step):
    """Reads the product at finish, as the qEEG and spike steps do."""

    name = "reader"
    version = "1"
    requires = ("ecg_peaks",)

    def start(self, info):
        self.product = info.products["ecg_peaks"]

    def update(self, chunk):
        pass

    def finish(self):
        return StepResult(data=self.product.result())


@pytest.fixture(scope="module", params=[13 * 60.0, 615.0])
def recording(request):
    # 13 min: a 600 s span scanned while streaming and a short last one; 615 s: both spans end at the end
    raw, _ = simulate_eeg(request.param, seizures=0, artifacts=True, seed=8, verbose="error")
    return raw


def _assert_same(found, raw):
    ecg = raw.ch_names[raw.get_channel_types().index("ecg")]
    channel, (peaks, std_uv, beats) = found
    ref = _stream_peaks(raw, ecg, raw.info["sfreq"])
    assert channel == ecg and len(peaks) > 100
    np.testing.assert_array_equal(peaks, ref[0])
    assert std_uv == ref[1]
    np.testing.assert_array_equal(beats, ref[2])


@pytest.mark.parametrize(("max_size", "known_length"), [(3_000, True), (70_000, False)])
def test_peaks_equal_the_file_scan(recording, max_size, known_length):
    source = ArraySource(recording.get_data(), recording.info, max_size=max_size, seed=1, known_length=known_length)
    engine = run([_Reader.create()], source)
    _assert_same(engine.results["reader"].data, recording)
    product = engine.info.products["ecg_peaks"]
    # held: about one span and its overlaps (plus a chunk), not the recording
    assert product._x.size == 0
    assert "ecg_peaks" in engine.product_seconds


def test_file_source_and_heart_rate(recording):
    engine = run([_Reader.create()], FileSource(recording, chunk_duration=47.0))
    found = engine.results["reader"].data
    _assert_same(found, recording)
    trend, events = compute_heart_rate(recording, _peaks=found)
    ref_trend, ref_events = compute_heart_rate(recording)
    assert trend.equals(ref_trend) and events.equals(ref_events)


def test_bounded_while_streaming(recording):
    engine = Engine([_Reader.create()]).start(StreamInfo(recording.info))  # a live stream: length unknown
    data, sfreq = recording.get_data(), recording.info["sfreq"]
    product, held = engine.info.products["ecg_peaks"], []
    for start in range(0, data.shape[1], 5_000):
        engine.push(data[:, start : start + 5_000])
        held.append(product._x.size)
    assert max(held) <= (600 + 2 * 30) * sfreq + 5_000
    _assert_same(engine.finish()["reader"].data, recording)


def test_no_ecg_channel():
    raw, _ = simulate_eeg(60.0, seizures=0, seed=1, verbose="error")
    raw.drop_channels([c for c, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "ecg"])
    engine = run([_Reader.create()], ArraySource(raw.get_data(), raw.info, max_size=4_000))
    assert engine.results["reader"].data is None
