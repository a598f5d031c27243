"""EDF+D and BDF+D: recordings with gaps.

An EDF+D file stores data records that need not follow each other in time:
the first time-keeping TAL of each record's annotation signal gives the
record's onset. MNE concatenates the records as if they were contiguous
(MNE issue #13583), so everything after a gap lands too early. dbrain keeps
MNE's reader for the samples and puts them back on the true time axis: a
lazy :class:`RawGapped` maps every requested time range onto the records
that hold it, fills gaps with zeros and marks each gap with a
``BAD_ACQ_SKIP`` annotation, which MNE's ``reject_by_annotation`` already
understands. Annotation onsets, which EDF+ stores in recording time, then
stay where they belong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mne
import numpy as np

from ..errors import CorruptRecordingError
from ._edf_header import EdfHeader

_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)")
_STAMP = re.compile(r"^([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?$")


def _records(header: EdfHeader) -> np.memmap:
    return np.memmap(
        header.path, dtype=np.uint8, mode="r", offset=header.header_bytes, shape=(header.n_records, header.record_bytes)
    )


def _annotation_slices(header: EdfHeader) -> list[slice]:
    out = []
    for i, sig in enumerate(header.signals):
        if sig.is_annotation:
            offset = header.signal_offset(i)
            out.append(slice(offset, offset + sig.samples_per_record * header.bytes_per_sample))
    return out


def read_tal_annotations(header: EdfHeader) -> list[tuple[float, float, str]]:
    """All EDF+ annotations as ``(onset, duration, text)``, onsets in recording time.

    Parsed here rather than by MNE because MNE drops annotations that fall
    beyond its gap-less data (after a gap the true onset is later than the
    concatenated data's end). Tolerates TALs that are not separated by a NUL
    byte, as some Nihon Kohden exports write them.
    """
    out = []
    records = _records(header)
    for r in range(header.n_records):
        for sl in _annotation_slices(header):
            block = bytes(records[r, sl]).decode("utf-8", errors="replace")
            for tal in block.split("\x00"):
                onset = duration = None
                after_empty = True  # a time stamp starts a TAL: first, or right after an empty field
                for item in tal.split("\x14"):
                    stamp = _STAMP.match(item)
                    if stamp is not None and after_empty:
                        onset = float(stamp.group(1))
                        duration = float(stamp.group(2)) if stamp.group(2) else 0.0
                        after_empty = False
                    elif item == "":
                        after_empty = True
                    else:
                        after_empty = False
                        if onset is not None:
                            out.append((onset, duration, item))
    del records
    return out


def read_record_onsets(header: EdfHeader) -> np.ndarray:
    """Return the onset (s) of every data record from its time-keeping TAL."""
    ann = [i for i, s in enumerate(header.signals) if s.is_annotation]
    if not ann:
        raise CorruptRecordingError(
            f"cannot read '{header.path.name}': {header.format_name} file has no annotation signal with record times"
        )
    offset = header.signal_offset(ann[0])
    width = header.signals[ann[0]].samples_per_record * header.bytes_per_sample
    records = _records(header)
    onsets = np.empty(header.n_records)
    for r in range(header.n_records):
        match = _ONSET.match(bytes(records[r, offset : offset + min(width, 32)]))
        if match is None:
            raise CorruptRecordingError(f"cannot read '{header.path.name}': data record {r + 1} has no time-keeping annotation")
        onsets[r] = float(match.group(1))
    del records
    return onsets


@dataclass(frozen=True)
class Segment:
    """A run of contiguous records: ``n`` samples from ``src`` in MNE's concatenation go to ``dst``."""

    dst: int
    src: int
    n: int


def find_segments(onsets: np.ndarray, record_duration: float, sfreq: float, path_name: str) -> list[Segment]:
    """Group records into contiguous segments placed on the true time axis."""
    spr = int(round(record_duration * sfreq))
    tol = 0.5 / sfreq
    if np.any(np.diff(onsets) < record_duration - tol):
        bad = int(np.argmax(np.diff(onsets) < record_duration - tol)) + 2
        raise CorruptRecordingError(f"cannot read '{path_name}': data record {bad} starts before the previous record ends")
    segments = []
    start_rec = 0
    for r in range(1, len(onsets) + 1):
        if r == len(onsets) or abs(onsets[r] - onsets[r - 1] - record_duration) > tol:
            dst = int(round((onsets[start_rec] - onsets[0]) * sfreq))
            segments.append(Segment(dst=dst, src=start_rec * spr, n=(r - start_rec) * spr))
            start_rec = r
    return segments


class RawGapped(mne.io.BaseRaw):
    """A lazy Raw that places the contiguous segments of ``inner`` on the true time axis.

    Samples inside gaps read as zeros; each gap carries a ``BAD_ACQ_SKIP``
    annotation.
    """

    def __init__(self, inner: mne.io.BaseRaw, segments: list[Segment]):
        info = inner.info.copy()
        # The inner reader already calibrates to volts; our own calibration is identity.
        with info._unlock():
            for ch in info["chs"]:
                ch["cal"] = 1.0
                ch["range"] = 1.0
        last = segments[-1].dst + segments[-1].n - 1
        super().__init__(
            info,
            preload=False,
            first_samps=(0,),
            last_samps=(last,),
            filenames=inner.filenames[:1],
            # MNE lets a reader see only _raw_extras and filenames while reading.
            raw_extras=[{"inner": inner, "segments": segments}],
            orig_format="double",
            verbose="error",
        )

    def _read_segment_file(self, data, idx, fi, start, stop, cals, mult):
        inner, segments = self._raw_extras[fi]["inner"], self._raw_extras[fi]["segments"]
        one = np.zeros((len(inner.ch_names), stop - start))
        for seg in segments:
            lo, hi = max(start, seg.dst), min(stop, seg.dst + seg.n)
            if lo >= hi:
                continue
            src = seg.src + (lo - seg.dst)
            one[:, lo - start : hi - start] = inner.get_data(start=src, stop=src + hi - lo)
        if mult is not None:
            data[:] = mult @ one[idx]
        else:
            data[:] = one[idx] * cals


def place_on_time_axis(inner: mne.io.BaseRaw, header: EdfHeader) -> tuple[mne.io.BaseRaw, list[tuple[float, float]]]:
    """Return ``inner`` on its true time axis and the list of gaps ``(onset, duration)`` in s.

    A file marked EDF+D whose records are in fact contiguous is returned unchanged.
    """
    sfreq = inner.info["sfreq"]
    onsets = read_record_onsets(header)
    segments = find_segments(onsets, header.record_duration, sfreq, header.path.name)
    if len(segments) == 1 and segments[0].dst == 0:
        return inner, []
    gaps = []
    for prev, nxt in zip(segments[:-1], segments[1:], strict=True):
        onset = (prev.dst + prev.n) / sfreq
        gaps.append((onset, (nxt.dst - prev.dst - prev.n) / sfreq))
    raw = RawGapped(inner, segments)
    # EDF+ stores annotation onsets in recording time, which is exactly the
    # gapped time axis: keep them as they are and add the gap markers.
    tals = read_tal_annotations(header)
    raw.set_annotations(
        mne.Annotations(
            onset=[t[0] for t in tals] + [g[0] for g in gaps],
            duration=[t[1] for t in tals] + [g[1] for g in gaps],
            description=[t[2] for t in tals] + ["BAD_ACQ_SKIP"] * len(gaps),
            orig_time=None,
        ),
        emit_warning=False,
    )
    return raw, gaps
