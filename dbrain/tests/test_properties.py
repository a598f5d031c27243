"""Property tests (hypothesis) of invariants across dbrain (issue #25 item 2).

* EDF write -> read round trip of data (within one quantisation step), rates
  and annotations;
* de-identification keeps signal bytes and channel labels and leaves no
  header PHI token in the header or annotations;
* a montage is linear: montage(a*x + y) = a*montage(x) + montage(y);
* the events table round-trips through events.tsv and annotations.edf;
* chunked and whole-file qEEG agree.

Example counts are kept small (each example writes and reads files); the
database of hypothesis is off so a run never depends on an earlier one.
"""

from __future__ import annotations

import datetime as dt
import string

import mne
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
START = dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.UTC)

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/()", min_size=1, max_size=30).map(str.strip).filter(bool)


@st.composite
def recordings(draw):
    n_ch = draw(st.integers(1, 4))
    sfreq = draw(st.sampled_from([100.0, 128.0, 200.0, 250.0, 256.0, 500.0]))
    seconds = draw(st.integers(1, 6))
    n = int(sfreq * seconds)
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    scale = draw(st.sampled_from([1e-6, 50e-6, 2e-3]))
    data = rng.normal(0, scale, (n_ch, n))
    if draw(st.booleans()):
        data[0] = 0.0  # a flat channel
    names = draw(
        st.lists(
            st.sampled_from(["Fp1", "Fp2", "C3", "C4", "T1", "Sp1", "O1", "Cz", "X1"]), min_size=n_ch, max_size=n_ch, unique=True
        )
    )
    n_ann = draw(st.integers(0, 4))
    onsets = [draw(st.integers(0, seconds * 1000 - 1)) / 1000 for _ in range(n_ann)]
    # inside the data (MNE clips, with a warning, annotations that run past the end)
    durations = [max(0.0, min(draw(st.integers(0, 3000)) / 1000, round(seconds - 1 / sfreq - o, 3))) for o in onsets]
    texts = [draw(_TEXT) for _ in range(n_ann)]
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "eeg"), verbose="error")
    raw.set_meas_date(START)
    raw.set_annotations(mne.Annotations(onsets, durations, texts, orig_time=START))
    return raw


@SETTINGS
@given(raw=recordings())
def test_edf_round_trip(raw, tmp_path_factory):
    from dbrain.io import read_recording, write_edf

    path = write_edf(raw, tmp_path_factory.mktemp("rt") / "x.edf")
    back, info = read_recording(path, preload=True)
    assert back.info["sfreq"] == raw.info["sfreq"]
    assert back.n_times >= raw.n_times  # padded to whole records, padding marked BAD_ACQ_SKIP
    got = back.get_data(picks=list(range(len(raw.ch_names))))[:, : raw.n_times]
    want = raw.get_data()
    for g, w in zip(got, want, strict=True):
        span = max(w.max() - w.min(), 1e-12)
        # one quantisation step of a 16-bit channel whose range is fitted to its data (plus µV rounding)
        assert np.max(np.abs(g - w)) <= span / 65535 * 1.01 + 2e-7
    ours = [
        (round(a["onset"], 3), round(a["duration"], 3), a["description"])
        for a in back.annotations
        if a["description"] != "BAD_ACQ_SKIP"
    ]
    theirs = [(round(a["onset"], 3), round(a["duration"], 3), a["description"]) for a in raw.annotations]
    assert sorted(ours) == sorted(theirs)


_WORDS = ["EEG", "Fp1", "REF", "uV", "T3", "Left", "Eyes", "Smith", "Jane", "Doe", "Ann", "Temp", "Photic", "Miller", "May"]


@SETTINGS
@given(
    name=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4),
    code=st.sampled_from(["X", "MCH-0234567", "P0815", "EEG01"]),
    labels=st.lists(
        st.sampled_from(["EEG Fp1-REF", "EEG T3-REF", "EEG Cz-LE", "POL DC01", "EKG1", "Temp", "EEG Sp1-REF", "Photic"]),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    notes=st.lists(st.sampled_from(["Eyes closed", "Dr. Smith in", "spike", "Jane Doe talking", "EEG Fp1 pop"]), max_size=3),
)
def test_deid_keeps_labels_and_signal_and_removes_phi(name, code, labels, notes, tmp_path_factory):
    from dbrain.deid import deidentify, find_phi, phi_strings
    from dbrain.simulate._edf import EdfWriter

    folder = tmp_path_factory.mktemp("deid")
    src = folder / "in.edf"
    patient = f"{code} F 02-MAR-1961 {'_'.join(name)}"
    with open(src, "wb") as fid:
        w = EdfWriter(fid, labels, 32, 3, START.replace(tzinfo=None), patient=patient, recording_extra=f"{name[0]}_Clinic X X")
        w.write(np.random.default_rng(len(name)).integers(-3000, 3000, (len(labels), 96)).astype(np.int16))
        w.close()
    data = bytearray(src.read_bytes())
    hb = int(data[184:192])
    rec = (len(data) - hb) // 3
    sig = 32 * 2 * len(labels)
    for r, note in enumerate(notes):  # one annotation per record, after its time-keeping TAL
        block = hb + r * rec + sig
        keep = data.index(b"\x00", block) + 1
        tal = f"+{r}.5\x14{note}\x14\x00".encode()
        data[keep : keep + len(tal)] = tal
    src.write_bytes(bytes(data))
    out = folder / "out.edf"
    deidentify(src, out, verbose="error")
    a, b = src.read_bytes(), out.read_bytes()
    ns = int(a[252:256])
    assert a[256 : 256 + 16 * ns] == b[256 : 256 + 16 * ns]  # labels, byte for byte
    assert a[256 + 96 * ns : 256 + 104 * ns] == b[256 + 96 * ns : 256 + 104 * ns]  # physical dimensions
    for r in range(3):  # the signal bytes of every record (the annotation signal comes last)
        base = hb + r * rec
        assert a[base : base + sig] == b[base : base + sig]
    assert find_phi(out, phi_strings(src)) == []


@SETTINGS
@given(
    a=st.floats(-5, 5, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
    montage=st.sampled_from(["double-banana", "transverse", "average", "laplacian", "referential"]),
    seed=st.integers(0, 1000),
)
def test_montage_is_linear(a, montage, seed):
    from dbrain.montages import apply_montage

    names = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"]
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0, 20e-6, (2, len(names), 200))
    info = mne.create_info(names, 100.0, "eeg")

    def m(data):
        derived, _ = apply_montage(mne.io.RawArray(data, info, verbose="error"), montage)
        return derived.get_data()

    np.testing.assert_allclose(m(a * x + y), a * m(x) + m(y), rtol=1e-9, atol=1e-15)


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**5), _TEXT, st.one_of(st.none(), st.floats(0, 1, allow_nan=False))),
        max_size=6,
    )
)
def test_events_table_and_annotations_edf_round_trip(rows, tmp_path_factory):
    from dbrain.events import events_from_annotations, make_events, read_events, write_annotations_edf, write_events

    folder = tmp_path_factory.mktemp("ev")
    onset = [r[0] / 1000 for r in rows]
    duration = [r[1] / 1000 for r in rows]
    kinds = [r[2] for r in rows]
    conf = [np.nan if r[3] is None else round(r[3], 6) for r in rows]
    events = make_events(onset, duration, kinds, confidence=conf, meas_date=START.replace(tzinfo=None))
    back = read_events(write_events(events, folder / "events.tsv"))
    np.testing.assert_allclose(back["onset"], events["onset"], atol=1e-6)
    np.testing.assert_allclose(back["duration"], events["duration"], atol=1e-6)
    assert list(back["eventType"]) == list(events["eventType"])
    # confidence is written with 4 decimals
    np.testing.assert_allclose(back["confidence"].astype(float), events["confidence"].astype(float), atol=5.1e-5)
    path = write_annotations_edf(events, folder / "annotations.edf", meas_date=START.replace(tzinfo=None))
    ann = mne.read_annotations(path)
    end = int(max([o + d for o, d in zip(onset, duration, strict=True)], default=0)) + 2
    raw = mne.io.RawArray(np.zeros((1, end)), mne.create_info(["x"], 1.0), verbose="error")
    raw.set_meas_date(ann.orig_time)
    raw.set_annotations(ann)
    again = events_from_annotations(raw, skip_internal=False)
    got = sorted(zip(np.round(again["onset"], 3), np.round(again["duration"], 3), again["eventType"], strict=True))
    want = sorted(zip(np.round(events["onset"], 3), np.round(events["duration"], 3), events["eventType"], strict=True))
    assert got == want


@settings(max_examples=4, deadline=None, database=None)
@given(chunk=st.sampled_from([31.0, 47.0, 64.0, 97.0]), seed=st.integers(0, 100))
@pytest.mark.slow
def test_chunked_and_whole_file_qeeg_agree(chunk, seed):
    from dbrain.qeeg import compute_qeeg
    from dbrain.simulate import simulate_eeg

    raw, _ = simulate_eeg(150, seed=seed)
    raw.pick("eeg")
    whole = compute_qeeg(raw, chunk_duration=600.0, aperiodic_window=None)
    part = compute_qeeg(raw, chunk_duration=chunk, aperiodic_window=None)
    np.testing.assert_allclose(part.measures, whole.measures, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(part.spectrogram, whole.spectrogram)
    np.testing.assert_allclose(part.artifact, whole.artifact, atol=1e-4)
