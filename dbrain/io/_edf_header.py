"""EDF/EDF+/BDF header parsing and validation.

MNE reads the signal data; this module exists because a damaged file must be
refused with a precise reason before any reader touches it (MNE would read a
truncated file with a warning, or fail deep inside NumPy), and because MNE
does not expose what dbrain needs to report: per-signal sampling rates,
EDF+C/EDF+D, and the raw patient/recording fields.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorruptRecordingError

_MAIN = [
    ("version", 8),
    ("patient", 80),
    ("recording", 80),
    ("startdate", 8),
    ("starttime", 8),
    ("header_bytes", 8),
    ("reserved", 44),
    ("n_records", 8),
    ("record_duration", 8),
    ("n_signals", 4),
]
_SIGNAL = [
    ("label", 16),
    ("transducer", 80),
    ("physical_dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefiltering", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
]
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

# Resource limits for hostile headers (docs/robustness.md). Each is far above any
# real recording and keeps the memory and time a header can make a reader spend
# bounded; the error line names the limit it broke.
#: Signals in one file (a 256-channel cap plus polygraphy is ~300).
MAX_SIGNALS = 4096
#: Samples of one signal in one data record (EDF stores this in 8 digits).
MAX_SAMPLES_PER_RECORD = 10_000_000
#: Bytes of one data record, all signals together (readers hold whole records).
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: Data records declared (8 digits allow 99,999,999; 10 million 1-s records is ~116 days).
MAX_RECORDS = 10_000_000
#: Sampling rate of a signal (Hz): samples per record / record duration.
MAX_SAMPLING_RATE = 1_000_000.0
#: Bytes of annotation signal per data record.
MAX_ANNOTATION_BYTES_PER_RECORD = 1024 * 1024
#: Bytes of annotation signal in the whole file (TALs are parsed as text in memory).
MAX_ANNOTATION_BYTES = 64 * 1024 * 1024


def _limit(name: str, what: str, value, limit, unit: str = "") -> CorruptRecordingError:
    return CorruptRecordingError(f"cannot read '{name}': {what} is {value:,}{unit}, over dbrain's limit of {limit:,}{unit}")


@dataclass
class EdfSignalHeader:
    """One signal's header fields, decoded."""

    label: str
    transducer: str
    physical_dimension: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefiltering: str
    samples_per_record: int

    @property
    def is_annotation(self) -> bool:
        return self.label in ANNOTATION_LABELS


@dataclass
class EdfHeader:
    """The decoded header of an EDF, EDF+ or BDF file."""

    path: Path
    bdf: bool
    patient: str
    recording: str
    start: dt.datetime | None
    header_bytes: int
    reserved: str
    n_records: int
    record_duration: float
    signals: list[EdfSignalHeader] = field(default_factory=list)
    file_size: int = 0

    @property
    def bytes_per_sample(self) -> int:
        return 3 if self.bdf else 2

    @property
    def record_bytes(self) -> int:
        return sum(s.samples_per_record for s in self.signals) * self.bytes_per_sample

    @property
    def plus(self) -> bool:
        """True for EDF+/BDF+ files."""
        return self.reserved.startswith(("EDF+", "BDF+"))

    @property
    def discontinuous(self) -> bool:
        """True when the file declares itself EDF+D/BDF+D (it may have gaps)."""
        return self.reserved.startswith(("EDF+D", "BDF+D"))

    @property
    def format_name(self) -> str:
        base = "BDF" if self.bdf else "EDF"
        if self.plus:
            return f"{base}+{'D' if self.discontinuous else 'C'}"
        return base

    def sampling_rates(self) -> dict[str, float]:
        """Sampling rate of each data signal, by label (annotation signals excluded)."""
        if self.record_duration <= 0:
            return {}
        return {s.label: s.samples_per_record / self.record_duration for s in self.signals if not s.is_annotation}

    def signal_offset(self, index: int) -> int:
        """Byte offset of signal ``index`` within one data record."""
        return sum(s.samples_per_record for s in self.signals[:index]) * self.bytes_per_sample


def _field(raw: bytes, name: str, path: Path, signal: int | None = None) -> str:
    where = f"signal {signal + 1} {name}" if signal is not None else f"header field '{name}'"
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError:
        printable = raw.decode("latin-1").strip()
        raise CorruptRecordingError(
            f"cannot read '{path.name}': {where} contains non-ASCII bytes ({printable!r}); EDF headers must be ASCII"
        ) from None


def _number(text: str, name: str, path: Path, kind=float, signal: int | None = None):
    where = f"signal {signal + 1} {name}" if signal is not None else f"header field '{name}'"
    try:
        value = float(text)
    except ValueError:
        raise CorruptRecordingError(f"cannot read '{path.name}': {where} is {text!r}, not a number") from None
    if kind is int:
        if not value.is_integer():
            raise CorruptRecordingError(f"cannot read '{path.name}': {where} is {text!r}, not a whole number")
        return int(value)
    return value


def _parse_start(date: str, time: str) -> dt.datetime | None:
    try:
        day, month, year = (int(x) for x in date.split("."))
        hour, minute, second = (int(x) for x in time.replace(":", ".").split("."))
        # EDF's two-digit year: 85-99 are 1985-1999, 00-84 are 2000-2084.
        year += 1900 if year >= 85 else 2000
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        return None


def _check_limits(header: EdfHeader, name: str) -> None:
    """Refuse a header whose sizes exceed the resource limits above (one line naming the limit)."""
    import math

    if not math.isfinite(header.record_duration):
        raise CorruptRecordingError(f"cannot read '{name}': data record duration is {header.record_duration}")
    if header.record_bytes > MAX_RECORD_BYTES:
        raise _limit(name, "one data record", header.record_bytes, MAX_RECORD_BYTES, " bytes")
    if header.n_records > MAX_RECORDS:
        raise _limit(name, "the number of data records", header.n_records, MAX_RECORDS)
    data = [s for s in header.signals if not s.is_annotation]
    if data and header.record_duration == 0:
        raise CorruptRecordingError(f"cannot read '{name}': data record duration is 0 but the file holds signals")
    for i, sig in enumerate(header.signals):
        if sig.is_annotation:
            continue
        rate = sig.samples_per_record / header.record_duration
        if rate > MAX_SAMPLING_RATE:
            raise _limit(name, f"signal {i + 1} ({sig.label!r}) sampling rate", round(rate), round(MAX_SAMPLING_RATE), " Hz")
    per_record = sum(s.samples_per_record for s in header.signals if s.is_annotation) * header.bytes_per_sample
    if per_record > MAX_ANNOTATION_BYTES_PER_RECORD:
        raise _limit(name, "annotation text per data record", per_record, MAX_ANNOTATION_BYTES_PER_RECORD, " bytes")
    if per_record and per_record * max(header.n_records, 0) > MAX_ANNOTATION_BYTES:
        raise _limit(name, "annotation text in the file", per_record * header.n_records, MAX_ANNOTATION_BYTES, " bytes")


def read_edf_header(path: str | os.PathLike, *, check_size: bool = True) -> EdfHeader:
    """Read and validate the header of an EDF/EDF+/BDF file.

    Parameters
    ----------
    path : path-like
        The file.
    check_size : bool
        Check that the file holds every data record the header declares.

    Returns
    -------
    header : EdfHeader

    Raises
    ------
    dbrain.errors.CorruptRecordingError
        With the exact reason: empty file, header cut short, non-ASCII
        labels, duplicate labels, inconsistent sizes, missing records, or a
        size over one of the resource limits (``MAX_SIGNALS``,
        ``MAX_SAMPLES_PER_RECORD``, ``MAX_RECORD_BYTES``, ``MAX_RECORDS``,
        ``MAX_SAMPLING_RATE``, ``MAX_ANNOTATION_BYTES_PER_RECORD``,
        ``MAX_ANNOTATION_BYTES``), named in the message.
    """
    path = Path(path)
    size = path.stat().st_size
    name = path.name
    if size == 0:
        raise CorruptRecordingError(f"cannot read '{name}': the file is empty (0 bytes)")
    with open(path, "rb") as fid:
        bdf, values, n_signals = _read_main_fields(fid, path, size)
        needed = 256 * (n_signals + 1)
        sig_raw = fid.read(needed - 256)
    signals = _signal_headers(_signal_columns(sig_raw, n_signals, path), n_signals, path)
    _check_unique_labels(signals, name)
    header = EdfHeader(
        path=path,
        bdf=bdf,
        patient=values["patient"],
        recording=values["recording"],
        start=_parse_start(values["startdate"], values["starttime"]),
        header_bytes=needed,
        reserved=values["reserved"],
        n_records=_number(values["n_records"], "number of data records", path, int),
        record_duration=_number(values["record_duration"], "data record duration", path, float),
        signals=signals,
        file_size=size,
    )
    if header.record_duration < 0:
        raise CorruptRecordingError(f"cannot read '{name}': data record duration is negative")
    # Before the size check, so a hostile header is named by the limit it breaks.
    _check_limits(header, name)
    if check_size and n_signals:
        _check_records_present(header, size, needed, name)
    _check_limits(header, name)  # again: '-1 records' is now the count the file holds
    return header


def _read_main_fields(fid, path: Path, size: int) -> tuple[bool, dict[str, str], int]:
    """Read the 256-byte main header: whether it is BDF, its fields as text, and the number of signals (checked)."""
    name = path.name
    main = fid.read(256)
    if len(main) < 256:
        raise CorruptRecordingError(f"cannot read '{name}': the file ends at byte {size}, inside the 256-byte EDF header")
    version = main[:8]
    bdf = version == b"\xffBIOSEMI"
    if not bdf and version.strip() != b"0":
        raise CorruptRecordingError(
            f"cannot read '{name}': not an EDF or BDF file (version field is {version!r}, expected '0' or '\\xffBIOSEMI')"
        )
    values, pos = {}, 8
    for key, width in _MAIN[1:]:
        chunk = main[pos : pos + width]
        pos += width
        if key in ("patient", "recording"):
            # Patient and recording are free text that older devices fill with
            # Latin-1; keep them readable instead of refusing the file.
            values[key] = chunk.decode("latin-1").strip()
        else:
            values[key] = _field(chunk, key, path)
    n_signals = _number(values["n_signals"], "number of signals", path, int)
    if n_signals < 0:
        raise CorruptRecordingError(f"cannot read '{name}': header declares {n_signals} signals")
    if n_signals > MAX_SIGNALS:
        raise _limit(name, "the number of signals", n_signals, MAX_SIGNALS)
    needed = 256 * (n_signals + 1)
    if size < needed:
        raise CorruptRecordingError(
            f"cannot read '{name}': header declares {n_signals} signals but the file ends at byte {size} "
            f"(the header alone needs {needed} bytes)"
        )
    header_bytes = _number(values["header_bytes"], "header bytes", path, int)
    if header_bytes != needed:
        raise CorruptRecordingError(
            f"cannot read '{name}': header-bytes field says {header_bytes} but {n_signals} signals need {needed}"
        )
    return bdf, values, n_signals


def _signal_columns(sig_raw: bytes, n_signals: int, path: Path) -> dict[str, list[str]]:
    """Split the per-signal header (stored field by field, each for every signal) into text columns."""
    columns: dict[str, list[str]] = {}
    pos = 0
    for key, width in _SIGNAL:
        columns[key] = []
        for i in range(n_signals):
            chunk = sig_raw[pos : pos + width]
            pos += width
            if key in ("transducer", "prefiltering", "reserved", "physical_dimension"):
                columns[key].append(chunk.decode("latin-1").strip())
            else:
                columns[key].append(_field(chunk, key, path, i))
    return columns


def _signal_headers(columns: dict[str, list[str]], n_signals: int, path: Path) -> list[EdfSignalHeader]:
    """One checked :class:`EdfSignalHeader` per signal."""
    signals = []
    for i in range(n_signals):
        sig = EdfSignalHeader(
            label=columns["label"][i],
            transducer=columns["transducer"][i],
            physical_dimension=columns["physical_dimension"][i],
            physical_min=_number(columns["physical_min"][i], "physical minimum", path, float, i),
            physical_max=_number(columns["physical_max"][i], "physical maximum", path, float, i),
            digital_min=_number(columns["digital_min"][i], "digital minimum", path, int, i),
            digital_max=_number(columns["digital_max"][i], "digital maximum", path, int, i),
            prefiltering=columns["prefiltering"][i],
            samples_per_record=_number(columns["samples_per_record"][i], "samples per record", path, int, i),
        )
        _check_signal(sig, i, path.name)
        signals.append(sig)
    return signals


def _check_signal(sig: EdfSignalHeader, i: int, name: str) -> None:
    """Samples per record within limits, digital range not empty, physical range not zero."""
    if sig.samples_per_record <= 0:
        raise CorruptRecordingError(
            f"cannot read '{name}': signal {i + 1} ({sig.label!r}) has {sig.samples_per_record} samples per record"
        )
    if sig.samples_per_record > MAX_SAMPLES_PER_RECORD:
        raise _limit(name, f"signal {i + 1} ({sig.label!r}) samples per record", sig.samples_per_record, MAX_SAMPLES_PER_RECORD)
    if sig.digital_max <= sig.digital_min:
        raise CorruptRecordingError(
            f"cannot read '{name}': signal {i + 1} ({sig.label!r}) has digital maximum {sig.digital_max} <= minimum {sig.digital_min}"
        )
    if sig.physical_max == sig.physical_min:
        raise CorruptRecordingError(
            f"cannot read '{name}': signal {i + 1} ({sig.label!r}) has equal physical minimum and maximum"
        )


def _check_unique_labels(signals: list[EdfSignalHeader], name: str) -> None:
    """No two data signals share a label (annotation signals may repeat)."""
    seen: dict[str, int] = {}
    for i, sig in enumerate(signals):
        if sig.is_annotation:
            continue
        if sig.label in seen:
            raise CorruptRecordingError(
                f"cannot read '{name}': duplicate channel label {sig.label!r} (signals {seen[sig.label] + 1} and {i + 1})"
            )
        seen[sig.label] = i


def _check_records_present(header: EdfHeader, size: int, needed: int, name: str) -> None:
    """The file holds every declared data record; ``n_records == -1`` (recording in progress) becomes the count it holds."""
    record_bytes = header.record_bytes
    available = (size - needed) // record_bytes
    if header.n_records == -1:
        header.n_records = available
    elif header.n_records < 0:
        raise CorruptRecordingError(f"cannot read '{name}': header declares {header.n_records} data records")
    elif available < header.n_records:
        raise CorruptRecordingError(
            f"cannot read '{name}': header declares {header.n_records} data records of {record_bytes} bytes "
            f"but the file holds only {available} (file ends at byte {size}, expected {needed + header.n_records * record_bytes})"
        )
