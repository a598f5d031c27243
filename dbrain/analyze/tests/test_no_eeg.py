"""An analysis that finds no usable EEG channel fails with the reason (issue #15 item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dbrain.analyze import analyze
from dbrain.analyze._pipeline import usable_eeg_problem
from dbrain.errors import RecordingError


def _relabel(src: Path, dst: Path, labels) -> None:
    data = bytearray(src.read_bytes())
    ns = int(data[252:256])
    for i in range(ns):
        if data[256 + 16 * i : 272 + 16 * i].strip() != b"EDF Annotations":
            data[256 + 16 * i : 272 + 16 * i] = labels(i).encode().ljust(16)
    dst.write_bytes(bytes(data))


def _flatten(src: Path, dst: Path) -> None:
    """Every data signal constant (digital 0); annotations kept."""
    data = bytearray(src.read_bytes())
    ns, hb = int(data[252:256]), int(data[184:192])
    labels = [data[256 + 16 * i : 272 + 16 * i].strip() for i in range(ns)]
    spr = [int(data[256 + 216 * ns + 8 * i : 264 + 216 * ns + 8 * i]) for i in range(ns)]
    offsets = np.concatenate([[0], np.cumsum(spr)]) * 2
    rec = int(offsets[-1])
    for r in range((len(data) - hb) // rec):
        for i in range(ns):
            if labels[i] != b"EDF Annotations":
                a = hb + r * rec + int(offsets[i])
                data[a : a + 2 * spr[i]] = bytes(2 * spr[i])
    dst.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    from dbrain.simulate import write_simulated_edf

    path, _ = write_simulated_edf(tmp_path_factory.mktemp("sim") / "sim.edf", 20, seed=2)
    return path


@pytest.fixture
def no_eeg(sim, tmp_path) -> Path:
    out = tmp_path / "no_eeg.edf"
    _relabel(sim, out, lambda i: f"EMG{i + 1}")
    return out


def test_no_eeg_channel_fails_before_writing(no_eeg, tmp_path):
    out = tmp_path / "results"
    with pytest.raises(RecordingError, match=r"no usable EEG channel in 'no_eeg.edf': none of its 2\d channels \(EMG1"):
        analyze(no_eeg, out, ledger=False)
    assert not out.exists()


def test_flat_eeg_fails(sim, tmp_path):
    flat = tmp_path / "flat.edf"
    _flatten(sim, flat)
    with pytest.raises(RecordingError, match=r"all 19 EEG channels are flat"):
        analyze(flat, tmp_path / "results", ledger=False)
    assert not (tmp_path / "results").exists()


def test_problem_is_none_for_a_normal_recording(sim):
    from dbrain.io import read_recording

    raw, _ = read_recording(sim)
    assert usable_eeg_problem(raw) is None


def test_cli_exit_2_one_line_no_output(no_eeg, tmp_path):
    out = tmp_path / "results"
    r = subprocess.run(
        [sys.executable, "-m", "dbrain", "analyze", str(no_eeg), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("dbrain: no usable EEG channel in 'no_eeg.edf'"), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
