"""One bed without LSL: provisional probabilities, alarms, end results equal to the file path, outputs."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.detect import SeizureDetector
from dbrain.monitor import Monitor, stream_info
from dbrain.simulate import simulate_eeg


@pytest.fixture(scope="module")
def sim():
    raw, events = simulate_eeg(160, seizures=1, seed=3, artifacts=False)
    return raw, events[events["eventType"] == "sz"].iloc[0]


def _monitor(raw, out=None, sizes=None, seed=0, **kw):
    mon = Monitor(stream_info(raw.ch_names, raw.get_channel_types(), raw.info["sfreq"]), out, **kw)
    x = raw.get_data()
    rng = np.random.default_rng(seed)
    pos = 0
    checks = []
    while pos < x.shape[1]:
        n = int(rng.integers(1, 2000)) if sizes is None else sizes
        mon.push(x[:, pos : pos + n])
        pos += n
        if len(checks) < 6 and mon.seconds > 15 * (len(checks) + 1) * 1.7:
            checks.append((mon.recent_seizure(), mon.seizure_step.stream.result()))
    return mon, checks


def test_recent_equals_provisional_result_and_alarm(sim, tmp_path):
    raw, sz = sim
    mon, checks = _monitor(raw, tmp_path)
    for (s0, sm, chan), full in checks:  # at 25 s … 150 s: within and after the first 2 minutes
        assert s0 + len(sm) == len(full.smoothed)
        np.testing.assert_allclose(sm, full.smoothed[s0:], atol=1e-6)
        np.testing.assert_allclose(chan, full.channel_probability[s0:], atol=1e-6)
    results = mon.finish()
    seizure = [a for a in mon.book.history if a.type == "seizure"]
    assert len(seizure) == 1
    a = seizure[0]
    assert sz["onset"] - 10 <= a.onset <= sz["onset"] + 15  # onset estimate
    assert a.raised - sz["onset"] <= 30  # delay
    # The finished engine gives the file path's result on the same samples.
    ref = SeizureDetector().run(raw)
    np.testing.assert_allclose(results["seizures"].tables["seizure_probability"]["probability"], ref.probability, atol=1e-6)
    table = pd.read_csv(tmp_path / "alarms.tsv", sep="\t")
    assert list(table.columns) == ["raised", "type", "onset", "confidence", "channels"]
    assert "seizure" in set(table["type"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"]["seizures"]["n_seizures"] == len(ref.events)
    rec = mne.io.read_raw_edf(tmp_path / "recording.edf", verbose="error")
    assert rec.n_times == raw.n_times
    assert any("seizure alarm" in d for d in rec.annotations.description)


def test_alarms_and_strip_do_not_depend_on_chunking(sim):
    raw, _ = sim
    fa, fb = [], []
    ma = _monitor(raw, sizes=256, on_frame=fa.append)[0]
    a = [(x.type, x.raised, x.onset, x.state) for x in ma.book.history]
    b = [(x.type, x.raised, x.onset, x.state) for x in _monitor(raw, seed=5, on_frame=fb.append)[0].book.history]
    assert a == b and a
    # The ward strip (filtered with its state carried from chunk to chunk, then decimated) is the same too.
    assert len(fa) == len(fb) > 100 and [f["t"] for f in fa] == [f["t"] for f in fb]
    for x, y in zip(fa, fb, strict=True):
        assert x["strip"]["sfreq"] == y["strip"]["sfreq"] == 128.0 and x["strip"]["hff"] == 30.0
        np.testing.assert_allclose(x["strip"]["data"], y["strip"]["data"], atol=1)  # int16 counts of 0.25 µV
    assert all(len(f["strip"]["data"][0]) == 128 for f in fa)
    # Frame after frame, the strips are the one-pass filtered strip: no gap, no overlap (to the 0.25 µV counts).
    from dbrain.monitor._strip import StripFilter

    one = StripFilter(raw.info["sfreq"], len(ma._strip_idx)).process(raw.get_data()[ma._strip_idx] * 1e6)
    cat = np.concatenate([np.array(f["strip"]["data"]) for f in fb], axis=1) * 0.25
    np.testing.assert_allclose(cat, one[:, : cat.shape[1]], atol=0.125 + 1e-9)
    assert cat.shape[1] >= one.shape[1] - 128


def _marked_stream(sfreq, t_mark, seconds=20):
    """Noise (10 µV) on 19 10-20 channels with a 2 mV step at stream time ``t_mark``, pushed into a monitor.

    Returns the frames with, for each, the unix time and the stream time (the evaluation's) at which it was built.
    """
    import time

    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8", "Fz", "Cz", "Pz"]
    n = int(seconds * sfreq)
    x = np.random.default_rng(0).normal(0, 10e-6, (len(names), n))
    x[:, int(np.ceil(t_mark * sfreq)) :] += 2000e-6
    got = []
    mon = Monitor(
        stream_info(names, ["eeg"] * len(names), sfreq),
        None,
        on_frame=lambda f: got.append((f, time.time(), mon.n_times / sfreq)),
    )
    for pos in range(0, n, 333):
        mon.push(x[:, pos : pos + 333])
    mon.close()
    return got


def _probability_stream(sfreq, second, p, seconds=20, known=True):
    """Noise pushed into a monitor whose per-second seizure probabilities are known: ``p`` at ``second``, 0 elsewhere.

    ``known=False`` keeps the real detector. Returns ``(frames, stamped)``: the posted frames and, per evaluation,
    the second (``[s, s + 1)``, as ``seizure_probability.parquet``'s ``time``) and the value of the newest probability
    the monitor holds then (what its frame carries).
    """
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8", "Fz", "Cz", "Pz"]
    n = int(seconds * sfreq)
    x = np.random.default_rng(1).normal(0, 10e-6, (len(names), n))
    frames, stamped = [], []
    mon = Monitor(stream_info(names, ["eeg"] * len(names), sfreq), None, on_frame=frames.append)
    real = mon.recent_seizure

    def recent(n_windows=60):
        if known:  # the seconds the real detector would give now (it gives none before 10 s): 0 .. floor(n / sfreq) - 1
            last = int(np.floor(mon.seizure_step.stream.n_times / mon.seizure_step.stream.sfreq)) - 1
            sm = np.where(np.arange(last + 1) == second, p, 0.0).astype(np.float32)
            out = (0, sm, np.zeros((sm.size, 1)))
        else:
            out = real(n_windows)
        if out is not None:
            stamped.append((out[0] + len(out[1]) - 1, float(out[1][-1])))
        return out

    mon.recent_seizure = recent
    for pos in range(0, n, 333):
        mon.push(x[:, pos : pos + 333])
    mon.close()
    return frames, stamped


@pytest.mark.parametrize("sfreq", [256.0, 500.0])
def test_frame_carries_the_probability_of_its_own_second(sfreq):
    """The frame of ``[t, t + 1)`` carries the probability of that second (which the ward draws at t, docs/ward.md)."""
    frames, stamped = _probability_stream(sfreq, None, None, known=False)
    with_p = [f for f in frames if f["seizure_probability"] is not None]
    assert len(with_p) == len(stamped) >= 9
    for f, (sec, value) in zip(with_p, stamped, strict=True):
        assert sec == int(np.floor(f["t"])) and f["t"] - sec < 1 / f["strip"]["sfreq"] + 1e-3
        assert f["seizure_probability"] == pytest.approx(value, abs=1e-4)


def page_times(frames):
    """Where the ward page draws each strip sample (``ward-draw.js``: sample i of a frame at ``t + i / sfreq``)."""
    t = [f["t"] + np.arange(len(f["strip"]["data"][0])) / f["strip"]["sfreq"] for f in frames]
    uv = [np.asarray(f["strip"]["data"][0]) * f["strip"]["scale_uv"] for f in frames]
    return np.concatenate(t), np.concatenate(uv)


@pytest.mark.parametrize("sfreq", [256.0, 500.0, 512.0, 1000.0])
def test_strip_frames_are_drawn_at_their_stream_time(sfreq):
    """A step at stream time 12.3 s is drawn at 12.3 s on the page's time grid (not one second later)."""
    got = _marked_stream(sfreq, 12.3)
    frames = [f for f, _, _ in got]
    assert len(frames) == 20
    t, uv = page_times(frames)
    # Frame after frame the samples follow each other at the strip's rate: no gap, no overlap, no jump.
    np.testing.assert_allclose(np.diff(t), 1 / frames[0]["strip"]["sfreq"], atol=1.5e-3)
    # The step's first sample over half its height is drawn at its stream time, late only by the HFF's delay
    # (~30 ms; the monitor posts at 12.3 + 1 the frame with t ≈ 12).
    drawn = t[np.argmax(uv > 1000.0)]
    assert 12.3 <= drawn <= 12.3 + 0.06, drawn
    # Each frame's t is its first sample's time, within its second; wall − t (the stream's start on the unix clock,
    # which puts the alarms' stream times on the clock) is what it was: unix time − stream time at evaluation.
    for f, unix, t_eval in got:
        assert t_eval - 1 <= f["t"] < t_eval - 1 + 1 / f["strip"]["sfreq"] + 1e-3
        assert abs((f["wall"] - f["t"]) - (unix - t_eval)) < 0.05


def test_bad_streams():
    from dbrain.errors import RecordingError

    with pytest.raises(RecordingError, match="sampling rate 32 Hz"):
        stream_info(["Fp1", "Cz"], ["eeg", "eeg"], 32.0)
    with pytest.raises(RecordingError, match="no EEG channels"):
        stream_info(["X1", "X2"], ["misc", "misc"], 256.0)
    with pytest.raises(RecordingError, match="no regular sampling rate"):
        stream_info(["Fp1"], ["eeg"], 0.0)
    info = stream_info(["EEG Fp1-REF", "EEG T3-REF"], ["misc", "misc"], 256.0)  # labels normalised and typed
    assert info["ch_names"] == ["Fp1", "T7"] and info.get_channel_types() == ["eeg", "eeg"]


_KILLED = """
import sys, time
import numpy as np
from dbrain.monitor import Monitor, stream_info
from dbrain.simulate import simulate_eeg
raw, _ = simulate_eeg(120, seed=1)
mon = Monitor(stream_info(raw.ch_names, raw.get_channel_types(), 256.0), sys.argv[1], edf_flush=10.0)
x = raw.get_data()
for s in range(0, x.shape[1], 128):
    mon.push(x[:, s : s + 128])
    print(mon.seconds, flush=True)
    time.sleep(0.01)
time.sleep(60)
"""


def test_killed_monitor_loses_at_most_10_s(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    seconds = 0.0
    try:
        for line in proc.stdout:
            seconds = float(line)
            if seconds >= 47.0:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert seconds >= 47.0
    raw = mne.io.read_raw_edf(tmp_path / "recording.edf", verbose="error")
    kept = raw.n_times / raw.info["sfreq"]
    assert seconds - 10.0 <= kept <= seconds
    assert np.isfinite(raw.get_data()).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stream", "x", "--post", "http://127.0.0.1:9", "--bed", "1"], "--post needs --bed and --token-file"),
        (["--stream", "x", "--post", "http://127.0.0.1:9", "--bed", "1", "--token-file", "/nonexistent"], "--token-file"),
        (["--stream", "x", "--speed", "0"], "--speed must be"),
        (["--source", "nope"], "--source must be"),
        ([], "--stream NAME is required"),
    ],
)
def test_monitor_cli_bad_arguments(args, message, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    cmd = [sys.executable, "-m", "dbrain", "monitor", "--out", str(tmp_path / "o"), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not (tmp_path / "o").exists()
