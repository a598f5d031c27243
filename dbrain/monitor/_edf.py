"""``recording.edf``: an EDF+C file appended record by record while the monitor runs.

Why not edfio or MNE's export (``dbrain.io.write_edf``)? Both write a whole
file at once; a monitor must keep what it has received on disk as it goes,
so that a killed monitor loses at most the last seconds, without rewriting
hours of samples. This writer writes the header once with the number of data
records set to ``-1`` (EDF's "unknown, being recorded"), appends data records
as they complete and, at each flush, writes the true record count into the
header, so the file is a valid EDF+C after every flush. Alarms go into each
record's ``EDF Annotations`` signal as TALs. Samples are 16-bit over
±3276.8 µV (0.1 µV steps); values beyond are clipped, as an amplifier would.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from ..simulate._edf import _MONTHS, _field, to_digital

#: Channel types written (in µV); other channels (stimulus, misc) are left out.
WRITTEN_TYPES = ("eeg", "eog", "ecg", "emg")
_PHYSICAL = (-3276.8, 3276.7)
_DIGITAL = (-32768, 32767)
_ANN_BYTES = 512  # per record: the time-keeping TAL and a few alarm TALs


def _record_samples(sfreq: float) -> tuple[int, float]:
    """Samples per record and record duration (s): 1 s for whole rates, else the shortest whole multiple."""
    for k in range(100, 1001):
        spr = sfreq * k / 100
        if abs(spr - round(spr)) < 1e-6:
            return int(round(spr)), k / 100
    raise ValueError(f"no whole number of samples per EDF record at {sfreq} Hz")


class EdfAppender:
    """Append samples and annotations to an EDF+C file, valid after every :meth:`flush`.

    Parameters
    ----------
    path : path-like
        The file (replaced).
    ch_names : list of str
        Labels of the rows pushed.
    sfreq : float
        Sampling rate.
    start : datetime | None
        Start of the stream (UTC); now when None.
    """

    def __init__(self, path, ch_names, sfreq: float, start: dt.datetime | None = None):
        self.path = Path(path)
        self.spr, self.duration = _record_samples(sfreq)
        self.n_signals = len(ch_names)
        start = start or dt.datetime.now(dt.UTC)
        self.n_records = 0
        self._buf = np.zeros((self.n_signals, 0))
        self._pending: list[bytes] = []  # alarm TALs not yet written
        ns = self.n_signals + 1
        startdate = f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year:04d} X X dbrain_monitor"
        head = b"".join(
            [
                _field("0", 8),
                _field("X X X X", 80),
                _field(startdate, 80),
                _field(start.strftime("%d.%m.%y"), 8),
                _field(start.strftime("%H.%M.%S"), 8),
                _field(256 * (ns + 1), 8),
                _field("EDF+C", 44),
                _field("-1", 8),
                _field(f"{self.duration:g}", 8),
                _field(ns, 4),
            ]
        )
        self._count_at = 236  # byte offset of the number of data records
        labels = [str(c)[:16] for c in ch_names] + ["EDF Annotations"]
        columns = [
            [_field(x, 16) for x in labels],
            [_field("", 80)] * ns,
            [_field("uV", 8)] * self.n_signals + [_field("", 8)],
            [_field(_PHYSICAL[0], 8)] * self.n_signals + [_field(-1, 8)],
            [_field(_PHYSICAL[1], 8)] * self.n_signals + [_field(1, 8)],
            [_field(_DIGITAL[0], 8)] * self.n_signals + [_field(-32768, 8)],
            [_field(_DIGITAL[1], 8)] * self.n_signals + [_field(32767, 8)],
            [_field("", 80)] * ns,
            [_field(self.spr, 8)] * self.n_signals + [_field(_ANN_BYTES // 2, 8)],
            [_field("", 32)] * ns,
        ]
        head += b"".join(b"".join(col) for col in columns)
        self._fid = open(self.path, "wb")  # noqa: SIM115 - appended to until close()
        self._fid.write(head)
        self.flush()

    def annotate(self, onset: float, text: str, duration: float | None = None) -> None:
        """Add an annotation (stream seconds) to the next record written."""
        text = " ".join(str(text).replace("\x14", " ").replace("\x15", " ").split())
        dur = f"\x15{duration:.3f}" if duration else ""
        self._pending.append(f"{onset:+.3f}{dur}\x14{text}\x14\x00".encode("latin-1", "replace"))

    def write(self, data_uv: np.ndarray) -> None:
        """Append samples (n_signals, n) in µV; whole records are written, the rest waits."""
        self._buf = np.concatenate([self._buf, data_uv], axis=1) if self._buf.shape[1] else np.array(data_uv, np.float64)
        n_rec = self._buf.shape[1] // self.spr
        if n_rec == 0:
            return
        take = n_rec * self.spr
        self._records(self._buf[:, :take])
        self._buf = self._buf[:, take:]

    def _records(self, data: np.ndarray) -> None:
        n_rec = data.shape[1] // self.spr
        digital = to_digital(np.ascontiguousarray(data), _PHYSICAL, _DIGITAL)
        width = self.n_signals * self.spr
        out = bytearray()
        for r in range(n_rec):
            out += digital[:, r * self.spr : (r + 1) * self.spr].tobytes()
            tal = f"{(self.n_records + r) * self.duration:+.3f}\x14\x14\x00".encode("ascii")
            while self._pending and len(tal) + len(self._pending[0]) <= _ANN_BYTES:
                tal += self._pending.pop(0)
            out += tal.ljust(_ANN_BYTES, b"\x00")
        assert len(out) == n_rec * (2 * width + _ANN_BYTES)
        self._fid.write(bytes(out))
        self.n_records += n_rec

    def flush(self) -> None:
        """Write the record count into the header and push everything to the operating system."""
        self._fid.flush()
        with open(self.path, "r+b") as fid:
            fid.seek(self._count_at)
            fid.write(_field(max(self.n_records, 0), 8))
        os.utime(self.path)

    def close(self) -> None:
        """Write the last, partial record (zero-padded) and any pending annotations, then close."""
        if self._buf.shape[1] or self._pending:
            pad = (-self._buf.shape[1]) % self.spr or (self.spr if not self._buf.shape[1] else 0)
            self._records(np.concatenate([self._buf, np.zeros((self.n_signals, pad))], axis=1))
            self._buf = np.zeros((self.n_signals, 0))
        self.flush()
        self._fid.close()
