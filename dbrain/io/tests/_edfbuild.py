"""Build small EDF/EDF+ files byte by byte, for tests that need exact control.

edfio writes only continuous EDF+C, so EDF+D files with gaps, and damaged
files, are assembled here from the EDF specification.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _f(value, width: int) -> bytes:
    text = str(value).encode("latin-1") if not isinstance(value, bytes) else value
    if len(text) > width:
        raise ValueError(f"{value!r} does not fit {width} bytes")
    return text.ljust(width, b" ")


def build_edf(
    path: Path,
    labels: list[str],
    data: list[np.ndarray],
    samples_per_record: list[int],
    *,
    record_onsets: list[float] | None = None,
    record_duration: float = 1.0,
    annotations: list[tuple[float, float, str]] = (),
    reserved: str | None = None,
    patient: str = "X X X X",
    recording: str = "Startdate 01-JAN-2020 X X X",
    physical: tuple[float, float] = (-3200.0, 3200.0),
    n_records_field: int | None = None,
    header_bytes_field: int | None = None,
) -> Path:
    """Write an EDF+ file; ``data[i]`` is in physical units (µV).

    With ``record_onsets`` the file is EDF+D and record ``r`` starts at
    ``record_onsets[r]`` s. ``annotations`` are put in the first record.
    """
    n_records = len(data[0]) // samples_per_record[0]
    onsets = record_onsets if record_onsets is not None else [r * record_duration for r in range(n_records)]
    if reserved is None:
        reserved = "EDF+D" if record_onsets is not None else "EDF+C"
    ann_spr = 60
    labels_all = [*labels, "EDF Annotations"]
    spr_all = [*samples_per_record, ann_spr]
    ns = len(labels_all)
    head = b"".join(
        [
            _f("0", 8),
            _f(patient, 80),
            _f(recording, 80),
            _f("01.01.20", 8),
            _f("10.00.00", 8),
            _f(header_bytes_field if header_bytes_field is not None else 256 * (ns + 1), 8),
            _f(reserved, 44),
            _f(n_records_field if n_records_field is not None else n_records, 8),
            _f(f"{record_duration:g}", 8),
            _f(ns, 4),
        ]
    )
    columns = [
        [_f(lab, 16) for lab in labels_all],
        [_f("", 80)] * ns,
        [_f("uV", 8)] * len(labels) + [_f("", 8)],
        [_f(f"{physical[0]:g}", 8)] * len(labels) + [_f("-1", 8)],
        [_f(f"{physical[1]:g}", 8)] * len(labels) + [_f("1", 8)],
        [_f("-32768", 8)] * ns,
        [_f("32767", 8)] * ns,
        [_f("", 80)] * ns,
        [_f(s, 8) for s in spr_all],
        [_f("", 32)] * ns,
    ]
    head += b"".join(b"".join(col) for col in columns)
    gain = (physical[1] - physical[0]) / 65535
    digital = [np.clip(np.round((d - physical[0]) / gain - 32768), -32768, 32767).astype("<i2") for d in data]
    body = bytearray()
    for r in range(n_records):
        for d, spr in zip(digital, samples_per_record, strict=True):
            body += d[r * spr : (r + 1) * spr].tobytes()
        tal = f"+{onsets[r]:g}\x14\x14\x00".encode()
        if r == 0:
            for onset, duration, text in annotations:
                dur = f"\x15{duration:g}" if duration else ""
                tal += f"+{onset:g}{dur}\x14{text}\x14\x00".encode()
        if len(tal) > ann_spr * 2:
            raise ValueError("annotations do not fit one record")
        body += tal.ljust(ann_spr * 2, b"\x00")
    path.write_bytes(head + bytes(body))
    return path
