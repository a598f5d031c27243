"""LSL: replay → monitor equals the file path; lost stream and reconnection; bad streams exit 2; posting."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.detect import SeizureDetector
from dbrain.monitor import Monitor, stream_info
from dbrain.monitor._lsl import LslSource, Replayer
from dbrain.monitor._post import Poster
from dbrain.monitor._run import run_monitor
from dbrain.simulate import simulate_eeg

ROOT = Path(__file__).resolve().parents[3]
SPEED = 25.0


def _name():
    return f"dbrain-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def sim():
    raw, _ = simulate_eeg(150, seizures=1, seed=3)
    return raw


def test_stream_path_equals_file_path(sim, tmp_path):
    name = _name()
    player = Replayer(sim, name, speed=SPEED).start()  # waits for the monitor before sending
    try:
        source = LslSource(name, timeout=10, lost_after=1.5, speed=SPEED)
        mon = run_monitor(source, tmp_path, name=name, speed=SPEED, until_end=True)
    finally:
        player.stop()
    assert mon.n_times == sim.n_times  # every sample, once, in order
    ref = SeizureDetector().run(sim)
    got = pd.read_parquet(tmp_path / "seizure_probability.parquet")
    # float64 samples go through LSL unchanged: the per-second probabilities agree to float32 rounding.
    np.testing.assert_allclose(got["probability"], ref.probability, atol=1e-6)
    np.testing.assert_allclose(got["smoothed"], ref.smoothed, atol=1e-6)
    # The same alarms as the monitor fed directly (no LSL), at the same stream seconds.
    direct = Monitor(stream_info(sim.ch_names, sim.get_channel_types(), 256.0), None)
    direct.push(sim.get_data())
    key = [(a.type, a.raised, a.onset, a.state) for a in direct.book.history if a.type != "timestamp_jitter"]
    lsl = [(a.type, a.raised, a.onset, a.state) for a in mon.book.history if a.type != "timestamp_jitter"]
    assert lsl == key and any(k[0] == "seizure" for k in key)
    assert not any(a.type in ("dropped_samples", "stream_lost") for a in mon.book.history)


def test_stream_lost_then_reconnected(sim, tmp_path):
    name = _name()
    first = Replayer(sim, name, speed=4.0, loop=True).start()
    stop, seen = threading.Event(), []
    source = LslSource(name, timeout=10, lost_after=2.0, speed=4.0)
    thread = threading.Thread(
        target=run_monitor,
        args=(source, tmp_path),
        kwargs={"name": name, "speed": 4.0, "stop": stop, "on_alarm": lambda a: seen.append((a.type, a.state, time.monotonic()))},
    )
    thread.start()
    second = None
    try:
        time.sleep(3.0)
        t_gone = time.monotonic()
        first.stop()
        deadline = time.monotonic() + 10
        while not any(s[0] == "stream_lost" for s in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        lost = [s for s in seen if s[0] == "stream_lost"]
        assert lost and lost[0][1] == "raised" and lost[0][2] - t_gone <= 5.0
        second = Replayer(sim, name, speed=4.0, loop=True, wait_for=None).start()
        deadline = time.monotonic() + 15
        while not any(s[:2] == ("stream_lost", "cleared") for s in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ("stream_lost", "cleared") in [s[:2] for s in seen]
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(30)
        first.stop()
        if second is not None:
            second.stop()
    assert source.reconnections == 1
    table = pd.read_csv(tmp_path / "alarms.tsv", sep="\t")
    assert "stream_lost" in set(table["type"])
    rec = mne.io.read_raw_edf(tmp_path / "recording.edf", verbose="error")
    assert any("reconnected" in d for d in rec.annotations.description)


_BAD_STREAM = """
import sys, time, mne, numpy as np
from dbrain.monitor._lsl import Replayer
kind, name = sys.argv[1], sys.argv[2]
if kind == "rate":
    info = mne.create_info(["Fp1", "Fp2", "C3", "C4"], 32.0, "eeg")
else:
    info = mne.create_info(["X1", "X2", "X3"], 256.0, "misc")
raw = mne.io.RawArray(np.zeros((len(info["ch_names"]), int(60 * info["sfreq"]))), info, verbose="error")
player = Replayer(raw, name, wait_for=None).start()
time.sleep(40)
"""


@pytest.mark.parametrize(("kind", "message"), [("rate", "sampling rate 32 Hz"), ("misc", "no EEG channels")])
def test_bad_stream_one_line_exit_2(kind, message, tmp_path):
    name = _name()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    player = subprocess.Popen([sys.executable, "-c", _BAD_STREAM, kind, name], env=env)
    try:
        cmd = [sys.executable, "-m", "dbrain", "monitor", "--stream", name, "--out", str(tmp_path / "o"), "--timeout", "20"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    finally:
        player.kill()
        player.wait()
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("dbrain: ") and message in lines[0], r.stderr
    assert not (tmp_path / "o").exists()


class _Ward(BaseHTTPRequestHandler):
    posts: list = []
    fail = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Ward.fail > 0:
            _Ward.fail -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Ward.posts.append((self.path, self.headers["Authorization"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_posting_contract_and_retry(sim):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ward)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Ward.posts, _Ward.fail = [], 2  # the first two posts fail: their content is sent again
    try:
        poster = Poster(f"http://127.0.0.1:{server.server_port}", "bed-7", "tok123", "icu-7")
        mon = Monitor(
            stream_info(sim.ch_names, sim.get_channel_types(), 256.0), None, on_alarm=poster.alarm, on_frame=poster.frame
        )
        x = sim.get_data()
        for s in range(0, x.shape[1], 256 * 10):
            mon.push(x[:, s : s + 256 * 10])
            time.sleep(0.25)
        deadline = time.monotonic() + 30  # the two failures back off (2 s, then 4 s) before the post that lands
        while poster.sent == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        poster.close()
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Ward.posts) >= 1 and poster.failed == 2 and poster.refused == 0
    path, auth, body = _Ward.posts[0]
    assert path == "/api/ward/beds/bed-7/updates" and auth == "Bearer tok123"
    assert set(body) == {"stream", "frames", "alarms"} and body["stream"] == "icu-7"
    frames = [f for _, _, b in _Ward.posts for f in b["frames"]]
    f = frames[-1]
    assert set(f) == {"t", "wall", "seizure_probability", "dsa", "strip"}
    assert set(f["dsa"]) == {"freqs", "left", "right"} and len(f["dsa"]["left"]) == len(f["dsa"]["freqs"])
    strip = f["strip"]
    # 256 Hz decimated by 2 after the display filters, which the strip states (docs/monitor.md).
    assert strip["sfreq"] == 128.0 and len(strip["data"]) == len(strip["channels"]) and len(strip["data"][0]) == 128
    assert strip["lff"] == 0.5 and strip["hff"] == 30.0
    assert all(isinstance(v, int) and -32768 <= v <= 32767 for v in strip["data"][0])
    alarms = [a for _, _, b in _Ward.posts for a in b["alarms"]]
    assert {"id", "raised", "type", "onset", "confidence", "channels", "state"} == set(alarms[0])
    sent = [(a["type"], a["state"]) for a in alarms]
    expected = [(a.type, "raised") for a in mon.book.history]
    assert all(e in sent for e in expected)  # nothing lost to the failed posts
    assert [f["t"] for f in frames] == sorted(f["t"] for f in frames)


def test_real_time_replay_through_playerlsl(tmp_path):
    from mne_lsl.player import PlayerLSL

    from dbrain.monitor._lsl import replay

    raw, _ = simulate_eeg(14, seed=2)
    name = _name()
    player = replay(raw, name, speed=1.0)  # 1x: mne-lsl's own player
    assert isinstance(player, PlayerLSL)
    try:
        mon = run_monitor(LslSource(name, timeout=10), tmp_path, name=name, until_end=True)
    finally:
        if player.running:
            player.stop()
    # PlayerLSL does not wait for a receiver: the first second or so may be gone before the monitor connects.
    assert 11.0 <= mon.seconds <= 14.0
    assert not any(a.type == "dropped_samples" for a in mon.book.history)
    assert mne.io.read_raw_edf(tmp_path / "recording.edf", verbose="error").n_times >= int(11 * 256)
