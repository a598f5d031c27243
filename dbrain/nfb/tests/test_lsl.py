"""A live LSL source: mne-lsl's player replays a recording, the session receives it over loopback."""

import uuid

import mne
import numpy as np
import pytest

from dbrain.errors import ParameterError
from dbrain.nfb import run_session
from dbrain.simulate import simulate_eeg


def test_lsl_session(tmp_path):
    from mne_lsl.player import PlayerLSL

    raw, _ = simulate_eeg(60, seed=3, ekg=False)
    name = f"dbrain-nfb-test-{uuid.uuid4().hex[:10]}"  # unique: tests may run in parallel on one machine
    values = []
    player = PlayerLSL(raw, chunk_size=8, name=name).start()
    try:
        res = run_session("theta-beta", f"lsl:{name}", minutes=0.25, out_dir=tmp_path, on_feedback=values.append)
    finally:
        player.stop()
    s = res.summary
    assert s["source"] == f"lsl:{name}" and s["ended"] == "completed" and s["duration_s"] == 15
    assert s["n_updates"] == 4 * 15 - 7 == len(values)
    assert s["latency_ms_p95"] < 50
    # the samples received are the player's (in volts), in order: find them in the replayed recording
    got = mne.io.read_raw_fif(tmp_path / "signal_raw.fif", verbose="error").get_data()
    sent = raw.get_data()
    assert got.shape == (19, 15 * 256)
    loop = np.concatenate([sent, sent], axis=1)  # the player loops
    starts = [k for k in range(sent.shape[1]) if np.allclose(loop[:, k : k + 4], got[:, :4], rtol=1e-6, atol=1e-12)]
    assert len(starts) == 1
    seg = loop[:, starts[0] : starts[0] + got.shape[1]]
    np.testing.assert_allclose(got, seg, rtol=1e-6, atol=1e-12)  # float32 on the wire


def test_lsl_stream_not_found(tmp_path):
    with pytest.raises(ParameterError, match="no LSL stream named 'dbrain-absent-"):
        run_session("theta-beta", f"lsl:dbrain-absent-{uuid.uuid4().hex[:8]}", minutes=1, out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_brainflow_synthetic_board(tmp_path):
    """BrainFlow's synthetic board, live (wall clock): 16 named EEG channels, no Fp1/Fp2 -> blink falls back to F7/F8."""
    pytest.importorskip("brainflow")
    values = []
    res = run_session("theta-beta", "brainflow:synthetic", minutes=0.1, out_dir=tmp_path, on_feedback=values.append, record=False)
    s = res.summary
    assert s["source"] == "brainflow:synthetic" and s["sfreq"] == 250 and s["ended"] == "completed"
    assert s["reward_channel"] == "Cz" and s["inhibit_channels"]["blink"] == ["F7", "F8"]
    assert s["n_updates"] == len(values) == 4 * 6 - 7
    assert s["latency_ms_p95"] < 50
    with pytest.raises(ParameterError, match="brainflow board must be"):
        run_session("theta-beta", "brainflow:nonsense", minutes=0.1, out_dir=tmp_path / "x")
