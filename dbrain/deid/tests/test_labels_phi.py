"""De-identification never rewrites clinical tokens of signal labels (issue #15 item 6).

Every EDF/BDF under ``../shared/data`` and a simulated recording get PHI-like
patient and recording fields (names made of ``EEG``, ``Fp1``, ``REF``, ``uV``,
``T3`` and common words); the de-identified copy must keep every label and
physical dimension byte for byte, every signal byte, and hold no PHI string
of its input anywhere in its header or annotations.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dbrain.conftest import SHARED_DATA
from dbrain.deid import deidentify, find_phi, phi_strings
from dbrain.deid._clinical import signal_field_spans
from dbrain.deid._phi import header_phi

#: (EDF+ patient field, EDF+ recording field); plain EDF files get the same text as free text.
PHI_FIELDS = [
    ("MCH-0234567 F 02-MAR-1961 Simulated_EEG", "Startdate 01-JAN-2020 EEG_Lab_Hospital Tech_EEG_Miller Nihon_EEG"),
    ("X M X Fp1_REF_Smithson", "Startdate X St_Fp1_Clinic Jo_REF X"),
    ("P0815-77 X X Ann_T3_uV_Brownlee", "Startdate X X Tech_T3 uV_Amp_2000"),
    ("X F 12-JAN-1970 Eyes_Closed_Left_Jones", "Startdate X Left_Hospital Photic_Temp X"),
    ("EEG M X EKG_Resp_Photic", "Startdate X REF_Center X X"),
]


def _recordings() -> list[str]:
    if not SHARED_DATA.is_dir():
        return []
    files = [p for p in SHARED_DATA.rglob("*") if p.is_file() and p.suffix.lower() in (".edf", ".bdf")]
    return sorted(str(p.relative_to(SHARED_DATA)) for p in files)


def _layout(data: bytes):
    ns = int(data[252:256])
    hb = int(data[184:192])
    bps = 3 if data[:1] == b"\xff" else 2
    labels = [data[256 + 16 * i : 272 + 16 * i] for i in range(ns)]
    spr = [int(data[256 + 216 * ns + 8 * i : 264 + 216 * ns + 8 * i]) for i in range(ns)]
    offsets = np.concatenate([[0], np.cumsum(spr)]) * bps
    ann = [(int(offsets[i]), spr[i] * bps) for i in range(ns) if labels[i].strip() in (b"EDF Annotations", b"BDF Annotations")]
    rec = int(offsets[-1])
    return ns, hb, rec, ann


def _signal_columns(data: bytes) -> dict[str, list[bytes]]:
    ns = int(data[252:256])
    sig = data[256:]
    return {
        "label": [sig[16 * i : 16 * (i + 1)] for i in range(ns)],
        "physical dimension": [sig[96 * ns + 8 * i : 96 * ns + 8 * (i + 1)] for i in range(ns)],
    }


def _signal_bytes(data: bytes) -> np.ndarray:
    ns, hb, rec, ann = _layout(data)
    n = (len(data) - hb) // rec
    records = np.frombuffer(data[hb : hb + n * rec], np.uint8).reshape(n, rec).copy()
    for offset, length in ann:
        records[:, offset : offset + length] = 0
    return records


def _with_fields(src: Path, dst: Path, patient: str, recording: str) -> None:
    data = bytearray(src.read_bytes())
    plus = data[192:197] in (b"EDF+C", b"EDF+D", b"BDF+C", b"BDF+D")
    if not plus:  # free text fields: no EDF+ subfields
        patient, recording = patient.replace(" ", "_"), recording.replace(" ", "_")
    data[8:88] = patient.encode().ljust(80)[:80]
    data[88:168] = recording.encode().ljust(80)[:80]
    dst.write_bytes(bytes(data))


def _check(src: Path, tmp_path: Path) -> int:
    """De-identify ``src`` under every PHI field pair; return the number of files checked."""
    n = 0
    for k, (patient, recording) in enumerate(PHI_FIELDS):
        case = tmp_path / f"in{k}{src.suffix.lower()}"
        _with_fields(src, case, patient, recording)
        out = tmp_path / f"out{k}{src.suffix.lower()}"
        deidentify(case, out, overwrite=True, verbose="error")
        before, after = case.read_bytes(), out.read_bytes()
        assert _signal_columns(after) == _signal_columns(before), f"{src.name} with {patient!r}: labels/units changed"
        assert np.array_equal(_signal_bytes(after), _signal_bytes(before)), f"{src.name}: signal bytes changed"
        phi = phi_strings(case)
        assert find_phi(out, phi) == [], f"{src.name} with {patient!r}: PHI left"
        # Independent of find_phi: no PHI string in the main header text at all.
        low = after[8:256].lower()
        assert not [p for p in phi if p.lower() in low], f"{src.name}: PHI in the main header"
        n += 1
    return n


@pytest.mark.parametrize("rel", _recordings() or ["(shared data absent)"])
def test_every_shared_recording_keeps_labels(rel, shared_data, tmp_path):
    src = shared_data / rel
    from dbrain.errors import DbrainError
    from dbrain.io._edf_header import read_edf_header

    try:
        read_edf_header(src)
    except DbrainError as exc:  # a deliberately broken test file: nothing to de-identify
        pytest.skip(f"{rel}: {exc}")
    copy = tmp_path / f"src{src.suffix.lower()}"
    shutil.copyfile(src, copy)
    assert _check(copy, tmp_path) == len(PHI_FIELDS)


def test_simulated_recording_keeps_labels(tmp_path):
    from dbrain.io import read_recording
    from dbrain.simulate import write_simulated_edf

    src, _ = write_simulated_edf(tmp_path / "sim.edf", 20, spikes=1, seed=3)
    assert b"Simulated_EEG" in src.read_bytes()[:256]
    # As written by the simulator (the exact issue #15 case) and with each PHI pair.
    out = tmp_path / "plain_out.edf"
    deidentify(src, out, verbose="error")
    assert _signal_columns(out.read_bytes()) == _signal_columns(src.read_bytes())
    raw, _ = read_recording(out)
    assert [c for c in raw.ch_names if c.startswith("XXX")] == []
    assert sum(t == "eeg" for t in raw.get_channel_types()) >= 19
    assert _check(src, tmp_path) == len(PHI_FIELDS)


def test_clinical_words_are_not_phi():
    phi = {p.lower() for p in header_phi(b"X X X Simulated_EEG".ljust(80), b"Startdate X X X X".ljust(80), True)}
    assert b"eeg" not in phi and b"simulated" in phi
    assert header_phi(b"X X X EEG_Fp1_REF".ljust(80), b"Startdate X X X X".ljust(80), True) == set()


@pytest.mark.parametrize(
    ("field", "phi", "scrubbed"),
    [
        (b"EEG Fp1-REF     ", [b"eeg"], []),  # clinical token: never a hit
        (b"EEG Smith-REF   ", [b"smith"], [(4, 9)]),  # an exact name token is
        (b"EEG Smithers    ", [b"smith"], [(4, 12)]),  # a token holding a name is, whole
        (b"Temp            ", [b"emp"], []),  # inside a clinical token
        (b"E128            ", [b"e12"], []),  # inside a channel-like token
        (b"AB123           ", [b"ab123"], [(0, 5)]),  # a patient code, exactly
        (b"Jane Doe electr ", [b"jane doe"], [(0, 4), (5, 8)]),
    ],
)
def test_signal_field_spans(field, phi, scrubbed):
    assert signal_field_spans(field, phi) == scrubbed


def test_name_in_a_label_is_still_scrubbed(tmp_path):
    from dbrain.simulate import write_simulated_edf

    src, _ = write_simulated_edf(tmp_path / "sim.edf", 10, seed=1)
    data = bytearray(src.read_bytes())
    data[8:88] = b"X X X Ann_Brownlee".ljust(80)
    ns = int(data[252:256])
    data[256 + 16 * 2 : 256 + 16 * 3] = b"Brownlee EEG C3 "
    case = tmp_path / "case.edf"
    case.write_bytes(bytes(data))
    out = tmp_path / "out.edf"
    report = deidentify(case, out, verbose="error")
    labels = _signal_columns(out.read_bytes())["label"]
    assert labels[2] == b"XXXXXXXX EEG C3 "
    assert labels[0] == bytes(data[256:272])
    assert report.signal_fields_scrubbed >= 1
    assert find_phi(out, phi_strings(case)) == []
    assert ns > 3
