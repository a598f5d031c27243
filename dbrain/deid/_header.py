"""New header bytes for a de-identified EDF/BDF file."""

from __future__ import annotations

import datetime as dt
import re

from ..errors import CorruptRecordingError, ParameterError
from ._clinical import signal_field_spans
from ._phi import MONTHS, contains_phi, parse_edf_date

#: EDF stores a two-digit year: 85-99 mean 1985-1999, 00-84 mean 2000-2084.
YEARS = (1985, 2084)
_MARKERS = (b"EDF+C", b"EDF+D", b"BDF+C", b"BDF+D", b"24BIT")
ANONYMOUS_PATIENT = "X X X X"


def _pad(text: str, width: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > width:  # pragma: no cover - every text built here is short
        raise RuntimeError(f"header text {text!r} longer than {width} bytes")
    return raw.ljust(width, b" ")


def parse_field_date(raw: bytes) -> dt.date | None:
    """Parse the 8-byte ``dd.mm.yy`` start date field (1985-2084 window)."""
    m = re.fullmatch(rb"(\d{2})\.(\d{2})\.(\d{2})", raw.strip())
    if not m:
        return None
    day, month, year = (int(g) for g in m.groups())
    year += 1900 if year >= 85 else 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def format_field_date(day: dt.date) -> bytes:
    return f"{day.day:02d}.{day.month:02d}.{day.year % 100:02d}".encode()


def format_edf_date(day: dt.date) -> str:
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def _shift(day: dt.date, days: int, name: str) -> dt.date:
    try:
        new = day + dt.timedelta(days=days)
    except OverflowError:
        new = None
    if new is None or not YEARS[0] <= new.year <= YEARS[1]:
        target = "beyond the calendar" if new is None else new.isoformat()
        raise ParameterError(
            f"date_shift_days={days} moves the start date of '{name}' from {day.isoformat()} to {target}, "
            f"outside {YEARS[0]}-{YEARS[1]}, the years an EDF header can hold"
        )
    return new


def new_main_header(
    main: bytes, *, plus: bool, n_records: int, date_shift_days: int | None, remove_date: bool, phi_lower, name: str
) -> tuple[bytes, dict]:
    """Return the de-identified 256-byte main header and what changed.

    Parameters
    ----------
    main : bytes
        The input's 256-byte main header.
    plus : bool
        EDF+/BDF+ file.
    n_records : int
        Number of data records written (replaces ``-1``).
    date_shift_days : int | None
        Days to add to the start date.
    remove_date : bool
        Replace the start date by the EDF+ "unknown" date 01.01.85.
    phi_lower : list of bytes
        Lower-case PHI strings; the recording field must contain none.
    name : str
        File name for messages.

    Returns
    -------
    main : bytes
    changes : dict
        ``fields`` (names of fields whose bytes changed) and ``start_date``
        (ISO date written, or None when unknown/removed).
    """
    field_date = parse_field_date(main[168:176])
    recording = main[88:168].split()
    sub_date = None
    if plus and len(recording) >= 2 and recording[0] == b"Startdate":
        sub_date = parse_edf_date(recording[1])

    if remove_date:
        startdate, sub_text, written = b"01.01.85", "X", None
    elif date_shift_days is not None:
        if field_date is None:
            raise CorruptRecordingError(
                f"cannot shift the start date of '{name}': its start date field is "
                f"{main[168:176].decode('latin-1')!r}, not dd.mm.yy"
            )
        new = _shift(field_date, date_shift_days, name)
        startdate, written = format_field_date(new), new
        sub_text = format_edf_date(_shift(sub_date, date_shift_days, name)) if sub_date else "X"
    else:
        startdate, written = main[168:176], field_date
        sub_text = format_edf_date(sub_date) if sub_date else "X"

    patient = ANONYMOUS_PATIENT
    rec_text = f"Startdate {sub_text} X X X" if plus else "Startdate X X X X"
    if contains_phi(rec_text.encode(), phi_lower) is not None:
        # e.g. a patient called "May" and a recording started in May.
        rec_text = "Startdate X X X X"
    reserved = main[192:236]
    marker = next((m for m in _MARKERS if reserved.startswith(m)), b"")
    n_field = main[236:244]
    try:
        declared = int(n_field.strip())
    except ValueError:  # pragma: no cover - validated by the header reader
        declared = None
    if declared != n_records:
        n_field = _pad(str(n_records), 8)

    new = b"".join(
        [
            main[:8],
            _pad(patient, 80),
            _pad(rec_text, 80),
            startdate,
            main[176:192],
            marker.ljust(44, b" "),
            n_field,
            main[244:256],
        ]
    )
    assert len(new) == 256
    names = [("patient", 8, 88), ("recording", 88, 168), ("startdate", 168, 176), ("reserved", 192, 236)]
    names.append(("number of records", 236, 244))
    fields = [label for label, a, b in names if new[a:b] != main[a:b]]
    return new, {"fields": fields, "start_date": written.isoformat() if written else None}


_SIGNAL_TEXT = {"label": (0, 16), "transducer": (16, 80), "physical dimension": (96, 8), "prefiltering": (136, 80)}


def new_signal_header(raw: bytes, n_signals: int, annotation: set[int], phi_lower) -> tuple[bytes, int]:
    """Scrub PHI from the per-signal header; return the new bytes and the number of fields changed.

    Text fields (label, transducer, physical dimension, prefiltering) keep their
    width: each token holding a PHI string is overwritten with ``X``, except
    clinical tokens (electrode names, channel types, references, units; see
    :mod:`dbrain.deid._clinical`), which are never PHI and never rewritten. The
    32-byte reserved field, which EDF+ requires to be blank, is blanked.
    """
    out = bytearray(raw)
    changed = 0
    for field, (start, width) in _SIGNAL_TEXT.items():
        base = start * n_signals
        for i in range(n_signals):
            if field == "label" and i in annotation:
                continue
            a, b = base + i * width, base + (i + 1) * width
            value = bytes(out[a:b])
            # Token by token, never inside a clinical token: "EEG Fp1-REF" stays
            # whole when the patient is called "Simulated_EEG" (issue #15).
            for _ in range(4):
                spans = signal_field_spans(value, phi_lower)
                if not spans:
                    break
                for sa, sb in spans:
                    value = value[:sa] + b"X" * (sb - sa) + value[sb:]
            if value != out[a:b]:
                out[a:b] = value
                changed += 1
    base = 224 * n_signals
    for i in range(n_signals):
        a, b = base + i * 32, base + (i + 1) * 32
        if out[a:b].strip(b" "):
            out[a:b] = b" " * 32
            changed += 1
    return bytes(out), changed
