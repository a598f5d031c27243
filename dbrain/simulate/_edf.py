"""A minimal streaming EDF+C writer.

Why not edfio (dbrain's EDF library, used by :func:`dbrain.io.write_edf`)?
edfio builds the whole file in memory before writing; a 24 h, 20-channel,
256 Hz recording is 0.85 GB of int16 plus float64 copies — several GB. The
simulator must stream with bounded memory, so it writes the header once and
then appends data records chunk by chunk. The format written is deliberately
narrow: EDF+C, 16-bit samples, every signal at the same rate, one-second data
records, and an ``EDF Annotations`` signal holding only each record's
time-keeping TAL (the ground truth lives in the events TSV).
"""

from __future__ import annotations

import datetime as dt
from typing import BinaryIO

import numpy as np

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ANNOTATION_BYTES = 32  # per record: holds "+604800\x14\x14\x00" with room to spare


def _field(value, width: int) -> bytes:
    text = value if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
    raw = text.encode("ascii")
    if len(raw) > width:
        raise ValueError(f"EDF header value {text!r} does not fit in {width} characters")
    return raw.ljust(width, b" ")


def to_digital(data_uv: np.ndarray, physical: tuple[float, float], digital: tuple[int, int]) -> np.ndarray:
    """Convert µV to 16-bit EDF sample values (rounded, clipped), vectorised."""
    pmin, pmax = physical
    dmin, dmax = digital
    gain = (pmax - pmin) / (dmax - dmin)
    offset = pmin - dmin * gain
    scaled = data_uv - offset
    scaled /= gain
    np.rint(scaled, out=scaled)
    np.clip(scaled, dmin, dmax, out=scaled)
    return scaled.astype("<i2")


class EdfWriter:
    """Write an EDF+C file record by record.

    Parameters
    ----------
    fid : binary file
        Opened for writing; the header is written at once.
    labels : list of str
        Signal labels (at most 16 ASCII characters).
    sfreq : int
        Sampling rate of every signal; records last one second.
    n_records : int
        Number of one-second records that will be written.
    start : datetime
        Start of the recording (second resolution).
    physical, digital : tuple
        Physical range (in ``unit``) and digital range of every data signal.
    unit : str
        Physical dimension.
    patient, recording_extra : str
        EDF+ patient field and the admin/technician/equipment part of the
        recording field.
    transducers : list of str | None
        Transducer field per signal.
    """

    def __init__(
        self,
        fid: BinaryIO,
        labels,
        sfreq: int,
        n_records: int,
        start: dt.datetime,
        *,
        physical=(-3276.8, 3276.7),
        digital=(-32768, 32767),
        unit="uV",
        patient="X X X X",
        recording_extra="X X X",
        transducers=None,
    ):
        self._fid = fid
        self.n_signals = len(labels)
        self.spr = int(sfreq)
        self.n_records = int(n_records)
        self._written = 0
        ns = self.n_signals + 1
        startdate = f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year:04d} {recording_extra}"
        head = b"".join(
            [
                _field("0", 8),
                _field(patient, 80),
                _field(startdate, 80),
                _field(start.strftime("%d.%m.%y"), 8),
                _field(start.strftime("%H.%M.%S"), 8),
                _field(256 * (ns + 1), 8),
                _field("EDF+C", 44),
                _field(self.n_records, 8),
                _field(1, 8),
                _field(ns, 4),
            ]
        )
        transducers = list(transducers or [""] * self.n_signals) + [""]
        labels = list(labels) + ["EDF Annotations"]
        n_ann = _ANNOTATION_BYTES // 2
        columns = [
            [_field(x, 16) for x in labels],
            [_field(x, 80) for x in transducers],
            [_field(unit, 8)] * self.n_signals + [_field("", 8)],
            [_field(physical[0], 8)] * self.n_signals + [_field(-1, 8)],
            [_field(physical[1], 8)] * self.n_signals + [_field(1, 8)],
            [_field(digital[0], 8)] * self.n_signals + [_field(-32768, 8)],
            [_field(digital[1], 8)] * self.n_signals + [_field(32767, 8)],
            [_field("", 80)] * ns,
            [_field(self.spr, 8)] * self.n_signals + [_field(n_ann, 8)],
            [_field("", 32)] * ns,
        ]
        head += b"".join(b"".join(col) for col in columns)
        assert len(head) == 256 * (ns + 1)
        fid.write(head)

    def write(self, digital: np.ndarray) -> None:
        """Append whole records: ``digital`` is int16 of shape (n_signals, k * sfreq)."""
        n_sig, n = digital.shape
        n_rec, rest = divmod(n, self.spr)
        if n_sig != self.n_signals or rest or self._written + n_rec > self.n_records:
            raise ValueError(
                f"expected ({self.n_signals}, k * {self.spr}) samples within {self.n_records} records, got {digital.shape}"
            )
        width = n_sig * self.spr + _ANNOTATION_BYTES // 2
        records = np.empty((n_rec, width), dtype="<i2")
        records[:, : n_sig * self.spr] = digital.reshape(n_sig, n_rec, self.spr).transpose(1, 0, 2).reshape(n_rec, -1)
        tals = b"".join(
            f"+{r}\x14\x14\x00".encode("ascii").ljust(_ANNOTATION_BYTES, b"\x00")
            for r in range(self._written, self._written + n_rec)
        )
        records[:, n_sig * self.spr :] = np.frombuffer(tals, dtype="<i2").reshape(n_rec, -1)
        self._fid.write(records.tobytes())
        self._written += n_rec

    def close(self) -> None:
        """Check that every declared record was written."""
        if self._written != self.n_records:
            raise RuntimeError(f"EDF writer got {self._written} of {self.n_records} records")
