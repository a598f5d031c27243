"""Tests of dbrain.io.read_recording on real files, constructed EDF+D and corrupt inputs."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from dbrain.errors import CorruptRecordingError, RecordingError, UnsupportedFormatError
from dbrain.io import read_edf_header, read_recording, write_edf

from ._edfbuild import build_edf

# One real file per format under ../shared/data/formats (relative paths).
FORMAT_FILES = {
    "EDF": "eeglab-sample-data/sample_data/test_data/test.edf",
    "EDF+C": "mne-testing-data/EDF/test_generator_2.edf",
    "EDF+D": "mne-testing-data/NihonKohden/MB0400FU.EDF",
    "BDF": "eeglab-sample-data/sample_data/test_data/test.bdf",
    "BDF+C": "mne-testing-data/BDF/multiple_annotation_chans.bdf",
    "BrainVision": "eeglab-sample-data/sample_data/test_data/testbva.vhdr",
    "EEGLAB": "eeglab-sample-data/sample_data/eeglab_data.set",
    "EEGLAB-onefile": "mne-testing-data/EEGLAB/test_raw_2021.set",
    "EEGLAB-hdf5": "mne-testing-data/EEGLAB/test_raw_hdf5.set",
    "Nihon Kohden": "mne-testing-data/NihonKohden/MB0400FU.EEG",
    "GDF": "mne-testing-data/GDF/test_1ch.gdf",
    "Neuroscan CNT": "mne-testing-data/CNT/scan41_short.cnt",
    "Persyst": "mne-testing-data/Persyst/sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.lay",
    "Curry": "mne-testing-data/curry/test_bdf_stim_channel Curry 8.cdt",
    "XDF": "eeglab-sample-data/sample_data/test_data/test.xdf",
    "BIDS": "eeglab-sample-data/sample_data/test_data/BIDS_test",
}
# Formats whose samples sit apart from the header; the others (one-file EEGLAB, XDF) load whole.
LAZY = {"EDF", "EDF+C", "EDF+D", "BDF", "BDF+C", "BrainVision", "EEGLAB", "Nihon Kohden", "GDF", "Persyst", "BIDS"}


@pytest.mark.parametrize("fmt", sorted(FORMAT_FILES))
def test_reads_every_format(shared_data, fmt):
    raw, info = read_recording(shared_data / "formats" / FORMAT_FILES[fmt])
    assert raw.n_times > 0 and info.duration > 0
    assert info.n_channels == len(raw.ch_names) == len(info.channels)
    assert list(info.channels["name"]) == raw.ch_names
    if fmt in LAZY:
        assert not raw.preload, "readers must be lazy where the format allows"
    data = raw.get_data(start=0, stop=min(raw.n_times, 100))
    assert np.isfinite(data).all()


def test_fif_roundtrip(tmp_path, shared_data):
    raw, _ = read_recording(shared_data / "formats/eeglab-sample-data/sample_data/test_data/test.edf")
    raw.load_data(verbose="error").save(tmp_path / "x_raw.fif", verbose="error")
    back, info = read_recording(tmp_path / "x_raw.fif")
    assert info.format == "FIF"
    np.testing.assert_allclose(back.get_data(), raw.get_data())


def test_edf_info_and_mapping(shared_data):
    raw, info = read_recording(shared_data / "formats/eeglab-sample-data/sample_data/test_data/test.edf")
    assert info.format == "EDF" and info.sfreq == 256 and info.duration == 60
    assert {"T7", "T8", "P7", "P8"} <= set(raw.ch_names)  # T3/T4/T5/T6 in the file
    assert info.start_time.year == 1997
    assert info.header["n_records"] == 60 and info.header["record_duration"] == 1.0


def test_mixed_sampling_rates_real(shared_data):
    raw, info = read_recording(shared_data / "formats/mne-testing-data/EDF/test_reduced.edf")
    assert len(set(info.sampling_rates.values())) > 5
    assert info.sfreq == max(info.sampling_rates.values())


def test_mixed_sampling_rates_eeg_and_spo2(tmp_path):
    fs, n_sec = 256, 20
    t = np.arange(fs * n_sec) / fs
    eeg = 50 * np.sin(2 * np.pi * 10 * t)
    spo2 = np.linspace(90, 99, n_sec)
    path = build_edf(tmp_path / "mixed.edf", ["EEG Fp1-REF", "SpO2"], [eeg, spo2], [fs, 1])
    raw, info = read_recording(path)
    assert info.sampling_rates == {"Fp1": 256.0, "SpO2": 1.0}
    assert dict(zip(raw.ch_names, raw.get_channel_types(), strict=True)) == {"Fp1": "eeg", "SpO2": "bio"}
    assert raw.n_times == fs * n_sec
    np.testing.assert_allclose(raw.get_data(picks="Fp1")[0] * 1e6, eeg, atol=0.2)


def test_edf_plus_d_keeps_gaps(tmp_path):
    """Records at 0-3 s, then a 5 s gap, then 8-10 s: times after the gap stay true."""
    fs = 100
    onsets = [0, 1, 2, 8, 9]
    # Each record carries its own true start time as a DC level, so misplacement shows.
    data = np.concatenate([np.full(fs, 10.0 * o) for o in onsets])
    path = build_edf(
        tmp_path / "gapped.edf",
        ["EEG Cz-REF"],
        [data],
        [fs],
        record_onsets=onsets,
        annotations=[(8.5, 0, "after gap"), (1.5, 0, "before gap")],
    )
    assert read_edf_header(path).discontinuous
    raw, info = read_recording(path)
    assert info.format == "EDF+D"
    assert info.discontinuities == [(3.0, 5.0)]
    assert info.duration == pytest.approx(10.0)
    x = raw.get_data()[0] * 1e6
    for onset in onsets:  # the level recorded at time t is found at time t
        assert x[int((onset + 0.5) * fs)] == pytest.approx(10.0 * onset, abs=0.2)
    assert np.all(x[3 * fs : 8 * fs] == 0)  # the gap is empty, not filled with later data
    ann = {d: o for d, o in zip(raw.annotations.description, raw.annotations.onset, strict=True)}
    assert ann["after gap"] == pytest.approx(8.5) and ann["before gap"] == pytest.approx(1.5)
    gap = [
        (o, d)
        for o, d, desc in zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description, strict=True)
        if desc == "BAD_ACQ_SKIP"
    ]
    assert gap == [(pytest.approx(3.0), pytest.approx(5.0))]
    assert info.n_annotations == 2
    # MNE alone puts the 8 s record at 3 s: the bug this works around.
    mne_raw = mne.io.read_raw_edf(path, verbose="error")
    assert mne_raw.n_times == 5 * fs


def test_edf_plus_d_crop_and_pick_stay_lazy(tmp_path):
    fs = 50
    onsets = [0, 1, 5, 6]
    data = [np.concatenate([np.full(fs, float(o)) for o in onsets]) for _ in range(2)]
    path = build_edf(tmp_path / "g2.edf", ["EEG C3-REF", "EEG C4-REF"], data, [fs, fs], record_onsets=onsets)
    raw, _ = read_recording(path)
    assert not raw.preload
    part = raw.copy().pick(["C4"]).crop(4.5, 6.5).get_data()[0] * 1e6
    np.testing.assert_allclose(part[: fs // 2], 0, atol=0.1)
    np.testing.assert_allclose(part[fs // 2 : fs // 2 + fs], 5, atol=0.1)


def test_edf_plus_d_contiguous_is_unchanged(shared_data):
    raw, info = read_recording(shared_data / "formats/mne-testing-data/NihonKohden/MB0400FU.EDF")
    assert info.format == "EDF+D" and info.discontinuities == []


def test_write_edf_roundtrip(tmp_path, shared_data):
    raw, info = read_recording(shared_data / "formats/eeglab-sample-data/sample_data/eeglab_data.set")
    out = write_edf(raw, tmp_path / "out.edf")
    back, binfo = read_recording(out)
    assert back.ch_names == raw.ch_names
    assert binfo.format == "EDF+C"
    np.testing.assert_allclose(back.get_data(), raw.get_data(), atol=2e-7)  # 16-bit quantisation
    assert len(back.annotations) == len(raw.annotations)
    np.testing.assert_allclose(back.annotations.onset, raw.annotations.onset, atol=1e-3)


# --- corrupt and wrong inputs -------------------------------------------------------------


def _good(tmp_path) -> Path:
    fs = 128
    return build_edf(tmp_path / "good.edf", ["EEG Fp1-REF", "EEG Fp2-REF"], [np.zeros(fs * 4)] * 2, [fs, fs])


def test_good_file_reads(tmp_path):
    raw, info = read_recording(_good(tmp_path))
    assert raw.ch_names == ["Fp1", "Fp2"]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p, g: p.write_bytes(b""), "empty"),
        (lambda p, g: p.write_bytes(g.read_bytes()[:100]), "inside the 256-byte EDF header"),
        (lambda p, g: p.write_bytes(g.read_bytes()[:400]), "header declares 3 signals but the file ends at byte 400"),
        (lambda p, g: p.write_bytes(g.read_bytes()[:-300]), "holds only 3"),
        (lambda p, g: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not an EDF or BDF file"),
    ],
    ids=["zero-bytes", "header-truncated", "signal-headers-truncated", "records-truncated", "random-bytes"],
)
def test_corrupt_edf(tmp_path, make, match):
    good = _good(tmp_path)
    bad = tmp_path / "bad.edf"
    make(bad, good)
    with pytest.raises(CorruptRecordingError, match=match):
        read_recording(bad)


def test_more_samples_declared_than_present(tmp_path):
    fs = 128
    path = build_edf(tmp_path / "x.edf", ["EEG Cz-REF"], [np.zeros(fs * 4)], [fs], n_records_field=40)
    with pytest.raises(CorruptRecordingError, match="header declares 40 data records"):
        read_recording(path)


def test_wrong_header_length(tmp_path):
    fs = 128
    path = build_edf(tmp_path / "x.edf", ["EEG Cz-REF"], [np.zeros(fs * 4)], [fs], header_bytes_field=999)
    with pytest.raises(CorruptRecordingError, match="header-bytes field says 999"):
        read_recording(path)


def test_non_ascii_label(tmp_path):
    fs = 128
    path = build_edf(tmp_path / "x.edf", ["EEG Fp1-REF", "EEG Öz"], [np.zeros(fs * 2)] * 2, [fs, fs])
    with pytest.raises(CorruptRecordingError, match="signal 2 label contains non-ASCII"):
        read_recording(path)


def test_duplicate_channel_names(tmp_path):
    fs = 128
    path = build_edf(tmp_path / "x.edf", ["EEG Fp1-REF", "EEG Fp1-REF"], [np.zeros(fs * 2)] * 2, [fs, fs])
    with pytest.raises(CorruptRecordingError, match="duplicate channel label 'EEG Fp1-REF'"):
        read_recording(path)


def test_wrong_extension(tmp_path, shared_data):
    fake = tmp_path / "really_edf.vhdr"
    fake.write_bytes((shared_data / "formats/eeglab-sample-data/sample_data/test_data/test.edf").read_bytes())
    with pytest.raises(CorruptRecordingError, match="really_edf.vhdr"):
        read_recording(fake)
    odd = tmp_path / "x.xyz"
    odd.write_bytes(b"abc")
    with pytest.raises(UnsupportedFormatError, match="unknown file type '.xyz'"):
        read_recording(odd)


def test_side_file_hint(shared_data):
    with pytest.raises(UnsupportedFormatError, match="open the matching .vhdr"):
        read_recording(shared_data / "formats/eeglab-sample-data/sample_data/test_data/testbva.vmrk")


def test_directory_and_missing(tmp_path):
    with pytest.raises(RecordingError, match="is a directory"):
        read_recording(tmp_path)
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "nope.edf")


def test_annotation_only_edf(shared_data):
    with pytest.raises(CorruptRecordingError, match="annotations only"):
        read_recording(shared_data / "formats/mne-testing-data/EDF/SC4001EC-Hypnogram.edf")


def test_random_bytes_in_other_formats(tmp_path):
    rng = np.random.default_rng(1)
    for ext in (".set", ".vhdr", ".fif", ".cnt", ".gdf", ".EEG", ".lay"):
        bad = tmp_path / f"random{ext}"
        bad.write_bytes(rng.bytes(4096))
        with pytest.raises(CorruptRecordingError, match=f"cannot read 'random{ext}'"):
            read_recording(bad)
