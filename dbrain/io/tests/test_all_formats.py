"""Every EEG raw file under ../shared/data/formats reads, or fails with its documented reason."""

from __future__ import annotations

import pytest

from dbrain.errors import DbrainError
from dbrain.io import read_recording
from dbrain.io._read import _HINTS, _READERS, _extension

# Files that are not readable recordings, with the reason dbrain gives.
KNOWN = {
    "eeglab-sample-data/sample_data/test_data/testmff.mff": "invalid literal for int()",  # mffpy cannot parse this EEGLAB export
    "eeglab-sample-data/sample_data/test_data/test.cnt": "not a readable Neuroscan CNT file",  # size fits neither 16- nor 32-bit layout
    "mne-testing-data/EEGLAB/test_epochs.set": "holds epochs, not a continuous recording",
    "mne-testing-data/EDF/SC4001EC-Hypnogram.edf": "annotations only",
    "eeglab-sample-data/sample_data/scanned72.dat": "without a Curry header",
    "eeglab-sample-data/sample_data/test_data/testbva.dat": "is BrainVision data; open 'testbva.vhdr'",
    "mne-testing-data/Brainvision/Analyzer_nV_Export.eeg": "open 'Analyzer_nV_Export.vhdr'",
    "mne-testing-data/Brainvision/test_NO.eeg": "open 'test_NO.vhdr'",
    "mne-testing-data/Brainvision/test_VAmp.eeg": "open 'test_VAmp.ahdr'",
    "mne-testing-data/Persyst/sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.dat": "open 'sub-pt1_ses-02",
}


def _candidates(root):
    out = []
    for path in sorted(root.rglob("*")):
        if any(part.lower().endswith(".mff") for part in path.relative_to(root).parts[:-1]):
            continue
        ext = _extension(path)
        if (path.is_dir() and ext == ".mff") or (path.is_file() and ext in _READERS):
            out.append(path)
    return out


def test_every_raw_file_reads(shared_data):
    root = shared_data / "formats"
    candidates = _candidates(root)
    assert len(candidates) > 40
    failures = []
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        try:
            raw, info = read_recording(path)
        except DbrainError as exc:
            expected = KNOWN.get(rel)
            if expected is None or expected not in str(exc):
                failures.append(f"{rel}: {exc}")
            continue
        if rel in KNOWN:
            failures.append(f"{rel}: now reads; remove it from KNOWN")
        assert info.n_channels > 0 and raw.n_times > 0
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("ext", sorted(_HINTS))
def test_side_files_have_hints(tmp_path, ext):
    side = tmp_path / f"x{ext}"
    side.write_bytes(b"whatever")
    with pytest.raises(DbrainError, match=_HINTS[ext].split(";")[0][:20]):
        read_recording(side)
