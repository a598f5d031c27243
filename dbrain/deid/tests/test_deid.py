"""Tests of dbrain.deid and the ``dbrain deidentify`` command."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from dbrain.conftest import SHARED_DATA
from dbrain.deid import DeidReport, _deid, deidentify, find_phi, phi_strings
from dbrain.deid._redact import Redactor, name_spans
from dbrain.deid._tal import text_spans
from dbrain.errors import (
    CorruptRecordingError,
    DbrainError,
    OutputError,
    ParameterError,
    RecordingError,
    UnsupportedFormatError,
)

# --------------------------------------------------------------------------- helpers


def _real_files() -> list[str]:
    if not SHARED_DATA.is_dir():
        return ["(shared data absent)"]
    files = [p for p in SHARED_DATA.rglob("*") if p.is_file() and p.suffix.lower() in (".edf", ".bdf")]
    return sorted(str(p.relative_to(SHARED_DATA)) for p in files)


def _read_raw(path: Path):
    import mne

    reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inputs such as test.bdf (-1 records) make MNE warn
        return reader(path, preload=True, verbose="error")


def _state(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _layout(data: bytes):
    """(header bytes, record bytes, n records, [(offset, length) of annotation signals])."""
    ns = int(data[252:256])
    hb = int(data[184:192])
    bps = 3 if data[:1] == b"\xff" else 2
    labels = [data[256 + 16 * i : 272 + 16 * i].strip() for i in range(ns)]
    spr = [int(data[256 + 216 * ns + 8 * i : 264 + 216 * ns + 8 * i]) for i in range(ns)]
    offsets = np.concatenate([[0], np.cumsum(spr)]) * bps
    ann = [(int(offsets[i]), spr[i] * bps) for i in range(ns) if labels[i] in (b"EDF Annotations", b"BDF Annotations")]
    rec = int(offsets[-1])
    return hb, rec, (len(data) - hb) // rec, ann


def _signal_bytes(data: bytes) -> np.ndarray:
    """The data records with annotation blocks zeroed: what must be copied unchanged."""
    hb, rec, n, ann = _layout(data)
    records = np.frombuffer(data[hb : hb + n * rec], np.uint8).reshape(n, rec).copy()
    for offset, length in ann:
        records[:, offset : offset + length] = 0
    return records


def _no_leftovers(folder: Path):
    assert not [p.name for p in folder.iterdir() if ".partial" in p.name]


def _edfio_file(path: Path, annotations, *, name="Jane_Doe-Smith", hospital="St_Mary_Hospital", n_seconds=10):
    import edfio

    rng = np.random.default_rng(0)
    signals = [
        edfio.EdfSignal(
            rng.normal(0, 50, 256 * n_seconds),
            256,
            label=label,
            physical_dimension="uV",
            physical_range=(-500, 500),
            transducer_type="AgAgCl electrode",
        )
        for label in ("Fp1", "Fp2", "C3")
    ]
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(code="MRN-4455667", sex="F", birthdate=dt.date(1961, 3, 2), name=name),
        recording=edfio.Recording(
            startdate=dt.date(2020, 5, 17),
            hospital_administration_code=hospital,
            investigator_technician_code="Tech_Robertson",
            equipment_code="NeuroAmp-X9",
        ),
        starttime=dt.time(10, 11, 12),
        annotations=[edfio.EdfAnnotation(onset, None, text) for onset, text in annotations],
    )
    edf.write(path)
    return path


def _build(
    path: Path,
    *,
    bdf=False,
    patient=b"X X X X",
    recording=b"Startdate X X X X",
    startdate=b"17.05.20",
    reserved=None,
    n_records=3,
    n_records_field=None,
    tals=(),
    ann_bytes=60,
    transducer=b"",
    sig_reserved=b"",
):
    """Write a small EDF(+)/BDF(+) by hand: two signals of 8 samples and an annotation signal."""
    bps = 3 if bdf else 2
    plus = bool(tals)
    if reserved is None:
        reserved = (b"BDF+C" if bdf else b"EDF+C") if plus else (b"24BIT" if bdf else b"")
    labels = [b"C3", b"C4"] + ([b"BDF Annotations" if bdf else b"EDF Annotations"] if plus else [])
    ns = len(labels)
    spr = [8, 8] + ([ann_bytes // bps] if plus else [])
    cols = [
        [lab.ljust(16) for lab in labels],
        [transducer.ljust(80)] * 2 + [b" " * 80] * plus,
        [b"uV".ljust(8)] * 2 + [b" " * 8] * plus,
        [b"-500".ljust(8)] * ns,
        [b"500".ljust(8)] * ns,
        [(b"-8388608" if bdf else b"-32768").ljust(8)] * ns,
        [(b"8388607" if bdf else b"32767").ljust(8)] * ns,
        [b" " * 80] * ns,
        [str(s).encode().ljust(8) for s in spr],
        [sig_reserved.ljust(32)] * ns,
    ]
    main = (
        (b"\xffBIOSEMI" if bdf else b"0       ")
        + patient.ljust(80)
        + recording.ljust(80)
        + startdate
        + b"10.11.12"
        + str(256 * (ns + 1)).encode().ljust(8)
        + reserved.ljust(44)
        + (n_records_field or str(n_records).encode()).ljust(8)
        + b"1".ljust(8)
        + str(ns).encode().ljust(4)
    )
    rng = np.random.default_rng(1)
    records = []
    for r in range(n_records):
        rec = rng.integers(0, 256, 16 * bps, dtype=np.uint8).tobytes()
        if plus:
            block = f"+{r}\x14\x14\x00".encode() + b"".join(t for rr, t in tals if rr == r)
            assert len(block) <= ann_bytes
            rec += block.ljust(ann_bytes, b"\x00")
        records.append(rec)
    path.write_bytes(main + b"".join(b"".join(c) for c in cols) + b"".join(records))
    return path


# --------------------------------------------------------------------------- real recordings


@pytest.mark.parametrize("relpath", _real_files(), ids=lambda p: Path(p).name)
def test_real_recording(shared_data, tmp_path, relpath):
    """Every EDF/BDF under shared/data: no PHI left, input untouched, same signals and annotations."""
    src = shared_data / relpath
    out = tmp_path / f"deid{src.suffix.lower()}"
    before = _state(src)
    phi = phi_strings(src)
    report = deidentify(src, out)
    assert _state(src) == before
    assert isinstance(report, DeidReport) and report.out_path == out
    assert find_phi(out, phi) == []
    a, b = src.read_bytes(), out.read_bytes()
    assert b[8:88].rstrip() == b"X X X X"
    assert b[88:98] == b"Startdate "
    assert np.array_equal(_signal_bytes(a), _signal_bytes(b))
    if not report.annotations_redacted:
        assert a[_layout(a)[0] :] == b[_layout(b)[0] :]
    raw_a, raw_b = _read_raw(src), _read_raw(out)
    assert raw_b.n_times == raw_a.n_times
    assert raw_b.ch_names == raw_a.ch_names
    if raw_a.ch_names:
        assert np.array_equal(raw_a.get_data(), raw_b.get_data())
    assert len(raw_b.annotations) == len(raw_a.annotations)
    np.testing.assert_allclose(raw_b.annotations.onset, raw_a.annotations.onset)
    np.testing.assert_allclose(raw_b.annotations.duration, raw_a.annotations.duration)
    assert raw_b.info["meas_date"] == raw_a.info["meas_date"]
    _no_leftovers(tmp_path)


# --------------------------------------------------------------------------- synthetic PHI

_ANNOTATIONS = [
    (1.0, "Dr. Miller entered room"),
    (2.0, "Jane called nurse"),
    (3.0, "Eyes Closed"),
    (4.0, "Seizure onset"),
    (5.0, "Photic Stimulation"),
    (5.5, "JANE DOE-SMITH awake"),
    (6.0, "Patient name: Jane Doe, eyes open"),
    (7.0, "John Smith visited"),
    (8.0, "Sleep Stage W"),
    (8.5, "Hyperventilation"),
    (9.0, "Mrs O'Brien at bedside"),
]
_KEPT = {"Eyes Closed", "Seizure onset", "Photic Stimulation", "Sleep Stage W", "Hyperventilation"}
_EXPECTED = {
    "Dr. Miller entered room": "Dr. [REDACTED] entered room",
    "Jane called nurse": "[REDACTED] called nurse",
    "JANE DOE-SMITH awake": "[REDACTED] awake",
    "Patient name: Jane Doe, eyes open": "Patient name: [REDACTED], eyes open",
    "John Smith visited": "[REDACTED] visited",
    "Mrs O'Brien at bedside": "Mrs [REDACTED] at bedside",
}


def test_phi_strings_definition(tmp_path):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS)
    phi = phi_strings(src)
    for expected in (
        b"MRN-4455667",
        b"Jane_Doe-Smith",
        b"Jane Doe-Smith",
        b"Jane",
        b"Doe",
        b"Smith",
        b"02-MAR-1961",
        b"1961-03-02",
        b"St_Mary_Hospital",
        b"Mary",
        b"Tech_Robertson",
        b"Robertson",
        b"NeuroAmp-X9",
    ):
        assert expected in phi, expected
    # single letters, placeholders, generic institution words and the start date are not PHI
    for absent in (b"F", b"X", b"Hospital", b"17-MAY-2020", b"Startdate", b"Tech"):
        assert absent not in phi, absent


def test_synthetic_edf_plus(tmp_path):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS)
    out = tmp_path / "out.edf"
    before = _state(src)
    phi = phi_strings(src)
    assert find_phi(src, phi)  # the check finds what is there
    report = deidentify(src, out)
    assert _state(src) == before
    assert find_phi(out, phi) == []
    data = out.read_bytes()
    for p in phi:
        assert p.lower() not in data[:256].lower()
    assert data[8:88].rstrip() == b"X X X X"
    assert data[88:168].rstrip() == b"Startdate 17-MAY-2020 X X X"
    assert data[168:184] == b"17.05.2010.11.12"
    assert data[192:236].rstrip() == b"EDF+C"
    raw_in, raw_out = _read_raw(src), _read_raw(out)
    assert np.array_equal(raw_in.get_data(), raw_out.get_data())
    assert np.array_equal(_signal_bytes(src.read_bytes()), _signal_bytes(data))
    got = dict(zip(raw_in.annotations.description, raw_out.annotations.description, strict=True))
    for text in _KEPT:
        assert got[text] == text
    for text, expected in _EXPECTED.items():
        assert got[text] == expected
    np.testing.assert_allclose(raw_out.annotations.onset, raw_in.annotations.onset)
    assert report.annotations_redacted == len(_EXPECTED)
    assert report.annotations_total == len(_ANNOTATIONS)
    assert set(report.redactions) == {"header", "title", "label", "name"}
    assert {"patient", "recording"} <= set(report.fields_cleared)
    assert report.date_shifted is None and not report.date_removed and report.start_date == "2020-05-17"
    # the summary counts, it does not repeat PHI
    assert "Jane" not in report.summary() and "Miller" not in report.summary()


def test_signal_header_scrubbed(tmp_path):
    src = _build(
        tmp_path / "in.edf",
        patient=b"P-123456 M 01-JAN-1990 Robert_Paulsen",
        recording=b"Startdate 17-MAY-2020 Hope_Clinic Tech_Lee Amp-77",
        transducer=b"electrode for Paulsen",
        sig_reserved=b"note: Hope_Clinic",
        tals=[(0, b"+0.5\x14ok\x14\x00")],
    )
    report = deidentify(src, tmp_path / "out.edf")
    assert find_phi(tmp_path / "out.edf", phi_strings(src)) == []
    assert report.signal_fields_scrubbed == 2 + 3  # two transducers, three reserved fields
    data = (tmp_path / "out.edf").read_bytes()
    assert b"electrode for XXXXXXX" in data
    assert "signal headers" in report.fields_cleared


def test_plain_edf_free_text(tmp_path):
    src = _build(tmp_path / "in.edf", patient=b"Hans Mueller 1970 ward 7", recording=b"Klinikum Nordstadt EEG lab 3")
    phi = phi_strings(src)
    assert {b"Hans", b"Mueller", b"Klinikum", b"Nordstadt"} <= phi
    report = deidentify(src, tmp_path / "out.edf")
    data = (tmp_path / "out.edf").read_bytes()
    assert data[8:168].split() == [b"X", b"X", b"X", b"X", b"Startdate", b"X", b"X", b"X", b"X"]
    assert data[192:236].strip() == b""
    assert find_phi(tmp_path / "out.edf", phi) == []
    assert report.format == "EDF"


def test_bdf_plus_with_unknown_record_count(tmp_path):
    tals = [(1, b"+1.2\x14Dr Watson here\x14\x00"), (2, b"+2.2\x15\x31\x14Ada Byron\x14\x00")]
    src = _build(
        tmp_path / "in.bdf",
        bdf=True,
        patient=b"ID-98765 F 10-DEC-1815 Ada_Byron",
        recording=b"Startdate 17-MAY-2020 X Lovelace_Lab BioSemi_ActiveTwo extra_field",
        tals=tals,
        ann_bytes=60,
        n_records_field=b"-1",
    )
    out = tmp_path / "out.bdf"
    report = deidentify(src, out)
    data = out.read_bytes()
    assert data[236:244].strip() == b"3" and report.n_records == 3
    assert data[88:168].rstrip() == b"Startdate 17-MAY-2020 X X X"
    assert data[192:236].rstrip() == b"BDF+C"
    assert find_phi(out, phi_strings(src)) == []
    raw = _read_raw(out)
    assert list(raw.annotations.description) == ["Dr [REDACTED] here", "[REDACTED]"]
    assert np.array_equal(_signal_bytes(src.read_bytes()), _signal_bytes(data))
    assert report.annotations_redacted == 2


def test_non_ascii_name_in_either_encoding(tmp_path):
    tals = [(0, b"+0.5\x14Jos\xe9 arrived\x14\x00"), (1, b"+1.5\x14Garc\xc3\xada (utf-8)\x14\x00")]
    src = _build(tmp_path / "in.edf", patient=b"X X X Jos\xe9_Garc\xeda", tals=tals, ann_bytes=80)
    phi = phi_strings(src)
    assert {b"Jos\xe9", b"Garc\xeda", b"Garc\xc3\xada"} <= phi
    report = deidentify(src, tmp_path / "out.edf")
    assert report.annotations_redacted == 2
    assert find_phi(tmp_path / "out.edf", phi) == []


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Dr. Miller entered room", "Miller"),
        ("Mr Jones", "Jones"),
        ("Ms McDonald arrived", "McDonald"),
        ("John Smith visited", "John Smith"),
        ("Jane Eyes Closed", "Jane"),  # the non-clinical word of a capitalised run
        ("Pt name: AB", "AB"),
        ("DOB: 01-02-1990", "01-02-1990"),
        ("Eyes Open", None),
        ("Eyes Closed", None),
        ("Photic Stimulation 10 Hz", None),
        ("Seizure Onset", None),
        ("Sleep Stage W", None),
        ("Movement Time", None),
        ("Clip Note", None),
        ("Lights Off", None),
        ("REC START", None),
        ("Segment: REC START LTM+6 EEG", None),
        ("high amp RDA F4, C4", None),
        ("Fp1 Cz electrode pop", None),
        ("Nurse Present", None),
        ("TestStim#1", None),
    ],
)
def test_name_heuristics(text, redacted):
    spans = name_spans(text)
    if redacted is None:
        assert spans == []
    else:
        assert [text[a:b] for a, b, _ in spans] == [redacted]


def test_header_tokens_any_case_and_inside_words():
    red = Redactor({b"Jane", b"Doe", b"Jane_Doe"})
    block = b"+0\x14\x14\x00+1\x14janes toy\x14\x00+2\x14DOE\x14\x00" + b"\x00" * 20
    new = red.block(block)
    assert len(new) == len(block)
    assert b"jane" not in new.lower() and b"doe" not in new.lower()
    assert new.startswith(b"+0\x14\x14\x00+1\x14[REDACTED] toy\x14\x00+2\x14[REDACTED]\x14\x00")
    assert red.texts == 2 and red.texts_redacted == 2


def test_marker_shrinks_to_fit_block():
    red = Redactor(set())
    block = b"+0\x14\x14\x00+1\x14Dr. Li\x14\x00"  # full: no padding to grow into
    new = red.block(block)
    assert len(new) == len(block)
    assert new == b"+0\x14\x14\x00+1\x14Dr. X\x14\x00\x00"
    block = b"+0\x14\x14\x00+1\x14Dr. Lindqvist\x14\x00"
    assert red.block(block) == b"+0\x14\x14\x00+1\x14Dr. [X]\x14\x00".ljust(len(block), b"\x00")
    # one byte of padding after the terminator is room enough for [REDACTED]
    block = b"+0\x14\x14\x00+1\x14Dr. Lindqvist\x14\x00\x00"
    assert red.block(block) == b"+0\x14\x14\x00+1\x14Dr. [REDACTED]\x14\x00"


def test_marker_never_contains_phi():
    red = Redactor({b"Ted"})
    new = red.block(b"+0\x14\x14\x00+1\x14Ted left\x14\x00" + b"\x00" * 20)
    assert b"ted" not in new.lower()
    assert b"[X] left" in new


def test_timekeeping_and_stamps_untouched():
    block = b"+0\x14\x14+0.000000\x14Segment: REC START\x14\x00+12345\x1510\x14\x14"
    spans = [block[a:b] for a, b in text_spans(block)]
    assert b"Segment: REC START" in spans
    assert all(not s.startswith(b"+") for s in spans)
    red = Redactor({b"12345"})
    assert red.block(block) is block


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("days", [10, -3650])
def test_date_shift(tmp_path, days):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS[:2])
    out = tmp_path / "out.edf"
    report = deidentify(src, out, date_shift_days=days)
    new = dt.date(2020, 5, 17) + dt.timedelta(days=days)
    data = out.read_bytes()
    months = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
    assert data[168:176] == f"{new:%d.%m.%y}".encode()
    assert data[88:168].rstrip() == f"Startdate {new.day:02d}-{months[new.month - 1]}-{new.year} X X X".encode()
    assert data[176:184] == b"10.11.12"
    raw_in, raw_out = _read_raw(src), _read_raw(out)
    assert raw_out.info["meas_date"] - raw_in.info["meas_date"] == dt.timedelta(days=days)
    np.testing.assert_allclose(raw_out.annotations.onset, raw_in.annotations.onset)
    assert report.date_shifted == days and report.start_date == new.isoformat()
    assert "startdate" in report.fields_cleared


def test_date_shift_out_of_range(tmp_path):
    src = _edfio_file(tmp_path / "in.edf", [])
    with pytest.raises(ParameterError, match="outside 1985-2084"):
        deidentify(src, tmp_path / "out.edf", date_shift_days=365 * 70)
    assert not (tmp_path / "out.edf").exists()
    _no_leftovers(tmp_path)


def test_remove_date(tmp_path):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS[:1])
    out = tmp_path / "out.edf"
    report = deidentify(src, out, remove_date=True)
    data = out.read_bytes()
    assert data[168:176] == b"01.01.85"
    assert data[88:168].rstrip() == b"Startdate X X X X"
    assert b"2020" not in data[:256] and b".05.20" not in data[:256]
    assert _read_raw(out).info["meas_date"] == dt.datetime(1985, 1, 1, 10, 11, 12, tzinfo=dt.UTC)
    assert report.date_removed and report.start_date is None


def test_date_parameters_checked(tmp_path):
    src = _edfio_file(tmp_path / "in.edf", [])
    with pytest.raises(ParameterError, match="not both"):
        deidentify(src, tmp_path / "o.edf", date_shift_days=3, remove_date=True)
    with pytest.raises(ParameterError, match="date_shift_days"):
        deidentify(src, tmp_path / "o.edf", date_shift_days=True)
    with pytest.raises(ParameterError, match="date_shift_days"):
        deidentify(src, tmp_path / "o.edf", date_shift_days=1.5)
    assert not (tmp_path / "o.edf").exists()


# --------------------------------------------------------------------------- bad input and output


def _corrupt_variants(tmp_path: Path) -> dict[str, Path]:
    good = _edfio_file(tmp_path / "good.edf", _ANNOTATIONS[:2]).read_bytes()
    rng = np.random.default_rng(3)
    variants = {
        "empty": b"",
        "random": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "short header": good[:200],
        "signal headers cut": good[:600],
        "data truncated": good[: len(good) - 1000],
        "bad header size": good[:184] + b"9999    " + good[192:],
        "text in number field": good[:252] + b"ab  " + good[256:],
    }
    paths = {}
    for name, data in variants.items():
        p = tmp_path / f"{name.replace(' ', '_')}.edf"
        p.write_bytes(data)
        paths[name] = p
    return paths


def test_corrupt_inputs(tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    for name, path in _corrupt_variants(tmp_path).items():
        before = _state(path)
        with pytest.raises(CorruptRecordingError) as info:
            deidentify(path, outdir / "x.edf")
        message = str(info.value)
        assert "\n" not in message and path.name in message, (name, message)
        assert _state(path) == before
        assert list(outdir.iterdir()) == [], name


def test_truncated_message_is_precise(tmp_path):
    good = _edfio_file(tmp_path / "good.edf", []).read_bytes()
    bad = tmp_path / "bad.edf"
    bad.write_bytes(good[:700])
    with pytest.raises(CorruptRecordingError, match="declares 4 signals but the file ends at byte 700"):
        deidentify(bad, tmp_path / "out.edf")


def test_unsupported_and_missing(tmp_path):
    vhdr = tmp_path / "rec.vhdr"
    vhdr.write_text("Brain Vision Data Exchange Header File Version 1.0\n")
    with pytest.raises(
        UnsupportedFormatError, match=r"'\.vhdr' files is not supported yet; convert to EDF first with 'dbrain convert'"
    ):
        deidentify(vhdr, tmp_path / "out.edf")
    (tmp_path / "rec.mff").mkdir()
    with pytest.raises(UnsupportedFormatError, match="convert to EDF first"):
        deidentify(tmp_path / "rec.mff", tmp_path / "out.edf")
    with pytest.raises(RecordingError, match="no such file"):
        deidentify(tmp_path / "missing.edf", tmp_path / "out.edf")
    assert not (tmp_path / "out.edf").exists()


def test_edf_content_without_edf_suffix_is_accepted(tmp_path):
    src = _build(tmp_path / "recording.dat", patient=b"A B C Someone_Else")
    deidentify(src, tmp_path / "out.edf")
    assert find_phi(tmp_path / "out.edf", phi_strings(src)) == []


def test_output_checks(tmp_path):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS[:1])
    before = _state(src)
    with pytest.raises(ParameterError, match="is the input"):
        deidentify(src, src, overwrite=True)
    link = tmp_path / "link.edf"
    link.symlink_to(src)
    with pytest.raises(ParameterError, match="is the input"):
        deidentify(src, link, overwrite=True)
    hard = tmp_path / "hard.edf"
    os.link(src, hard)
    with pytest.raises(ParameterError, match="is the input"):
        deidentify(src, hard, overwrite=True)
    with pytest.raises(ParameterError, match=r"must end in \.edf"):
        deidentify(src, tmp_path / "out.bdf")
    out = tmp_path / "out.edf"
    out.write_bytes(b"old")
    with pytest.raises(OutputError, match="exists"):
        deidentify(src, out)
    assert out.read_bytes() == b"old"
    deidentify(src, out, overwrite=True)
    assert out.read_bytes()[8:88].rstrip() == b"X X X X"
    assert _state(src) == before
    with pytest.raises(ParameterError, match="in_path"):
        deidentify(3, out)


def test_big_records_stream_the_same(tmp_path, monkeypatch):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS)
    deidentify(src, tmp_path / "a.edf")
    monkeypatch.setattr(_deid, "CHUNK", 100)  # every record is now "large": segment streaming
    deidentify(src, tmp_path / "b.edf")
    assert (tmp_path / "a.edf").read_bytes() == (tmp_path / "b.edf").read_bytes()


def test_progress_and_trailing_bytes(tmp_path, caplog):
    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS[:1])
    padded = tmp_path / "padded.edf"
    padded.write_bytes(src.read_bytes() + b"Jane Doe-Smith trailing garbage")
    seen = []
    with caplog.at_level("WARNING", logger="dbrain"):
        report = deidentify(padded, tmp_path / "out.edf", on_progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert report.trailing_bytes_dropped == len(b"Jane Doe-Smith trailing garbage")
    assert b"trailing" not in (tmp_path / "out.edf").read_bytes()
    assert "not copied" in caplog.text


# --------------------------------------------------------------------------- command line


def _app():
    import typer

    from dbrain.cli.deidentify import register

    app = typer.Typer(add_completion=False)

    @app.callback()
    def _root():
        """Test app."""

    register(app)
    return app


def test_cli_deidentify(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    src = _edfio_file(tmp_path / "in.edf", _ANNOTATIONS)
    out = tmp_path / "out.edf"
    result = CliRunner().invoke(_app(), ["deidentify", str(src), str(out), "--date-shift", "-7"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert "\n" not in line and "redacted 6 of 11 annotation texts" in line and "shifted by -7 days" in line
    assert find_phi(out, phi_strings(src)) == []
    result = CliRunner().invoke(_app(), ["deidentify", str(src), str(out), "--remove-date"])
    assert isinstance(result.exception, OutputError)
    result = CliRunner().invoke(_app(), ["deidentify", str(src), str(out), "--remove-date", "--overwrite"])
    assert result.exit_code == 0 and "start date removed" in result.output
    assert out.read_bytes()[168:176] == b"01.01.85"


def test_cli_errors_exit_2(tmp_path, monkeypatch, capsys):
    app = _app()
    import dbrain.cli as cli

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(cli, "_register", lambda: None)
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0       " + b"garbage" * 10)
    with pytest.raises(SystemExit) as info:
        cli.main(["deidentify", str(bad), str(tmp_path / "out.edf")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dbrain: cannot read 'bad.edf'") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "out.edf").exists()
    assert issubclass(CorruptRecordingError, DbrainError)
