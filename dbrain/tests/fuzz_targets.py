"""Fuzz targets: one per entry point that takes bytes from outside (issue #25).

Each :class:`Target` turns one input (bytes) into files in a scratch folder
and calls a dbrain entry point on them. The contract checked is dbrain's:
bad input ends in a :class:`~dbrain.errors.DbrainError` (one clear line),
never in another exception (a traceback), a hang or a memory blow-up; where
a call succeeds, its invariants hold (a de-identified copy keeps its labels
and signal bytes).

Used by ``benchmarks/fuzz.py`` (the campaign) and by
``dbrain/tests/test_fuzz_corpus.py`` (the replay of the regression corpus in
``dbrain/tests/fuzz_corpus/<target>/``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dbrain.conftest import SHARED_DATA
from dbrain.errors import DbrainError

FORMATS = SHARED_DATA / "formats"
MNE_DATA = FORMATS / "mne-testing-data"
SAMPLE = FORMATS / "eeglab-sample-data" / "sample_data" / "test_data"


def scratch_root() -> Path:
    """Where the campaign writes its inputs: a RAM disk when there is one.

    Creating and removing files on the shared disk costs ~4 ms each here,
    more than most targets take to parse a small input. ``benchmarks/fuzz.py``
    sets ``DBRAIN_FUZZ_SCRATCH`` to a folder it removes when the target ends.
    """
    if os.environ.get("DBRAIN_FUZZ_SCRATCH"):
        return Path(os.environ["DBRAIN_FUZZ_SCRATCH"])
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


#: Between the files of a multi-file input (:attr:`Target.parts`).
PART_SEPARATOR = b"\n--dbrain-fuzz-part--\n"


class InvariantError(AssertionError):
    """A call succeeded but broke one of its guarantees (counts as a crash)."""


@dataclass
class Target:
    """One fuzzed entry point.

    Attributes
    ----------
    name : str
        ``benchmarks/fuzz.py --target NAME``.
    filename : str
        Name the input is written under in the scratch folder.
    seeds : list of Path
        Real files (under ``../shared/data``) the campaign starts from.
    run : callable
        ``run(path, workdir)``: the entry point on the written input.
    siblings : list of Path
        Files copied beside the input (the rest of a multi-file recording).
    synth : callable | None
        ``synth(workdir) -> list[bytes]``: seeds made on the fly (tiny files).
    head : int
        When > 0, only the first ``head`` bytes of the (single) seed are
        fuzzed and the seed's remaining bytes are appended unchanged: the
        header of a large file is the input, its samples are not (keeps
        corpus files small).
    shrink : callable | None
        ``shrink(seed) -> bytes``: crops a real seed file to a few records
        (its header kept real), applied when the campaign starts; small
        inputs are parsed and mutated faster.
    parts : list of (str, Path, int)
        Several files of a multi-file recording fuzzed together (replaces
        ``seeds``): ``(name in workdir, real file, head)``. The input is the
        parts joined by :data:`PART_SEPARATOR`; a part the input lacks (its
        separator mutated away) is written as the real file; ``head`` > 0
        fuzzes only that many first bytes of the file, the rest appended.
    repair : callable | None
        ``repair(name, data) -> bytes`` applied to the real parts (a real
        file MNE cannot read unchanged, mended so the input reaches deeper).
    """

    name: str
    filename: str
    seeds: list[Path]
    run: Callable[[Path, Path], object]
    siblings: list[Path] = field(default_factory=list)
    synth: Callable[[Path], list[bytes]] | None = None
    head: int = 0
    shrink: Callable[[bytes], bytes] | None = None
    parts: list[tuple[str, Path, int]] = field(default_factory=list)
    repair: Callable[[str, bytes], bytes] | None = None
    _ready: set = field(default_factory=set, repr=False)
    _tail: bytes | None = field(default=None, repr=False)
    _real: list[bytes] | None = field(default=None, repr=False)

    def needs_shared_data(self) -> bool:
        return bool(self.siblings) or self.head > 0 or bool(self.parts)

    def _real_parts(self) -> list[bytes]:
        if self._real is None:
            self._real = [p.read_bytes() for _, p, _ in self.parts]
            if self.repair is not None:
                self._real = [self.repair(name, d) for (name, _, _), d in zip(self.parts, self._real, strict=True)]
        return self._real

    def seed_bytes(self, workdir: Path) -> list[bytes]:
        """The seed inputs: real files that exist, then synthesised ones."""
        if self.parts:
            if not all(p.is_file() for _, p, _ in self.parts):
                return []
            heads = [d[:head] if head else d for (_, _, head), d in zip(self.parts, self._real_parts(), strict=True)]
            return [PART_SEPARATOR.join(heads)]
        out = [p.read_bytes() for p in self.seeds if p.is_file()]
        if self.shrink is not None:
            out = [self.shrink(d) for d in out]
        if self.head:
            out = [d[: self.head] for d in out]
        if self.synth is not None:
            out += self.synth(workdir)
        return out

    def prepare(self, data: bytes, workdir: Path) -> Path:
        """Write ``data`` (and the siblings) into ``workdir``; return the input path.

        The siblings are copied once per ``workdir``: the campaign reuses one
        folder for all its inputs and only the fuzzed file changes.
        """
        if workdir not in self._ready:
            for sib in self.siblings:
                if sib.is_dir():
                    # copyfile, not copy2: the shared data is read-only and the input is written into the copy
                    shutil.copytree(sib, workdir / sib.name, dirs_exist_ok=True, copy_function=shutil.copyfile)
                    for folder, _, _ in os.walk(workdir / sib.name):
                        os.chmod(folder, 0o755)
                elif sib.is_file():
                    shutil.copyfile(sib, workdir / sib.name)
            self._ready.add(workdir)
        if self.parts:
            pieces = data.split(PART_SEPARATOR, len(self.parts) - 1)
            for i, ((name, _, head), real) in enumerate(zip(self.parts, self._real_parts(), strict=True)):
                piece = pieces[i] + real[head:] if i < len(pieces) and head else pieces[i] if i < len(pieces) else real
                (workdir / name).write_bytes(piece)
            return workdir / self.parts[0][0]
        path = workdir / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.head:
            if self._tail is None:
                seed = self.seeds[0].read_bytes()
                self._tail = (self.shrink(seed) if self.shrink is not None else seed)[self.head :]
            data = data + self._tail
        path.write_bytes(data)
        return path

    def __call__(self, data: bytes, workdir: Path) -> None:
        """Run the entry point on ``data``; a DbrainError is a clean refusal and is swallowed."""
        path = self.prepare(data, workdir)
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            try:
                self.run(path, workdir)
            except DbrainError:
                pass


@contextlib.contextmanager
def _quiet():
    import logging

    import mne

    level = mne.set_log_level("ERROR", return_old_level=True)
    loggers = [logging.getLogger(name) for name in ("dbrain", "pyxdf", "pyxdf.pyxdf")]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        mne.set_log_level(level)
        for logger in loggers:
            logger.disabled = False


# --------------------------------------------------------------------------- entry points


def _read(path: Path, workdir: Path) -> None:
    from dbrain.io import read_recording

    raw, info = read_recording(path)
    # Both ends of the data, as the viewer and every step read them.
    n = raw.n_times
    raw.get_data(start=0, stop=min(n, 64))
    raw.get_data(start=max(0, n - 64), stop=n)
    info.to_dict()


def _edf_header(path: Path, workdir: Path) -> None:
    from dbrain.io._edf_discontinuous import read_record_onsets, read_tal_annotations
    from dbrain.io._edf_header import read_edf_header

    header = read_edf_header(path)
    if header.plus:
        read_tal_annotations(header)
        if header.discontinuous:
            read_record_onsets(header)


def _tal(path: Path, workdir: Path) -> None:
    """An annotation-only EDF+ (dbrain's annotations.edf): header, TAL parser, redactor, events importer."""
    import mne
    import numpy as np

    from dbrain.deid._redact import Redactor
    from dbrain.deid._tal import annotation_layout, text_spans
    from dbrain.events import events_from_annotations
    from dbrain.io._edf_discontinuous import read_tal_annotations
    from dbrain.io._edf_header import read_edf_header

    header = read_edf_header(path)
    read_tal_annotations(header)
    redactor = Redactor({b"Jane Doe", b"Smith"})
    data = path.read_bytes()
    for _, offset, length in annotation_layout(header):
        for r in range(header.n_records):
            block = data[header.header_bytes + r * header.record_bytes + offset :][:length]
            text_spans(block)
            if len(redactor.block(block)) != len(block):
                raise InvariantError("redacted annotation block changed size")
    try:
        annotations = mne.read_annotations(path)
    except (ValueError, RuntimeError, OSError, UnicodeDecodeError, IndexError):
        return  # MNE's own reader, not a dbrain entry point: only dbrain's importer below is held to the contract
    raw = mne.io.RawArray(np.zeros((1, 10)), mne.create_info(["x"], 1.0), verbose="error")
    try:
        raw.set_annotations(annotations)
    except (ValueError, RuntimeError, OverflowError):
        return  # MNE's set_annotations, not dbrain: a huge onset overflows its timedelta (OverflowError)
    with contextlib.suppress(ValueError, RuntimeError):
        events_from_annotations(raw)


def _deid(path: Path, workdir: Path) -> None:
    from dbrain.deid import deidentify

    out = workdir / f"deid{path.suffix}"
    deidentify(path, out, overwrite=True)
    from dbrain.io._edf_header import read_edf_header

    before, after = path.read_bytes(), out.read_bytes()
    # the signal count as dbrain reads it (a field such as b"3\x1f  " is 3 to it, not to int(bytes))
    ns = len(read_edf_header(path).signals)
    labels = slice(256, 256 + 16 * ns)
    if before[labels] != after[labels]:
        # Only a header PHI token may change a label, and the fuzzed patient field rarely names one.
        from dbrain.deid._clinical import signal_field_spans
        from dbrain.deid._phi import phi_strings

        phi = sorted({p.lower() for p in phi_strings(path)}, key=len, reverse=True)
        for i in range(ns):
            a, b = 256 + 16 * i, 256 + 16 * (i + 1)
            if before[a:b] != after[a:b] and not signal_field_spans(before[a:b], phi):
                raise InvariantError(f"de-identification changed label {before[a:b]!r} holding no PHI token")


def _convert(path: Path, workdir: Path) -> None:
    from dbrain.cli.convert import convert

    out = workdir / "converted.edf"
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        convert(path, out, overwrite=True)


_INGEST: dict = {}


def _ingest(path: Path, workdir: Path) -> None:
    """The server's ingest function (validation, de-identification, storage), without HTTP."""
    import hashlib

    from dbrain.server.db import Site, User, make_engine, make_sessionmaker, migrate
    from dbrain.server.ingest import ingest_file
    from dbrain.server.settings import Settings
    from dbrain.server.storage import ObjectStore

    if not _INGEST:
        import atexit

        home = Path(tempfile.mkdtemp(prefix="dbrain-fuzz-ingest-", dir=scratch_root()))
        # the test suite's process ends normally; a campaign child (exit() from C) is cleaned by its parent
        atexit.register(shutil.rmtree, home, True)
        settings = Settings(db_url=f"sqlite:///{home / 'db.sqlite'}", home=home)
        engine = make_engine(settings.db_url)
        migrate(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as db:
            site = Site(name="fuzz")
            db.add(site)
            db.flush()
            user = User(username="fuzz", password_hash="x", role="technologist", site_id=site.id)
            db.add(user)
            db.commit()
            user_id = user.id
        _INGEST.update(settings=settings, sessions=sessions, store=ObjectStore(home), user_id=user_id)
    from dbrain.server.auth import Principal

    # as the upload route does: the upload lands in the store's scratch (same file system: ingest moves it)
    scratch = _INGEST["store"].scratch()
    upload = scratch / path.name
    shutil.copyfile(path, upload)
    with _INGEST["sessions"]() as db:
        who = Principal(user=db.get(User, _INGEST["user_id"]), via="token")
        try:
            ingest_file(
                db, _INGEST["store"], _INGEST["settings"], who, upload, hashlib.sha256(path.read_bytes()).hexdigest(), path.name
            )
        finally:
            db.rollback()
            shutil.rmtree(scratch, ignore_errors=True)


def _events(path: Path, workdir: Path) -> None:
    from dbrain.events import read_events, write_events

    events = read_events(path)
    write_events(events, workdir / "again.tsv")


# --------------------------------------------------------------------------- real seeds cropped
# A real file keeps its header (every field as the vendor wrote it) and loses all but a few
# records: the fuzzer's inputs are small, so each is written, parsed and mutated quickly.


def _crop_edf(data: bytes, records: int = 2) -> bytes:
    """An EDF/BDF file cut to its first ``records`` data records (header field updated)."""
    try:
        header_bytes = int(data[184:192])
        n_records = int(data[236:244])
        ns = int(data[252:256])
        at = 256 + ns * 216
        per_record = sum(int(data[at + 8 * i : at + 8 * i + 8]) for i in range(ns))
    except ValueError:
        return data
    if n_records <= records:
        return data
    width = 3 if data[:1] == b"\xff" else 2
    return data[:236] + f"{records:<8d}".encode() + data[244:header_bytes] + data[header_bytes:][: records * per_record * width]


def _crop_gdf(data: bytes, records: int = 16) -> bytes:
    """A GDF 2 file cut to its first ``records`` records when nothing (no event table) follows them."""
    import struct

    header_bytes = 256 * struct.unpack("<H", data[184:186])[0]
    n_records = struct.unpack("<q", data[236:244])[0]
    body = len(data) - header_bytes
    if data[:4] != b"GDF " or n_records <= records or body % n_records:
        return data
    record_bytes = body // n_records
    return data[:236] + struct.pack("<q", records) + data[244:header_bytes] + data[header_bytes:][: records * record_bytes]


def _crop_cnt(data: bytes, samples: int = 64, channels: int | None = None) -> bytes:
    """A Neuroscan CNT file cut to ``samples`` samples and its event table (the setup's offset updated).

    What follows the event table (1.2 MB in ``scan41_short.cnt``) is dropped:
    MNE parsed none of it, but read and mutated all of it. With ``channels``,
    only the first that many channels are kept (their 75-byte records as the
    vendor wrote them, the channel count and the events' byte offsets updated
    so each event stays on its sample): MNE's and dbrain's work per channel
    made a 128-channel input cost ~90 ms (session 6).
    """
    import struct

    n_channels = struct.unpack("<H", data[370:372])[0]
    head = 900 + 75 * n_channels
    table_at = struct.unpack("<i", data[886:890])[0]
    table_bytes = struct.unpack("<i", data[table_at + 1 : table_at + 5])[0]
    table = data[table_at : table_at + 9 + table_bytes]
    keep = n_channels if channels is None else min(channels, n_channels)
    if keep == n_channels:
        samples_bytes = data[head:table_at][: samples * n_channels * 2]
        return data[:886] + struct.pack("<i", head + len(samples_bytes)) + data[890:head] + samples_bytes + table
    # multiplexed 16-bit samples (channel offset 1, the layout of scan41_short.cnt)
    rows = [data[head + 2 * n_channels * i :][: 2 * keep] for i in range(samples)]
    samples_bytes = b"".join(r for r in rows if len(r) == 2 * keep)
    new_head = 900 + 75 * keep
    table = bytearray(table)
    if table[:1] == b"\x02":  # type-2 table: 19-byte events, the byte offset of each at +4
        for at in range(9, len(table) - 18, 19):
            offset = struct.unpack("<i", table[at + 4 : at + 8])[0]
            sample = (offset - head) // (2 * n_channels)
            table[at + 4 : at + 8] = struct.pack("<i", new_head + sample * 2 * keep)
    return (
        data[:370]
        + struct.pack("<H", keep)
        + data[372:886]
        + struct.pack("<i", new_head + len(samples_bytes))
        + data[890:900]
        + data[900:new_head]
        + samples_bytes
        + bytes(table)
    )


def _crop_cnt_4(data: bytes) -> bytes:
    """:func:`_crop_cnt` keeping 4 of the channels."""
    return _crop_cnt(data, channels=4)


def _crop_xdf(data: bytes, samples_chunks: int = 2) -> bytes:
    """An XDF file keeping its file and stream headers and footers, and ``samples_chunks`` sample chunks per stream.

    Chunks: a length (1, 4 or 8 bytes, given by a first byte), a 2-byte tag
    (1 file header, 2 stream header, 3 samples, 4 clock offset, 5 boundary,
    6 stream footer), then the content (stream chunks start with the stream id).
    Clock-offset chunks are dropped: with any, pyxdf's clock synchronisation
    runs a 1,000-iteration robust fit per stream (~120 ms, 95 % of an input).
    """
    import struct

    if data[:4] != b"XDF:":
        return data
    out, pos, kept = [data[:4]], 4, {}
    while pos < len(data):
        width = data[pos]
        if width not in (1, 4, 8):
            break
        length = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
        start, end = pos, pos + 1 + width + length
        tag = struct.unpack("<H", data[pos + 1 + width : pos + 3 + width])[0]
        if tag == 3:
            stream = struct.unpack("<I", data[pos + 3 + width : pos + 7 + width])[0]
            kept[stream] = kept.get(stream, 0) + 1
            if kept[stream] > samples_chunks:
                pos = end
                continue
        if tag not in (4, 5):  # boundary chunks only help seeking in long files
            out.append(data[start:end])
        pos = end
    return b"".join(out)


# --------------------------------------------------------------------------- tiny synthesised seeds


def _tiny_edf(workdir: Path) -> list[bytes]:
    """A 2-channel, 4-record EDF+ with annotations (a few kB), written by the simulator's writer."""
    import datetime as dt

    import numpy as np

    from dbrain.simulate._edf import EdfWriter

    out = []
    for k, patient in enumerate(["X X X Simulated_EEG", "MCH-0234567 F 02-MAR-1961 Jane_Doe"]):
        path = workdir / f"tiny{k}.edf"
        with open(path, "wb") as fid:
            writer = EdfWriter(fid, ["EEG Fp1-REF", "EEG T1-REF"], 16, 4, dt.datetime(2020, 1, 2, 3, 4, 5), patient=patient)
            rng = np.random.default_rng(k)
            writer.write(rng.integers(-2000, 2000, (2, 64)).astype(np.int16))
            writer.close()
        out.append(path.read_bytes())
    return out


def _tiny_annotations(workdir: Path) -> list[bytes]:
    import datetime as dt

    from dbrain.events import make_events, write_annotations_edf

    events = make_events([1.0, 2.5, 30.0], [0.0, 1.0, 12.5], ["spike", "Eyes closed Dr. Smith", "sz_foc_ia"])
    path = write_annotations_edf(events, workdir / "annotations.edf", meas_date=dt.datetime(2021, 5, 6, 7, 8, 9))
    return [path.read_bytes()]


def _tiny_events(workdir: Path) -> list[bytes]:
    from dbrain.events import make_events, write_events

    events = make_events([1.0, 2.5], [0.0, 1.0], ["spike", "sz"], confidence=[0.9, 0.5], channels=["Fp1", "n/a"])
    return [write_events(events, workdir / "events.tsv").read_bytes()]


def _tiny_eeglab(workdir: Path) -> list[bytes]:
    """A 2-channel, 64-sample EEGLAB ``.set`` with two events (1 kB; the real seed is 56 kB)."""
    import numpy as np
    import scipy.io

    rng = np.random.default_rng(0)
    events = np.zeros(2, dtype=[("type", object), ("latency", float), ("duration", float)])
    events[:] = [("spike", 10.0, 0.0), ("eyes closed", 33.0, 12.0)]
    chanlocs = np.zeros(2, dtype=[("labels", object), ("X", float), ("Y", float), ("Z", float)])
    chanlocs[:] = [("Fp1", 80.8, 26.1, -4.0), ("T1", -7.0, 80.0, -40.0)]
    eeg = {
        "setname": "tiny",
        "nbchan": 2.0,
        "pnts": 64.0,
        "trials": 1.0,
        "srate": 128.0,
        "xmin": 0.0,
        "xmax": 63 / 128,
        "data": rng.normal(0, 20, (2, 64)).astype("float32"),
        "chanlocs": chanlocs,
        "event": events,
        "ref": "common",
    }
    path = workdir / "tiny.set"
    scipy.io.savemat(path, {"EEG": eeg}, oned_as="row")
    return [path.read_bytes()]


# --------------------------------------------------------------------------- the targets

_CURRY = MNE_DATA / "curry"
_NK = MNE_DATA / "NihonKohden"
_BV = MNE_DATA / "Brainvision"
_PERSYST = MNE_DATA / "Persyst"
_BIDS_EEG = SAMPLE / "BIDS_test" / "sub-S1" / "ses-01" / "eeg"
_EDF_SEEDS = [MNE_DATA / "EDF" / n for n in ("SC4001EC-Hypnogram.edf", "subsecond_starttime.edf", "test_utf8_annotations.edf")]


_MFF = SAMPLE / "testmff.mff"
#: The EEG channels (0-based) the EGI target keeps of the 257: three and the reference (VREF). MNE's and
#: dbrain's work per channel made a 261-channel input cost ~90 ms (session 6).
_MFF_KEEP = (0, 1, 2, 256)
# signal1.bin: per block 16 bytes, an offset and a depth/rate word per signal, and the optional header's length
_MFF_PARTS = [
    ("info.xml", 0),
    ("info1.xml", 0),
    ("epochs.xml", 0),
    ("Events_exported_from_EEGLAB_1.xml", 0),
    ("Events_exported_from_EEGLAB_2.xml", 0),
    ("sensorLayout.xml", 0),
    ("signal1.bin", 16 + 8 * len(_MFF_KEEP) + 4),
]


def _mff_signal_channels(data: bytes, keep=_MFF_KEEP) -> bytes:
    """An MFF ``signal1.bin`` with only the channels ``keep`` (every block's header and samples rewritten).

    Each block: version (1), header size, data size, signal count, an offset
    and a depth/rate word per signal, the optional header (its length
    first), then the samples, one channel after another. Blocks of another
    version (0: "as the previous block") are not rewritten: the file is
    returned unchanged.
    """
    import struct

    out, pos = [], 0
    while pos + 16 <= len(data):
        version, header_bytes, data_bytes, n = struct.unpack("<4i", data[pos : pos + 16])
        if version != 1 or n <= max(keep):
            return data
        offsets = struct.unpack(f"<{n}i", data[pos + 16 : pos + 16 + 4 * n])
        words = struct.unpack(f"<{n}i", data[pos + 16 + 4 * n : pos + 16 + 8 * n])
        optional = data[pos + 16 + 8 * n : pos + header_bytes]
        body = data[pos + header_bytes : pos + header_bytes + data_bytes]
        ends = [*offsets[1:], data_bytes]
        pieces = [body[offsets[i] : ends[i]] for i in keep]
        new_offsets = [sum(len(x) for x in pieces[:j]) for j in range(len(keep))]
        out.append(
            struct.pack("<4i", 1, 16 + 8 * len(keep) + len(optional), sum(len(x) for x in pieces), len(keep))
            + struct.pack(f"<{len(keep)}i", *new_offsets)
            + struct.pack(f"<{len(keep)}i", *(words[i] for i in keep))
            + optional
            + b"".join(pieces)
        )
        pos += header_bytes + data_bytes
    return b"".join(out)


def _repair_mff(name: str, data: bytes) -> bytes:
    """The real MFF made cheaper and readable: 4 of its 257 EEG channels, text event keys typed as text.

    EEGLAB's MFF export types text event keys (``G2``, ``CorFing``) as numbers;
    mffpy refuses them. Retyped as strings, the real recording reads (250 Hz,
    8 events), so mutations of its files reach the signal and event parsing
    instead of all ending in that first error. The sensor layout and the
    signal file keep the channels :data:`_MFF_KEEP` (vendor bytes otherwise).
    """
    import re

    base = Path(name).name
    if base == "signal1.bin":
        return _mff_signal_channels(data)
    if base == "sensorLayout.xml":
        numbers = {str(i + 1).encode() for i in _MFF_KEEP}

        def sensor(m):
            number = re.search(rb"<number>(\d+)</number>", m.group(0))
            return m.group(0) if number is None or number.group(1) in numbers else b""

        return re.sub(rb"[ \t]*<sensor>.*?</sensor>\s*?\n", sensor, data, flags=re.S)
    if not base.startswith("Events"):
        return data
    return re.sub(rb'dataType="(long|short)">([^0-9<-][^<]*)<', rb'dataType="string">\2<', data)


def _bids(path: Path, workdir: Path) -> None:
    _read(workdir / "BIDS_test", workdir)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("read_edf", "x.edf", _EDF_SEEDS, _read, synth=_tiny_edf, shrink=_crop_edf),
        Target("read_bdf", "x.bdf", [MNE_DATA / "BDF" / "test_bdf_stim_channel.bdf"], _read, shrink=_crop_edf),
        Target(
            "read_brainvision",
            "Analyzer_nV_Export.vhdr",
            [_BV / "Analyzer_nV_Export.vhdr"],
            _read,
            siblings=[_BV / "Analyzer_nV_Export.vmrk", _BV / "Analyzer_nV_Export.eeg"],
        ),
        Target("read_eeglab", "x.set", [MNE_DATA / "EEGLAB" / "test_raw_event_duration.set"], _read, synth=_tiny_eeglab),
        Target("read_gdf", "x.gdf", [MNE_DATA / "GDF" / "test_1ch.gdf"], _read, shrink=_crop_gdf),
        # the whole file fuzzed (setup, 4 channel records, 64 samples, event table): ~1.8 kB
        Target("read_cnt", "x.cnt", [MNE_DATA / "CNT" / "scan41_short.cnt"], _read, shrink=_crop_cnt_4),
        Target(
            "read_nihon_kohden",
            "MB0400FU.21E",
            [_NK / "MB0400FU.21E"],
            lambda path, workdir: _read(workdir / "MB0400FU.EEG", workdir),
            siblings=[_NK / f"MB0400FU.{ext}" for ext in ("EEG", "PNT", "LOG", "11D", "CMT", "CN2")],
        ),
        Target(
            "read_persyst",
            "clip2.lay",
            [_PERSYST / "sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.lay"],
            _read,
            siblings=[_PERSYST / "sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.dat"],
        ),
        Target(
            "read_curry",
            "test_sfreq_0.dap",
            [_CURRY / "test_sfreq_0.dap"],
            lambda path, workdir: _read(workdir / "test_sfreq_0.dat", workdir),
            siblings=[_CURRY / "test_sfreq_0.dat", _CURRY / "test_sfreq_0.rs3"],
        ),
        Target(
            "read_egi",
            "testmff.mff",
            [],
            lambda path, workdir: _read(workdir / "testmff.mff", workdir),
            siblings=[_MFF],
            # the XML files MNE (and mffpy) parse, and the block header of the signal file
            parts=[(f"testmff.mff/{name}", _MFF / name, head) for name, head in _MFF_PARTS],
            repair=_repair_mff,
        ),
        Target("read_xdf", "x.xdf", [SAMPLE / "test.xdf"], _read, shrink=_crop_xdf),
        Target(
            "read_bids_sidecar",
            "BIDS_test/sub-S1/ses-01/eeg/sub-S1_ses-01_task-Experiment_run-01_channels.tsv",
            [_BIDS_EEG / "sub-S1_ses-01_task-Experiment_run-01_channels.tsv"],
            _bids,
            siblings=[SAMPLE / "BIDS_test"],
        ),
        Target("edf_header", "x.edf", _EDF_SEEDS, _edf_header, synth=_tiny_edf, shrink=_crop_edf),
        Target("tal", "annotations.edf", [MNE_DATA / "EDF" / "SC4001EC-Hypnogram.edf"], _tal, synth=_tiny_annotations),
        Target("deid", "x.edf", _EDF_SEEDS, _deid, synth=_tiny_edf, shrink=_crop_edf),
        Target("convert", "x.edf", _EDF_SEEDS[:1], _convert, synth=_tiny_edf, shrink=_crop_edf),
        Target("ingest", "upload.edf", _EDF_SEEDS[:1], _ingest, synth=_tiny_edf, shrink=_crop_edf),
        Target(
            "events",
            "events.tsv",
            [FORMATS.parent / "annotations" / "epilepsy2bids-fixtures" / "tests" / "sample.tsv"],
            _events,
            synth=_tiny_events,
        ),
    ]
}
