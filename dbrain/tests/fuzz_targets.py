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
    """

    name: str
    filename: str
    seeds: list[Path]
    run: Callable[[Path, Path], object]
    siblings: list[Path] = field(default_factory=list)
    synth: Callable[[Path], list[bytes]] | None = None
    head: int = 0
    shrink: Callable[[bytes], bytes] | None = None
    _ready: set = field(default_factory=set, repr=False)
    _tail: bytes | None = field(default=None, repr=False)

    def needs_shared_data(self) -> bool:
        return bool(self.siblings) or self.head > 0

    def seed_bytes(self, workdir: Path) -> list[bytes]:
        """The seed inputs: real files that exist, then synthesised ones."""
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
        path = workdir / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.head:
            if self._tail is None:
                self._tail = self.seeds[0].read_bytes()[self.head :]
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
    logging.getLogger("dbrain").disabled = True
    try:
        yield
    finally:
        mne.set_log_level(level)
        logging.getLogger("dbrain").disabled = False


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
    with contextlib.suppress(ValueError, RuntimeError):
        raw.set_annotations(annotations)
        events_from_annotations(raw)


def _deid(path: Path, workdir: Path) -> None:
    from dbrain.deid import deidentify

    out = workdir / f"deid{path.suffix}"
    deidentify(path, out, overwrite=True)
    before, after = path.read_bytes(), out.read_bytes()
    ns = int(before[252:256])
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
        home = Path(tempfile.mkdtemp(prefix="dbrain-fuzz-ingest-", dir=scratch_root()))
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

    upload = workdir / "upload" / path.name
    upload.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, upload)
    with _INGEST["sessions"]() as db:
        who = Principal(user=db.get(User, _INGEST["user_id"]), via="token")
        try:
            ingest_file(
                db, _INGEST["store"], _INGEST["settings"], who, upload, hashlib.sha256(path.read_bytes()).hexdigest(), path.name
            )
        finally:
            db.rollback()


def _events(path: Path, workdir: Path) -> None:
    from dbrain.events import read_events, write_events

    events = read_events(path)
    write_events(events, workdir / "again.tsv")


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


# --------------------------------------------------------------------------- the targets

_CURRY = MNE_DATA / "curry"
_NK = MNE_DATA / "NihonKohden"
_BV = MNE_DATA / "Brainvision"
_PERSYST = MNE_DATA / "Persyst"
_BIDS_EEG = SAMPLE / "BIDS_test" / "sub-S1" / "ses-01" / "eeg"
_EDF_SEEDS = [MNE_DATA / "EDF" / n for n in ("SC4001EC-Hypnogram.edf", "subsecond_starttime.edf", "test_utf8_annotations.edf")]


def _bids(path: Path, workdir: Path) -> None:
    _read(workdir / "BIDS_test", workdir)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("read_edf", "x.edf", _EDF_SEEDS, _read, synth=_tiny_edf),
        Target("read_bdf", "x.bdf", [MNE_DATA / "BDF" / "test_bdf_stim_channel.bdf"], _read),
        Target(
            "read_brainvision",
            "Analyzer_nV_Export.vhdr",
            [_BV / "Analyzer_nV_Export.vhdr"],
            _read,
            siblings=[_BV / "Analyzer_nV_Export.vmrk", _BV / "Analyzer_nV_Export.eeg"],
        ),
        Target("read_eeglab", "x.set", [MNE_DATA / "EEGLAB" / "test_raw_event_duration.set"], _read),
        Target("read_gdf", "x.gdf", [MNE_DATA / "GDF" / "test_1ch.gdf"], _read),
        # header (900 bytes + 75 per channel, 128 channels) fuzzed, samples appended
        Target("read_cnt", "x.cnt", [MNE_DATA / "CNT" / "scan41_short.cnt"], _read, head=900 + 75 * 128),
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
            "testmff.mff/info1.xml",
            [SAMPLE / "testmff.mff" / "info1.xml"],
            lambda path, workdir: _read(workdir / "testmff.mff", workdir),
            siblings=[SAMPLE / "testmff.mff"],
        ),
        Target("read_xdf", "x.xdf", [SAMPLE / "test.xdf"], _read),
        Target(
            "read_bids_sidecar",
            "BIDS_test/sub-S1/ses-01/eeg/sub-S1_ses-01_task-Experiment_run-01_channels.tsv",
            [_BIDS_EEG / "sub-S1_ses-01_task-Experiment_run-01_channels.tsv"],
            _bids,
            siblings=[SAMPLE / "BIDS_test"],
        ),
        Target("edf_header", "x.edf", _EDF_SEEDS, _edf_header, synth=_tiny_edf),
        Target("tal", "annotations.edf", [MNE_DATA / "EDF" / "SC4001EC-Hypnogram.edf"], _tal, synth=_tiny_annotations),
        Target("deid", "x.edf", _EDF_SEEDS, _deid, synth=_tiny_edf),
        Target("convert", "x.edf", _EDF_SEEDS[:1], _convert, synth=_tiny_edf),
        Target("ingest", "upload.edf", _EDF_SEEDS[:1], _ingest, synth=_tiny_edf),
        Target(
            "events",
            "events.tsv",
            [FORMATS.parent / "annotations" / "epilepsy2bids-fixtures" / "tests" / "sample.tsv"],
            _events,
            synth=_tiny_events,
        ),
    ]
}
