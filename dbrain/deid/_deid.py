"""De-identify an EDF/EDF+/BDF/BDF+ file at the byte level."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorruptRecordingError, OutputError, ParameterError, RecordingError, UnsupportedFormatError
from ..utils import logger, verbose
from ..utils._atomic import atomic_file
from ..utils.check import _validate_type
from ._header import new_main_header, new_signal_header
from ._phi import header_phi
from ._redact import Redactor
from ._tal import annotation_layout

#: Bytes read at a time; memory use stays near this whatever the file size.
CHUNK = 8 * 1024 * 1024
_SUFFIXES = {".edf": False, ".rec": False, ".bdf": True}


@dataclass(frozen=True)
class DeidReport:
    """What :func:`deidentify` did. It names fields and counts, never PHI itself.

    Attributes
    ----------
    in_path, out_path : Path
        Input and output files.
    format : str
        ``'EDF'``, ``'EDF+C'``, ``'EDF+D'``, ``'BDF'``, ``'BDF+C'`` or ``'BDF+D'``.
    fields_cleared : tuple of str
        Main-header fields whose bytes changed (``'patient'``, ``'recording'``,
        ``'startdate'``, ``'reserved'``, ``'number of records'``).
    signal_fields_scrubbed : int
        Per-signal header fields in which PHI was overwritten or the reserved
        field blanked.
    phi_strings : int
        How many PHI strings the input header yielded.
    annotations_total : int
        Annotation texts examined (one per text per data record).
    annotations_redacted : int
        Annotation texts in which something was replaced.
    redactions : dict
        Replaced spans by rule: ``'header'``, ``'title'``, ``'label'``, ``'name'``.
    date_shifted : int | None
        Days the start date was shifted by, or None.
    date_removed : bool
        Whether the start date was replaced by 01.01.85.
    start_date : str | None
        Start date written to the output (ISO), None when unknown or removed.
    n_records : int
        Data records copied.
    trailing_bytes_dropped : int
        Bytes after the last declared data record, not copied.
    """

    in_path: Path
    out_path: Path
    format: str
    fields_cleared: tuple[str, ...]
    signal_fields_scrubbed: int
    phi_strings: int
    annotations_total: int
    annotations_redacted: int
    redactions: dict = field(default_factory=dict)
    date_shifted: int | None = None
    date_removed: bool = False
    start_date: str | None = None
    n_records: int = 0
    trailing_bytes_dropped: int = 0

    def summary(self) -> str:
        """One line for people: what was cleared, redacted and done to the date."""
        if self.date_removed:
            date = "start date removed"
        elif self.date_shifted is not None:
            date = f"start date shifted by {self.date_shifted} days"
        else:
            date = "start date kept"
        fields = ", ".join(self.fields_cleared) or "nothing"
        text = (
            f"{self.out_path}: {self.format}, cleared {fields}; "
            f"redacted {self.annotations_redacted} of {self.annotations_total} annotation texts; {date}"
        )
        if self.trailing_bytes_dropped:
            text += f"; dropped {self.trailing_bytes_dropped} bytes after the last data record"
        return text


def _kind(path: Path) -> bool:
    """Return True for BDF, False for EDF; raise for anything else."""
    if not path.exists():
        raise RecordingError(f"cannot read '{path}': no such file or directory")
    ext = path.suffix.lower()
    if path.is_dir():
        what = f"'{ext}'" if ext else "directory"
        raise UnsupportedFormatError(
            f"de-identification of {what} recordings is not supported yet; convert to EDF first with 'dbrain convert'"
        )
    if ext in _SUFFIXES:
        return _SUFFIXES[ext]
    try:
        with open(path, "rb") as fid:
            head = fid.read(8)
    except OSError as exc:
        raise RecordingError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if head == b"\xffBIOSEMI":
        return True
    if head == b"0       ":
        return False
    raise UnsupportedFormatError(
        f"de-identification of '{ext or path.name}' files is not supported yet; convert to EDF first with 'dbrain convert'"
    )


def _check_paths(in_path: Path, out_path: Path, overwrite: bool, bdf: bool):
    want = (".bdf",) if bdf else (".edf", ".rec")
    if out_path.suffix.lower() not in want:
        raise ParameterError(f"output '{out_path.name}' must end in {' or '.join(want)} like the {'BDF' if bdf else 'EDF'} input")
    same = out_path.resolve() == in_path.resolve()
    if not same and out_path.exists():
        try:
            same = os.path.samefile(in_path, out_path)
        except OSError:  # pragma: no cover - racing deletion
            same = False
    if same:
        raise ParameterError(f"output '{out_path}' is the input file; de-identification never modifies its input")
    if out_path.is_dir():
        raise OutputError(f"output '{out_path}' is a directory")
    if out_path.exists() and not overwrite:
        raise OutputError(f"output '{out_path}' exists (use overwrite=True or --overwrite to replace it)")


def _read_exact(fid, n: int, name: str, where: int) -> bytes:
    data = fid.read(n)
    if len(data) != n:
        raise CorruptRecordingError(f"cannot read '{name}': the file ended at byte {where + len(data)} while being read")
    return data


def _copy_plain(src, dst, total: int, name: str, progress):
    done = 0
    while done < total:
        n = min(CHUNK, total - done)
        dst.write(_read_exact(src, n, name, src.tell()))
        done += n
        progress(done)


def _copy_records(src, dst, header, n_records: int, redactor: Redactor, name: str, progress):
    rec = header.record_bytes
    layout = [(offset, length) for _, offset, length in annotation_layout(header)]
    if not layout:
        _copy_plain(src, dst, n_records * rec, name, progress)
        return
    if rec <= CHUNK:
        per = max(1, CHUNK // rec)
        for first in range(0, n_records, per):
            k = min(per, n_records - first)
            buf = bytearray(_read_exact(src, k * rec, name, src.tell()))
            for j in range(k):
                base = j * rec
                for offset, length in layout:
                    a, b = base + offset, base + offset + length
                    block = bytes(buf[a:b])
                    new = redactor.block(block)
                    if new is not block:
                        buf[a:b] = new
            dst.write(buf)
            progress((first + k) * rec)
        return
    # Records larger than CHUNK: stream the signal bytes, load only annotation blocks.
    for record in range(n_records):
        pos = 0
        for offset, length in layout:
            _copy_plain(src, dst, offset - pos, name, lambda done: None)
            dst.write(redactor.block(_read_exact(src, length, name, src.tell())))
            pos = offset + length
        _copy_plain(src, dst, rec - pos, name, lambda done: None)
        progress((record + 1) * rec)


@verbose
def deidentify(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    date_shift_days: int | None = None,
    remove_date: bool = False,
    overwrite: bool = False,
    on_progress: Callable[[float], object] | None = None,
    verbose=None,
) -> DeidReport:
    """Write a de-identified copy of an EDF, EDF+, BDF or BDF+ file.

    The copy differs from the input only where identifying text can live:

    * the patient field becomes the EDF+ anonymous ``X X X X`` (code, sex,
      birth date and name unknown);
    * the recording field becomes ``Startdate dd-MMM-yyyy X X X`` (hospital,
      technician and equipment unknown, extra subfields dropped) for EDF+/BDF+,
      and ``Startdate X X X X`` for plain EDF/BDF, whose fields are free text;
    * the 44-byte reserved field keeps only its ``EDF+C``/``EDF+D``/``BDF+C``/
      ``BDF+D``/``24BIT`` marker;
    * per-signal text fields have the header's PHI strings overwritten with
      ``X`` and the per-signal reserved field is blanked;
    * annotation texts that look like personal names are replaced by
      ``[REDACTED]`` (see :mod:`dbrain.deid._redact`), keeping every
      annotation, its onset and duration, and the block size of every record.

    Signal samples are copied byte for byte, streaming, so memory use does not
    grow with the file. The input is opened read-only; the output appears
    whole or not at all. No PHI string of the input (:func:`phi_strings`) is
    left in the output's header or annotation texts.

    Parameters
    ----------
    in_path : path-like
        The recording (``.edf``, ``.bdf``, ``.rec``, or any file with an EDF/BDF
        header).
    out_path : path-like
        The de-identified copy; ``.edf``/``.rec`` for EDF input, ``.bdf`` for
        BDF input. Must not be the input.
    date_shift_days : int | None
        Shift the start date (header field and EDF+ ``Startdate`` subfield) by
        this many days. The result must lie in 1985-2084. Annotation onsets are
        relative to the start and need no change. None keeps the date.
    remove_date : bool
        Replace the start date by 01.01.85 and the ``Startdate`` subfield by
        ``X``, the EDF+ convention for an unknown date. The start time of day
        is kept.
    overwrite : bool
        Replace an existing ``out_path``.
    on_progress : callable | None
        Called with the fraction done (0 to 1) as data are copied.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    report : DeidReport

    Raises
    ------
    dbrain.errors.UnsupportedFormatError
        The input is not EDF/BDF (convert it first with ``dbrain convert``).
    dbrain.errors.CorruptRecordingError
        The header is damaged or the file is shorter than it declares.
    dbrain.errors.ParameterError
        Bad arguments, output equal to the input, or a shift out of range.
    dbrain.errors.OutputError
        The output exists (without ``overwrite``) or cannot be written.
    """
    _check_arguments(in_path, out_path, date_shift_days, remove_date, overwrite, on_progress)
    in_path, out_path = Path(in_path), Path(out_path)
    name = in_path.name
    header = _read_input_header(in_path, out_path, overwrite)
    n_records = header.n_records
    data_bytes = n_records * header.record_bytes
    trailing = header.file_size - header.header_bytes - data_bytes
    with open(in_path, "rb") as src:
        raw_header = _read_exact(src, header.header_bytes, name, 0)
    main = raw_header[:256]
    phi = header_phi(main[8:88], main[88:168], header.plus)
    redactor = Redactor(phi)
    new_main, changes = new_main_header(
        main,
        plus=header.plus,
        n_records=n_records,
        date_shift_days=date_shift_days,
        remove_date=remove_date,
        phi_lower=redactor.phi_lower,
        name=name,
    )
    annotation = {i for i, sig in enumerate(header.signals) if sig.is_annotation}
    new_signals, scrubbed = new_signal_header(raw_header[256:], len(header.signals), annotation, redactor.phi_lower)
    if trailing:
        logger.warning(f"'{name}': {trailing} bytes after the last of {n_records} data records are not copied")
    progress = _fraction_done(on_progress, data_bytes)
    _write_copy(in_path, out_path, header, new_main + new_signals, redactor, overwrite=overwrite, progress=progress)
    progress(data_bytes)
    report = DeidReport(
        in_path=in_path,
        out_path=out_path,
        format=header.format_name,
        fields_cleared=tuple(changes["fields"]) + (("signal headers",) if scrubbed else ()),
        signal_fields_scrubbed=scrubbed,
        phi_strings=len(phi),
        annotations_total=redactor.texts,
        annotations_redacted=redactor.texts_redacted,
        redactions=dict(redactor.rules),
        date_shifted=date_shift_days,
        date_removed=remove_date,
        start_date=changes["start_date"],
        n_records=n_records,
        trailing_bytes_dropped=trailing,
    )
    logger.info(report.summary())
    return report


def _check_arguments(in_path, out_path, date_shift_days, remove_date, overwrite, on_progress) -> None:
    """Types and combinations of :func:`deidentify`'s arguments."""
    _validate_type(in_path, (str, os.PathLike), "in_path", "path-like")
    _validate_type(out_path, (str, os.PathLike), "out_path", "path-like")
    if date_shift_days is not None:
        _validate_type(date_shift_days, int, "date_shift_days", "int or None")
    _validate_type(remove_date, bool, "remove_date")
    _validate_type(overwrite, bool, "overwrite")
    if remove_date and date_shift_days is not None:
        raise ParameterError("give either date_shift_days or remove_date, not both")
    if on_progress is not None and not callable(on_progress):
        raise ParameterError(f"on_progress must be callable or None, got {type(on_progress).__name__}")


def _read_input_header(in_path: Path, out_path: Path, overwrite: bool):
    """The input's validated EDF/BDF header, once the input is readable and the output acceptable."""
    from ..io._edf_header import read_edf_header

    name = in_path.name
    bdf = _kind(in_path)
    if not os.access(in_path, os.R_OK):
        raise RecordingError(f"cannot read '{in_path}': permission denied")
    _check_paths(in_path, out_path, overwrite, bdf)
    try:
        header = read_edf_header(in_path)
    except OSError as exc:
        raise RecordingError(f"cannot read '{in_path}': {exc.strerror or exc}") from None
    if header.bdf != bdf:
        kind = "BDF" if header.bdf else "EDF"
        raise CorruptRecordingError(f"cannot read '{name}': the file holds a {kind} header but is named '{in_path.suffix}'")
    if not header.signals:
        raise CorruptRecordingError(f"cannot read '{name}': the header declares no signals")
    return header


def _fraction_done(on_progress, data_bytes: int) -> Callable[[int], None]:
    """``progress(bytes copied)`` that reports the fraction done to ``on_progress`` (if any)."""
    total = max(data_bytes, 1)

    def progress(done: int):
        if on_progress is not None:
            on_progress(min(done / total, 1.0))

    return progress


def _write_copy(
    in_path: Path, out_path: Path, header, new_header: bytes, redactor: Redactor, *, overwrite: bool, progress
) -> None:
    """Write the new header and the redacted data records; the output appears whole or not at all."""
    with atomic_file(out_path, overwrite=overwrite) as tmp, open(in_path, "rb") as src:
        try:
            with open(tmp, "wb") as dst:
                dst.write(new_header)
                src.seek(header.header_bytes)
                _copy_records(src, dst, header, header.n_records, redactor, in_path.name, progress)
        except OSError as exc:
            raise OutputError(f"cannot write '{out_path}': {exc.strerror or exc}") from exc
