"""Which byte strings of an EDF header are PHI, and where they are in a file.

PHI strings
-----------
Taken from the 80-byte patient and recording fields of the header:

* EDF+/BDF+ patient field (``code sex birthdate name [more…]``): the patient
  code, the name (as written and with ``_`` read as a space) and each of its
  words, the birth date in its header form ``02-MAR-1961`` and as
  ``02.03.1961``, ``1961-03-02`` and ``02/03/1961``, and every extra subfield
  with its words. The sex is a single letter and is not a string one can look
  for; it is cleared from the header all the same.
* EDF+/BDF+ recording field (``Startdate date hospital technician equipment
  [more…]``): the hospital code with its distinctive words (generic words such
  as ``Hospital`` or ``University`` excluded), the technician with each word,
  the equipment code as a whole, and every extra subfield with its words.
* Plain EDF/BDF, or a ``+`` file whose fields do not follow the EDF+ layout:
  each whole field and each of its words.

A string with non-ASCII bytes is also looked for in its other likely encoding
(Latin-1 header, UTF-8 annotations, or the reverse).

A candidate is dropped when it is shorter than 3 characters, is made of ``X``
and punctuation only, is a placeholder (``No_Name``, ``Unknown``,
``Female`` …), is made of clinical tokens only (``EEG``, ``Fp1``, ``REF``,
``uV``: :mod:`dbrain.deid._clinical`), is all digits and shorter than 5
(years, counts and scaling numbers collide with such strings everywhere), or is contained in a constant
of the format (``Startdate``, ``EDF Annotations``, ``BIOSEMI`` …).

Where the guarantee is checked
------------------------------
Data samples are binary: any 3-byte string turns up by chance in a few
megabytes of EEG, so looking for PHI in signal bytes proves nothing and
de-identification does not alter them. :func:`find_phi` therefore looks where
text lives: the patient, recording and reserved fields of the main header,
the label, transducer, physical dimension, prefiltering and reserved fields
of every signal (by token there: a clinical token such as ``EEG`` in a
label is never a hit, see :mod:`dbrain.deid._clinical`), and the text
pieces of every annotation signal in every data record (the numeric onset/duration stamps excluded, for the same
reason as the samples). Matching ignores ASCII case.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ._clinical import all_clinical, signal_field_spans
from ._tal import annotation_layout, text_spans
from ._vocab import INSTITUTION_WORDS, PLACEHOLDERS, ROLE_WORDS, STRUCTURAL

_SPLIT = re.compile(rb"[\s_,;:()\[\]{}<>/\\|.\"'=+*&#@!?^~`%$-]+")
_ONLY_X = re.compile(rb"[xX\s_.,;:()\[\]/-]*")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _usable(s: bytes) -> bool:
    low = s.strip().lower()
    bare = low
    for word in STRUCTURAL:
        bare = bare.replace(word.encode(), b"")
    if len(low) < 3 or _ONLY_X.fullmatch(bare):
        return False
    if all_clinical(low):
        # "EEG", "Fp1", "REF", "uV": in every EEG file, identifying nobody.
        return False
    if low.replace(b"_", b" ").decode("latin-1") in PLACEHOLDERS:
        return False
    if low.isdigit() and len(low) < 5:
        return False
    return not any(low in word.encode() for word in STRUCTURAL)


def _whole(value: bytes) -> set[bytes]:
    value = value.strip()
    return {v for v in (value, value.replace(b"_", b" ")) if _usable(v)}


def _words(value: bytes, exclude: frozenset[str] = frozenset()) -> set[bytes]:
    return {w for w in _SPLIT.split(value) if _usable(w) and w.lower().decode("latin-1") not in exclude}


def parse_edf_date(text: bytes | str):
    """Parse an EDF+ ``dd-MMM-yyyy`` date; return ``datetime.date`` or None."""
    import datetime as dt

    if isinstance(text, bytes):
        text = text.decode("latin-1")
    m = re.fullmatch(r"(\d{2})-([A-Za-z]{3})-(\d{4})", text)
    if not m or m.group(2).upper() not in MONTHS:
        return None
    try:
        return dt.date(int(m.group(3)), MONTHS.index(m.group(2).upper()) + 1, int(m.group(1)))
    except ValueError:
        return None


def _date_forms(raw: bytes) -> set[bytes]:
    day = parse_edf_date(raw)
    if day is None:
        return _whole(raw) | _words(raw)
    forms = {raw, f"{day:%d.%m.%Y}".encode(), day.isoformat().encode(), f"{day:%d/%m/%Y}".encode()}
    return {f for f in forms if _usable(f)}


def header_phi(patient: bytes, recording: bytes, plus: bool) -> set[bytes]:
    """Return the PHI strings of raw 80-byte patient and recording fields.

    Parameters
    ----------
    patient, recording : bytes
        The fields as stored in the file.
    plus : bool
        Whether the file declares itself EDF+/BDF+ (subfields are parsed).

    Returns
    -------
    phi : set of bytes
    """
    phi: set[bytes] = set()
    sub = patient.split()
    if plus and len(sub) >= 4:
        code, _sex, birth, name, *more = sub
        phi |= _whole(code)
        if birth.upper() != b"X":
            phi |= _date_forms(birth)
        phi |= _whole(name) | _words(name, ROLE_WORDS)
        for extra in more:
            phi |= _whole(extra) | _words(extra)
    else:
        phi |= _whole(patient) | _words(patient)
    sub = recording.split()
    if plus and len(sub) >= 5 and sub[0] == b"Startdate":
        _, start, hospital, technician, equipment, *more = sub
        if start.upper() != b"X" and parse_edf_date(start) is None:
            phi |= _whole(start) | _words(start)
        phi |= _whole(hospital) | _words(hospital, INSTITUTION_WORDS | ROLE_WORDS)
        phi |= _whole(technician) | _words(technician, ROLE_WORDS)
        phi |= _whole(equipment)
        for extra in more:
            phi |= _whole(extra) | _words(extra)
    else:
        phi |= _whole(recording) | _words(recording)
    return phi | _other_encodings(phi)


def _other_encodings(phi: set[bytes]) -> set[bytes]:
    """Latin-1 header text as UTF-8 annotations would spell it, and the reverse."""
    more = set()
    for p in phi:
        if p.isascii():
            continue
        more.add(p.decode("latin-1").encode("utf-8"))
        try:
            more.add(p.decode("utf-8").encode("latin-1"))
        except (UnicodeDecodeError, UnicodeEncodeError):
            pass
    return {m for m in more if m not in phi}


def _read_main(path: Path) -> bytes:
    with open(path, "rb") as fid:
        return fid.read(256)


def phi_strings(path: str | os.PathLike) -> set[bytes]:
    """Return the PHI byte strings of an EDF/BDF file's header.

    Parameters
    ----------
    path : path-like
        An EDF, EDF+, BDF or BDF+ file.

    Returns
    -------
    phi : set of bytes
        Strings that must not occur in a de-identified copy; see the module
        documentation of :mod:`dbrain.deid._phi` for what is included and why.

    Raises
    ------
    dbrain.errors.CorruptRecordingError
        If the header is damaged.
    """
    from ..io._edf_header import read_edf_header

    header = read_edf_header(path)
    main = _read_main(Path(path))
    return header_phi(main[8:88], main[88:168], header.plus)


def contains_phi(data: bytes, phi_lower) -> bytes | None:
    """Return the first of ``phi_lower`` (lower-case) found in ``data``, ignoring ASCII case."""
    low = data.lower()
    for p in phi_lower:
        if p in low:
            return p
    return None


def find_phi(path: str | os.PathLike, phi) -> list[tuple[str, bytes]]:
    """Look for PHI strings in the text parts of an EDF/BDF file.

    Parameters
    ----------
    path : path-like
        The file to check (typically a de-identified output).
    phi : iterable of bytes
        The strings to look for (typically :func:`phi_strings` of the input).

    Returns
    -------
    hits : list of (str, bytes)
        Where each string was found (e.g. ``'recording field'``,
        ``'annotation, record 12'``) and the string; empty when clean.
    """
    from ..io._edf_header import read_edf_header

    path = Path(path)
    phi_lower = sorted({p.lower() for p in phi}, key=len, reverse=True)
    header = read_edf_header(path)
    hits: list[tuple[str, bytes]] = []

    def check(where: str, data: bytes):
        low = data.lower()
        hits.extend((where, p) for p in phi_lower if p in low)

    ns = len(header.signals)
    with open(path, "rb") as fid:
        raw = fid.read(header.header_bytes)
        check("patient field", raw[8:88])
        check("recording field", raw[88:168])
        check("reserved field", raw[192:236])
        sig = raw[256:]
        columns = {"label": (0, 16), "transducer": (16, 80), "physical dimension": (96, 8), "prefiltering": (136, 80)}
        for name, (start, width) in columns.items():
            base = start * ns
            for i in range(ns):
                value = sig[base + i * width : base + (i + 1) * width]
                # By token: a PHI string inside a clinical token ("EEG" in a label) is not a hit.
                for a, b in signal_field_spans(value, phi_lower):
                    hits.extend((f"signal {i + 1} {name}", p) for p in phi_lower if p in value[a:b].lower())
        for i in range(ns):
            check(f"signal {i + 1} reserved", sig[224 * ns + i * 32 : 224 * ns + (i + 1) * 32])
        layout = annotation_layout(header)
        for record in range(header.n_records if layout else 0):
            for index, offset, length in layout:
                fid.seek(header.header_bytes + record * header.record_bytes + offset)
                block = fid.read(length)
                for a, b in text_spans(block):
                    check(f"annotation (signal {index + 1}, record {record + 1})", block[a:b])
    return hits
