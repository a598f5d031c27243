"""The signal-check step, the live-trend step, alarms with hysteresis, the appended EDF+."""

import mne
import numpy as np
import pytest

from dbrain.engine import Engine, StreamInfo
from dbrain.monitor import AlarmBook, EdfAppender, LiveTrendStep, SignalCheckStep

SF = 256.0
NAMES = ["Fp1", "Fp2", "C3", "C4", "O1", "O2"]


def _info():
    return mne.create_info(NAMES, SF, "eeg")


def _eeg(seconds, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 20e-6, (len(NAMES), int(seconds * SF)))


def _run(step, x, chunk=100, ts=None):
    eng = Engine([step]).start(StreamInfo(_info(), None))
    for s in range(0, x.shape[1], chunk):
        if ts is not None:
            step.timestamps(ts[s : s + chunk])
        eng.push(x[:, s : s + chunk])
    return step.book.history


def test_clean_signal_raises_nothing():
    assert _run(SignalCheckStep.create(), _eeg(30)) == []


def test_flat_channel_raised_once_then_cleared():
    x = _eeg(60)
    x[2, int(10 * SF) : int(30 * SF)] = 1e-6  # C3 flat (constant) for 20 s
    alarms = _run(SignalCheckStep.create(), x)
    assert [(a.type, a.state) for a in alarms] == [("flat_channel", "cleared")]
    a = alarms[0]
    assert a.channels == ["C3"]
    assert a.onset == pytest.approx(10.0) and a.raised == pytest.approx(15.0)  # raise_after 5 s
    assert a.cleared == pytest.approx(40.0)  # clear_after 10 s


def test_clipping_and_line_noise():
    x = _eeg(40)
    t = np.arange(x.shape[1]) / SF
    x[4] += 20e-6 * np.sin(2 * np.pi * 50 * t)  # O1: 14 µV rms of mains
    big = 400e-6 * np.sin(2 * np.pi * 3 * t)
    x[0] = np.clip(big, -250e-6, 250e-6)  # Fp1 on the rail
    kinds = {a.type: a for a in _run(SignalCheckStep.create(), x)}
    assert set(kinds) == {"clipping", "line_noise"}
    assert kinds["clipping"].channels == ["Fp1"]
    assert kinds["line_noise"].channels == ["O1"]


def test_gaps_and_jitter_from_timestamps():
    x = _eeg(40)
    ts = 1000.0 + np.arange(x.shape[1]) / SF
    ts[int(20.3 * SF) :] += 0.5  # 0.5 s of samples never arrived
    alarms = _run(SignalCheckStep.create(), x, ts=ts)
    assert [a.type for a in alarms] == ["dropped_samples"]
    assert alarms[0].onset == pytest.approx(20.3, abs=0.01) and alarms[0].raised == 21.0 and alarms[0].state == "cleared"
    rng = np.random.default_rng(1)
    ts = 1000.0 + np.arange(x.shape[1]) / SF * 1.0001  # a clock 100 ppm fast: drift, not jitter
    assert _run(SignalCheckStep.create(), x, ts=ts) == []
    # Chunks stamped on arrival with ±30 ms of network jitter (each chunk's samples back-extrapolated).
    jit = np.repeat(rng.uniform(-0.03, 0.03, x.shape[1] // 100 + 1), 100)[: x.shape[1]]
    alarms = _run(SignalCheckStep.create(), x, ts=1000.0 + np.arange(x.shape[1]) / SF + jit)
    assert [a.type for a in alarms] == ["timestamp_jitter"]
    # A 10x replay's timestamps are 10x denser: not jitter, not gaps, when the step knows the speed.
    ts10 = 1000.0 + np.arange(x.shape[1]) / SF / 10
    assert _run(SignalCheckStep.create({"speed": 10.0}), x, ts=ts10) == []


def test_suppression_and_burst_suppression():
    rng = np.random.default_rng(2)
    n = int(200 * SF)
    x = rng.normal(0, 30e-6, (len(NAMES), n))
    x[:, int(20 * SF) : int(120 * SF)] *= 0.02  # 100 s of suppression (< 1 µV)
    step = LiveTrendStep.create()
    alarms = _run(step, x, chunk=333)
    assert [(a.type, a.state) for a in alarms] == [("suppression", "cleared")]
    assert 15 <= alarms[0].onset <= 30 and alarms[0].raised <= 90
    last = step.partial()
    assert last["left"].shape == last["freqs"].shape and last["freqs"][0] == 0.5 and last["freqs"][-1] == 30.0
    # Bursts of 2 s every 6 s over suppression: burst suppression (not suppression).
    y = rng.normal(0, 1e-7, (len(NAMES), n))
    for s in range(0, 200, 6):
        y[:, int(s * SF) : int((s + 2) * SF)] = rng.normal(0, 40e-6, (len(NAMES), int(2 * SF)))
    alarms = _run(LiveTrendStep.create(), y, chunk=512)
    assert [a.type for a in alarms] == ["burst_suppression"]


def test_alarm_book_hysteresis():
    book, seen = AlarmBook(), []
    book.listeners.append(lambda a: seen.append((a.type, a.state)))
    assert book.raise_("seizure", "", t=10, onset=5, confidence=0.9) is not None
    assert book.raise_("seizure", "", t=11, onset=5, confidence=0.9) is None  # same episode
    book.clear("seizure", "", t=30)
    book.clear("seizure", "", t=31)
    book.raise_("seizure", "", t=40, onset=38, confidence=0.8)
    assert seen == [("seizure", "raised"), ("seizure", "cleared"), ("seizure", "raised")]
    assert book.history[0].id != book.history[1].id


def test_edf_appender_valid_after_each_flush(tmp_path):
    import edfio

    path = tmp_path / "r.edf"
    w = EdfAppender(path, ["Fp1", "ECG"], 250.0)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 50, (2, 2500))
    w.write(x[:, :1000])
    w.annotate(1.5, "seizure alarm (raised 3.0 s)")
    w.write(x[:, 1000:2300])
    w.flush()
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert raw.n_times == 2250  # 9 whole records; the rest waits for its record
    assert np.abs(raw.get_data()[0] * 1e6 - x[0, :2250]).max() <= 0.051
    assert list(raw.annotations.description) == ["seizure alarm (raised 3.0 s)"]
    assert raw.annotations.onset[0] == pytest.approx(1.5)
    w.write(x[:, 2300:])
    w.close()
    edf = edfio.read_edf(path)
    assert edf.num_data_records == 10 and edf.signals[0].label == "Fp1"
