"""The MAT probe child (dbrain.io._matprobe): one long-lived process that contains reader crashes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from dbrain.errors import CorruptRecordingError
from dbrain.io import read_recording
from dbrain.io._matprobe import MatProbe

SEGV = Path(__file__).parents[2] / "tests" / "fuzz_corpus" / "read_eeglab" / "segv-66c472bb2cd0.bin"


@pytest.fixture
def eeglab_set(shared_data):
    path = shared_data / "formats" / "mne-testing-data" / "EEGLAB" / "test_raw_event_duration.set"
    if not path.is_file():
        pytest.skip("test_raw_event_duration.set not found")
    return path


def test_probe_child_is_reused(eeglab_set):
    probe = MatProbe()
    try:
        probe.probe(eeglab_set)
        pid = probe.pid
        probe.probe(eeglab_set)
        assert probe.pid == pid and probe.starts == 1
    finally:
        probe._stop()


def test_probe_contains_a_segfault_and_restarts(eeglab_set, tmp_path):
    # the fuzzing finding: one bit changed in a real .set kills SciPy's MAT reader with SIGSEGV
    bad = tmp_path / "x.set"
    bad.write_bytes(SEGV.read_bytes())
    probe = MatProbe()
    try:
        probe.probe(eeglab_set)
        with pytest.raises(CorruptRecordingError, match="the MAT-file reader crashed on it: SIGSEGV"):
            probe.probe(bad)
        assert probe.pid is None
        probe.probe(eeglab_set)  # a new child
        assert probe.starts == 2
    finally:
        probe._stop()


def test_probe_restarts_after_being_killed(eeglab_set, tmp_path):
    probe = MatProbe()
    try:
        probe.probe(eeglab_set)
        os.kill(probe.pid, signal.SIGKILL)
        time.sleep(0.2)
        probe.probe(eeglab_set)
        assert probe.starts == 2
    finally:
        probe._stop()


def test_read_recording_refuses_the_crashing_file(tmp_path):
    bad = tmp_path / "x.set"
    bad.write_bytes(SEGV.read_bytes())
    with pytest.raises(CorruptRecordingError, match="SIGSEGV"):
        read_recording(bad)


def test_probe_timeout(tmp_path, monkeypatch):
    # a child that never answers stands for a reader stuck on a hostile file
    probe = MatProbe()
    monkeypatch.setattr("dbrain.io._matprobe._CHILD", "import time, sys\nfor line in sys.stdin:\n    time.sleep(60)\n")
    path = tmp_path / "x.set"
    path.write_bytes(b"MATLAB")
    try:
        with pytest.raises(CorruptRecordingError, match="took more than 0.5 s"):
            probe.probe(path, seconds=0.5)
        assert probe.pid is None
    finally:
        probe._stop()
