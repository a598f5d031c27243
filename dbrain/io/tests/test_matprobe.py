"""The MAT fork server (dbrain.io._matprobe): MAT files are parsed in fresh forks of one long-lived child."""

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


def test_a_segfault_ends_only_the_fork(eeglab_set, tmp_path):
    # the fuzzing finding: one bit changed in a real .set kills SciPy's MAT reader with SIGSEGV
    bad = tmp_path / "x.set"
    bad.write_bytes(SEGV.read_bytes())
    probe = MatProbe()
    try:
        probe.probe(eeglab_set)
        pid = probe.pid
        for _ in range(3):  # the campaign's finding: the second parse of this file killed dbrain's process
            with pytest.raises(CorruptRecordingError, match="the MAT-file reader crashed on it: SIG(SEGV|BUS)"):
                probe.probe(bad)
        # only the fork that parsed it died; the server goes on and still parses good files
        assert probe.pid == pid and probe.starts == 1
        mat = probe.load(eeglab_set, preload=True)
        assert mat["EEG"]["srate"] == 128 and mat["EEG"]["data"].shape == (513,)
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
    monkeypatch.setattr("dbrain.io._matprobe._SERVER", "import time, sys\nfor line in sys.stdin:\n    time.sleep(60)\n")
    path = tmp_path / "x.set"
    path.write_bytes(b"MATLAB")
    try:
        with pytest.raises(CorruptRecordingError, match="took more than 0.5 s"):
            probe.probe(path, seconds=0.5)
        assert probe.pid is None
    finally:
        probe._stop()


def test_python_errors_keep_their_message(tmp_path):
    from dbrain.io._matprobe import MatFileError

    path = tmp_path / "x.set"
    path.write_bytes(b"not a MAT file at all" * 10)
    probe = MatProbe()
    try:
        with pytest.raises(MatFileError) as info:
            probe.probe(path)
        assert str(info.value)
    finally:
        probe._stop()


def test_mne_reads_mat_through_the_server(eeglab_set):
    """dbrain's process never parses a MAT file: MNE's EEGLAB reader gets it from the fork server."""
    import mne

    from dbrain.io import _matprobe

    raw, _ = read_recording(eeglab_set)
    assert mne.io.eeglab.eeglab._readmat is _matprobe._readmat
    assert _matprobe._PROBE.pid is not None and _matprobe._PROBE.pid != os.getpid()
    direct = mne.io.read_raw_eeglab(eeglab_set, preload=True)
    assert raw.get_data().shape == direct.get_data().shape


def test_a_huge_allocation_is_refused_at_once(tmp_path):
    # fuzzing (session 7): 1.5 kB that make SciPy allocate a 15.8-GiB array; the fork's address space is
    # limited, so the allocation fails at once instead of filling the machine's memory
    bad = tmp_path / "x.set"
    bad.write_bytes((SEGV.parent / "memory-f5f9173b1484.bin").read_bytes())
    t0 = time.monotonic()
    with pytest.raises(CorruptRecordingError, match="allocate"):
        read_recording(bad)
    assert time.monotonic() - t0 < 10
