"""read_recording: one entry point for every EEG format dbrain reads.

dbrain does not re-implement MNE's readers. It picks one from an extension
table, validates what MNE does not (EDF headers), puts EDF+D records back on
their true time axis, turns reader failures into one-line dbrain errors, and
normalises channel labels once, here, so no caller ever sees vendor labels.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..channels._raw import _apply_mapping
from ..errors import CorruptRecordingError, RecordingError, UnsupportedFormatError
from ..utils import logger, verbose
from ._edf_discontinuous import place_on_time_axis
from ._edf_header import read_edf_header
from ._info import RecordingInfo
from ._matprobe import install as install_mat_reader

# extension -> (format name, reader key)
_READERS = {
    ".edf": ("EDF", "edf"),
    ".rec": ("EDF", "edf"),
    ".bdf": ("BDF", "edf"),
    ".gdf": ("GDF", "gdf"),
    ".vhdr": ("BrainVision", "brainvision"),
    ".ahdr": ("BrainVision", "brainvision"),
    ".set": ("EEGLAB", "eeglab"),
    ".fif": ("FIF", "fif"),
    ".fif.gz": ("FIF", "fif"),
    ".eeg": ("Nihon Kohden", "nihon"),
    ".cnt": ("Neuroscan CNT", "cnt"),
    ".lay": ("Persyst", "persyst"),
    ".cdt": ("Curry", "curry"),
    ".dat": ("Curry", "curry"),
    ".mff": ("EGI MFF", "egi"),
    ".nxe": ("eXimia", "eximia"),
    ".nedf": ("NEDF", "nedf"),
    ".xdf": ("XDF", "xdf"),
}

# Known files that are not the entry point of a recording: say which one is.
_HINTS = {
    ".vmrk": "this is a BrainVision marker file; open the matching .vhdr header instead",
    ".amrk": "this is a BrainVision marker file; open the matching .ahdr header instead",
    ".fdt": "this is EEGLAB sample data; open the matching .set file instead",
    ".pnt": "this is a Nihon Kohden side file; open the matching .EEG file instead",
    ".21e": "this is a Nihon Kohden electrode file; open the matching .EEG file instead",
    ".log": "this is a Nihon Kohden log file; open the matching .EEG file instead",
    ".11d": "this is a Nihon Kohden side file; open the matching .EEG file instead",
    ".cmt": "this is a Nihon Kohden comment file; open the matching .EEG file instead",
    ".cn2": "this is a Nihon Kohden side file; open the matching .EEG file instead",
    ".dap": "this is a Curry parameter file; open the matching .dat or .cdt file instead",
    ".rs3": "this is a Curry sensor file; open the matching .dat or .cdt file instead",
    ".cef": "this is a Curry event file; open the matching .dat or .cdt file instead",
    ".dpa": "this is a Curry parameter file; open the matching .cdt file instead",
    ".avr": "this is an averaged (ERP) file, not a continuous recording",
    ".locs": "this is an EEGLAB channel-location file, not a recording",
    ".tsv": "this is a table, not a recording (events TSVs are read with dbrain.events.read_events)",
    ".json": "this is a JSON sidecar, not a recording",
    ".csv": "CSV files are not read as recordings (no sampling rate or units)",
}

_TYPED_FORMATS = {"FIF", "BIDS", "EGI MFF"}


def _extension(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _reason(exc: BaseException) -> str:
    """The one informative line of a reader's exception."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    for prefix in ("RuntimeError: ", "ValueError: ", "OSError: "):
        text = text.removeprefix(prefix)
    return text


def _find_bids_root(path: Path) -> Path | None:
    for parent in [path, *path.parents]:
        if (parent / "dataset_description.json").is_file():
            return parent
    return None


def _bids_recordings(root: Path) -> list[Path]:
    exts = {".edf", ".bdf", ".vhdr", ".set", ".fif"}
    return sorted(p for p in root.glob("sub-*/**/eeg/*_eeg.*") if p.suffix.lower() in exts and "derivatives" not in p.parts)


def _read_bids(path: Path, root: Path) -> mne.io.BaseRaw:
    import mne_bids

    install_mat_reader()  # a BIDS recording may be an EEGLAB .set
    bids_path = mne_bids.get_bids_path_from_fname(path)
    bids_path.update(root=root)
    return mne_bids.read_raw_bids(bids_path, verbose="error")


def _read_cnt(path: Path) -> mne.io.BaseRaw:
    # Neuroscan headers do not always say whether samples are 16 or 32 bit and
    # MNE's size-based guess fails when the sample count is 0 or odd; 16 bit is
    # the common case, so try it before 32 bit.
    errors = []
    for data_format in ("auto", "int16", "int32"):
        try:
            raw = mne.io.read_raw_cnt(path, data_format=data_format, preload=False)
            raw.get_data(start=max(raw.n_times - 1, 0))
            return raw
        except Exception as exc:  # noqa: BLE001 - reader failure, try the next layout
            errors.append(_reason(exc))
    raise CorruptRecordingError(f"cannot read '{path.name}': not a readable Neuroscan CNT file ({errors[-1]})")


def _read_egi(path: Path) -> mne.io.BaseRaw:
    raw = mne.io.read_raw_egi(path, preload=False)
    _check_mff_epochs(path, raw)
    return raw


def _check_mff_epochs(path: Path, raw: mne.io.BaseRaw) -> None:
    """Refuse an MFF whose epochs do not split its EEG signal blocks in order, each holding its own samples.

    MNE places samples by the epochs' times and mffpy reads an epoch from the
    blocks ``epochs.xml`` names. A block claimed by two epochs (found by
    ``benchmarks/fuzz.py``) opened fine, then failed with a NumPy shape error
    when a read crossed into that epoch: MNE checks only the totals.
    """
    from mffpy import Reader

    extras = raw._raw_extras[0]
    # MNE's per-epoch sample counts (from the epochs' times, in the file's time unit)
    lengths = [int(b) - int(a) for a, b in zip(extras["first_samps"], extras["last_samps"], strict=True)]
    reader = Reader(str(path))
    counts = reader.block_sample_counts["EEG"]
    expected_first = 1
    for epoch, length in zip(reader.epochs, lengths, strict=True):
        if epoch.firstBlock != expected_first or epoch.lastBlock < epoch.firstBlock:
            raise CorruptRecordingError(
                f"cannot read '{path.name}': epochs.xml names signal blocks {epoch.firstBlock}-{epoch.lastBlock} "
                f"where block {expected_first} comes next"
            )
        held = sum(counts[epoch.firstBlock - 1 : epoch.lastBlock])
        if held != length:
            raise CorruptRecordingError(
                f"cannot read '{path.name}': an epoch of {length} samples has {held} in its signal blocks"
            )
        expected_first = epoch.lastBlock + 1
    if expected_first != len(counts) + 1:
        raise CorruptRecordingError(
            f"cannot read '{path.name}': epochs.xml covers {expected_first - 1} of {len(counts)} signal blocks"
        )


def _read_xdf(path: Path) -> mne.io.BaseRaw:
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path))
    eeg = [s for s in streams if s["info"]["type"][0].lower() == "eeg" and len(s["time_stamps"])]
    if not eeg:
        raise CorruptRecordingError(f"cannot read '{path.name}': the XDF file has no EEG stream")
    stream = eeg[0]
    info_xml = stream["info"]
    sfreq = float(info_xml["nominal_srate"][0])
    n = int(info_xml["channel_count"][0])
    try:
        labels = [c["label"][0] for c in info_xml["desc"][0]["channels"][0]["channel"]]
    except (KeyError, TypeError, IndexError):
        labels = [f"EEG{i + 1:03d}" for i in range(n)]
    data = np.asarray(stream["time_series"], dtype=float).T
    unit = ""
    try:
        unit = info_xml["desc"][0]["channels"][0]["channel"][0]["unit"][0].lower()
    except (KeyError, TypeError, IndexError):
        pass
    scale = 1e-6 if unit in ("microvolts", "uv", "µv", "") else 1.0
    info = mne.create_info(labels, sfreq, "eeg")
    return mne.io.RawArray(data * scale, info, verbose="error")


def _check_gdf_header(path: Path) -> None:
    """Refuse a GDF header whose signal count is over MAX_SIGNALS or larger than the file.

    MNE's GDF 1 reader builds a list of every declared channel before checking
    anything: a count of 69,544,383 in a 371-byte file took 2.5 GB (found by
    ``benchmarks/fuzz.py``, read_gdf).
    """
    import struct

    from ._edf_header import MAX_SIGNALS

    with open(path, "rb") as fid:
        head = fid.read(256)
    size = path.stat().st_size
    if len(head) < 256:
        return  # MNE words the other problems
    try:
        # as MNE reads it: it does not check the "GDF" magic (a file starting "00000000" is GDF 0.0)
        version = float(head[:8].decode()[4:])
    except (UnicodeDecodeError, ValueError):
        return
    # GDF 1.x: uint32 signal count at byte 252; GDF 2.x: uint16 (MNE's split at 1.9)
    n_signals = struct.unpack("<I", head[252:256])[0] if version < 1.9 else struct.unpack("<H", head[252:254])[0]
    if n_signals > MAX_SIGNALS:
        raise CorruptRecordingError(
            f"cannot read '{path.name}': the number of signals is {n_signals:,}, over dbrain's limit of {MAX_SIGNALS:,}"
        )
    if 256 * (n_signals + 1) > size:
        raise CorruptRecordingError(
            f"cannot read '{path.name}': the header declares {n_signals:,} signals, more than the file's {size:,} bytes hold"
        )


def _read_gdf(path: Path) -> mne.io.BaseRaw:
    _check_gdf_header(path)
    return mne.io.read_raw_gdf(path, preload=False, stim_channel=None)


#: Highest electrode code accepted in a Nihon Kohden .21E file (real files use 4-digit codes, up to 0255).
MAX_NIHON_CODE = 65_535


def _check_nihon_21e(path: Path) -> None:
    """Refuse a Nihon Kohden .21E electrode file with an electrode code over MAX_NIHON_CODE.

    MNE's reader grows its list of channel labels up to the highest code it
    finds: one line ``0030000000=T1`` in a 2.6 kB file took over 2 GB (found by
    ``benchmarks/fuzz.py``, read_nihon_kohden). The lines are read as MNE reads
    them (its encodings, its sections, ``int()`` of the part before ``=``).
    """
    e_path = path.with_suffix(".21E")
    if not e_path.exists():
        return  # MNE uses its default labels and warns
    raw = e_path.read_bytes()
    for enc in ("utf-8", "latin1"):  # MNE's order; the first that decodes is the one it parses
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        break
    else:
        return
    keep = False
    for line in io.StringIO(text, newline=None):
        if line.startswith("["):
            keep = "ELECTRODE" in line or "REFERENCE" in line
        elif keep and line.count("=") == 1:
            try:
                code = int(line.split("=")[0])
            except ValueError:
                continue  # MNE words it
            if code > MAX_NIHON_CODE:
                raise CorruptRecordingError(
                    f"cannot read '{path.name}': its electrode file '{e_path.name}' declares electrode code {code:,}, "
                    f"over dbrain's limit of {MAX_NIHON_CODE:,}"
                )


def _read_nihon(path: Path) -> mne.io.BaseRaw:
    _check_nihon_21e(path)
    return mne.io.read_raw_nihon(path, preload=False)


def _read_eeglab(path: Path) -> mne.io.BaseRaw:
    # a damaged MAT file can crash SciPy's reader itself: MNE gets it parsed in a child process
    install_mat_reader()
    return mne.io.read_raw_eeglab(path, preload=False)


# reader key -> function(path) returning a lazy Raw where the format allows.
_MNE_READERS = {
    "gdf": lambda p: _read_gdf(p),
    "brainvision": lambda p: mne.io.read_raw_brainvision(p, preload=False),
    "eeglab": lambda p: _read_eeglab(p),
    "fif": lambda p: mne.io.read_raw_fif(p, preload=False),
    "nihon": lambda p: _read_nihon(p),
    "cnt": lambda p: _read_cnt(p),
    "persyst": lambda p: mne.io.read_raw_persyst(p, preload=False),
    "curry": lambda p: mne.io.read_raw_curry(p, preload=False),
    "egi": lambda p: _read_egi(p),
    "eximia": lambda p: mne.io.read_raw_eximia(p, preload=False),
    "nedf": lambda p: mne.io.read_raw_nedf(p, preload=False),
    "xdf": lambda p: _read_xdf(p),
}


def _read_with_mne(path: Path, key: str, header) -> mne.io.BaseRaw:
    if key == "edf":
        reader = mne.io.read_raw_bdf if header.bdf else mne.io.read_raw_edf
        return reader(path, preload=False, infer_types=False, stim_channel=None)
    return _MNE_READERS[key](path)


def _specific_hint(path: Path, key: str, exc: BaseException) -> str | None:
    for header in (".vhdr", ".ahdr"):
        if key in ("nihon", "curry") and path.with_suffix(header).exists():
            return f"this {path.suffix} file is BrainVision data; open '{path.with_suffix(header).name}' instead"
    if key == "eeglab" and "number of trials" in str(exc).lower():
        return "this EEGLAB file holds epochs, not a continuous recording"
    if key == "curry" and path.suffix.lower() == ".dat" and path.with_suffix(".lay").exists():
        return f"this is Persyst sample data; open '{path.with_suffix('.lay').name}' instead"
    if key == "curry" and "header file" in str(exc):
        return "a .dat file without a Curry header (.dap, .cdt.dpa) or Persyst .lay beside it is not a recording dbrain can read"
    return None


def _locate(path: Path) -> tuple[Path, str, str]:
    """Resolve ``path`` to (file, format name, reader key), or raise a clear error."""
    if not path.exists():
        raise RecordingError(f"cannot read '{path}': no such file or directory")
    if path.is_dir():
        if path.suffix.lower() == ".mff":
            return path, "EGI MFF", "egi"
        root = _find_bids_root(path)
        if root is not None:
            recordings = _bids_recordings(path)
            if len(recordings) == 1:
                return recordings[0], "BIDS", "bids"
            if not recordings:
                raise RecordingError(f"cannot read '{path}': BIDS folder has no EEG recording (sub-*/…/eeg/*_eeg.*)")
            raise RecordingError(
                f"cannot read '{path}': BIDS folder holds {len(recordings)} EEG recordings; give one of them, "
                f"e.g. '{recordings[0].relative_to(path)}'"
            )
        raise RecordingError(
            f"cannot read '{path}': is a directory, not a recording (give a file, an .mff folder or a BIDS dataset)"
        )
    if not os.access(path, os.R_OK):
        raise RecordingError(f"cannot read '{path}': permission denied")
    ext = _extension(path)
    if ext in _HINTS:
        raise UnsupportedFormatError(f"cannot read '{path.name}': {_HINTS[ext]}")
    if ext not in _READERS:
        known = ", ".join(sorted({e for e in _READERS if e != ".fif.gz"}))
        raise UnsupportedFormatError(
            f"cannot read '{path.name}': unknown file type '{ext or '(none)'}' (dbrain reads {known}, .mff folders and BIDS datasets)"
        )
    if path.stat().st_size == 0:
        raise CorruptRecordingError(f"cannot read '{path.name}': the file is empty (0 bytes)")
    fmt, key = _READERS[ext]
    root = _find_bids_root(path.parent)
    if root is not None and "_eeg" in path.stem and "derivatives" not in path.relative_to(root).parts:
        return path, "BIDS", "bids"
    return path, fmt, key


@verbose
def read_recording(path: str | os.PathLike, *, preload: bool = False, verbose=None) -> tuple[mne.io.BaseRaw, RecordingInfo]:
    """Read an EEG recording of any supported format.

    Parameters
    ----------
    path : path-like
        An EDF/EDF+/BDF, BrainVision (.vhdr), EEGLAB (.set), FIF, Nihon Kohden
        (.EEG), GDF, Neuroscan (.cnt), Persyst (.lay), Curry, EGI (.mff), XDF
        file; a BIDS recording file or a BIDS dataset folder holding one
        EEG recording.
    preload : bool
        Load the samples into memory. By default the ``Raw`` is lazy and reads
        samples on demand, so 72 h recordings open instantly.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    raw : mne.io.BaseRaw
        The recording with normalised channel names and types. EDF+D gaps are
        zero-filled and annotated ``BAD_ACQ_SKIP``, so times stay true.
    info : RecordingInfo
        Format, start, duration, rates, channel mapping, gaps, annotations.

    Raises
    ------
    dbrain.errors.RecordingError
        If the path is missing, a directory that is not a recording, or
        unreadable; :class:`~dbrain.errors.UnsupportedFormatError` for unknown
        file types and :class:`~dbrain.errors.CorruptRecordingError` for
        damaged files, each with a one-line reason.
    """
    path = Path(path)
    file, fmt, key = _locate(path)
    header = None
    if file.suffix.lower() in (".edf", ".bdf", ".rec"):
        header = read_edf_header(file)
        fmt = header.format_name if fmt != "BIDS" else fmt
    caught: list[str] = []
    # Some MNE readers print to stdout; keep stdout for dbrain's own output.
    stdout = io.StringIO()
    with (
        warnings.catch_warnings(record=True) as records,
        mne.utils.use_log_level("warning"),
        contextlib.redirect_stdout(stdout),
    ):
        warnings.simplefilter("always")
        try:
            if key == "bids":
                raw = _read_bids(file, _find_bids_root(file.parent))
            else:
                raw = _read_with_mne(file, key, header)
            if header is not None and not any(not sig.is_annotation for sig in header.signals):
                raise CorruptRecordingError(
                    f"cannot read '{file.name}': the file holds annotations only, no signals "
                    "(read it with dbrain.events or mne.read_annotations)"
                )
            if raw.n_times == 0:
                raise CorruptRecordingError(f"cannot read '{file.name}': the recording holds no samples")
            # Touch both ends: a file that declares more samples than it holds fails here, not mid-analysis.
            raw.get_data(start=0, stop=1)
            raw.get_data(start=raw.n_times - 1)
        except RecordingError:
            raise
        except MemoryError as exc:
            raise CorruptRecordingError(f"cannot read '{file.name}': header declares more data than can exist") from exc
        except Exception as exc:  # noqa: BLE001 - every reader failure becomes one clear line
            hint = _specific_hint(file, key, exc)
            raise CorruptRecordingError(f"cannot read '{file.name}': {hint or _reason(exc)}") from exc
        caught.extend(str(w.message).splitlines()[0] for w in records)
    caught.extend(line.strip() for line in stdout.getvalue().splitlines() if line.strip())
    caught = list(dict.fromkeys(caught))
    gaps: list[tuple[float, float]] = []
    if header is not None and header.discontinuous:
        raw, gaps = place_on_time_axis(raw, header)
    for message in caught:
        logger.info("reader: %s", message)

    blank = [i + 1 for i, name in enumerate(raw.ch_names) if not name.strip()]
    if blank:
        # e.g. a damaged Neuroscan header (found by benchmarks/fuzz.py): MNE reads it, renaming fails
        where = ", ".join(map(str, blank[:5])) + (" …" if len(blank) > 5 else "")
        raise CorruptRecordingError(f"cannot read '{file.name}': {len(blank)} channel(s) have no name (channel {where})")
    try:
        mapping = _apply_mapping(raw, keep_types=fmt in _TYPED_FORMATS)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CorruptRecordingError(f"cannot read '{file.name}': its channel names cannot be used ({_reason(exc)})") from exc
    if preload:
        raw.load_data(verbose="error")

    if header is not None:
        by_label = header.sampling_rates()
        rates = [by_label.get(o, raw.info["sfreq"]) for o in mapping["original"]]
    else:
        rates = [raw.info["sfreq"]] * len(mapping)
    mapping["sfreq"] = rates
    n_ann = int(sum(d != "BAD_ACQ_SKIP" for d in raw.annotations.description))
    info = RecordingInfo(
        path=str(path),
        format=fmt,
        start_time=raw.info["meas_date"],
        duration=raw.n_times / raw.info["sfreq"],
        sfreq=float(raw.info["sfreq"]),
        sampling_rates=dict(zip(mapping["name"], map(float, rates), strict=True)),
        channels=pd.DataFrame(mapping),
        discontinuities=gaps,
        n_annotations=n_ann,
        warnings=caught,
        header=_header_fields(header, raw),
    )
    return raw, info


def _header_fields(header, raw: mne.io.BaseRaw) -> dict:
    if header is not None:
        return {
            "patient": header.patient,
            "recording": header.recording,
            "reserved": header.reserved,
            "n_records": header.n_records,
            "record_duration": header.record_duration,
            "n_signals": len(header.signals),
        }
    fields = {}
    subject = raw.info.get("subject_info") or {}
    if subject.get("his_id"):
        fields["subject_id"] = str(subject["his_id"])
    device = raw.info.get("device_info") or {}
    if device.get("model") or device.get("type"):
        fields["device"] = " ".join(str(device[k]) for k in ("type", "model") if device.get(k))
    return fields


def list_recordings(path: str | os.PathLike) -> list[Path]:
    """List the recordings in a BIDS dataset or a folder (recursively).

    Side files (.vmrk, .fdt, …) and BIDS derivatives are left out.

    Parameters
    ----------
    path : path-like
        A BIDS dataset root or any folder.

    Returns
    -------
    paths : list of pathlib.Path
        Recording entry points (files, or ``.mff`` folders), sorted.
    """
    path = Path(path)
    if not path.is_dir():
        raise RecordingError(f"'{path}' is not a directory")
    if (path / "dataset_description.json").is_file():
        return _bids_recordings(path)
    found = []
    for p in sorted(path.rglob("*")):
        if p.is_dir() and p.suffix.lower() == ".mff":
            found.append(p)
        elif p.is_file() and _extension(p) in _READERS and not any(part.lower().endswith(".mff") for part in p.parts):
            found.append(p)
    return found
