"""Events table tests: TSV round trip and EDF+ annotation export."""

import datetime as dt

import mne
import numpy as np
import pytest

from dbrain.errors import EventsError
from dbrain.events import EVENT_COLUMNS, empty_events, make_events, read_events, write_annotations_edf, write_events

START = dt.datetime(2024, 3, 1, 22, 15, 0, tzinfo=dt.UTC)


def _events():
    return make_events(
        [12.5, 3.0],
        [30.0, 0.0],
        ["sz", "spike"],
        confidence=[0.9, 0.5],
        channels=[["F7", "T7"], "C3"],
        meas_date=START,
        recording_duration=3600,
    )


def test_columns_and_order():
    ev = _events()
    assert list(ev.columns) == EVENT_COLUMNS
    assert list(ev["onset"]) == [3.0, 12.5]
    assert ev.loc[1, "channels"] == "F7,T7"
    assert ev.loc[1, "dateTime"] == "2024-03-01T22:15:12.500"  # ISO 8601, as BIDS asks


def test_tsv_roundtrip(tmp_path):
    ev = _events()
    path = write_events(ev, tmp_path / "events.tsv")
    text = path.read_text()
    assert text.splitlines()[0].split("\t") == EVENT_COLUMNS
    back = read_events(path)
    np.testing.assert_allclose(back["onset"], ev["onset"])
    assert list(back["eventType"]) == ["spike", "sz"]
    assert back["confidence"].tolist() == [0.5, 0.9]


def test_human_annotations_write_na(tmp_path):
    ev = make_events([1.0], [0.0], "eyes closed")
    write_events(ev, tmp_path / "e.tsv")
    row = (tmp_path / "e.tsv").read_text().splitlines()[1].split("\t")
    assert row[3:] == ["n/a", "n/a", "n/a", "n/a"]


def test_reads_epilepsy2bids_fixture(shared_data):
    ev = read_events(shared_data / "annotations/epilepsy2bids-fixtures/tests/sample.tsv")
    assert list(ev.columns) == EVENT_COLUMNS
    assert ev.loc[0, "eventType"] == "sz" and ev.loc[0, "onset"] == pytest.approx(36.89)
    assert np.isnan(ev.loc[1, "confidence"]) and ev.loc[0, "confidence"] == 1.0


def test_empty_and_invalid(tmp_path):
    assert list(empty_events().columns) == EVENT_COLUMNS
    with pytest.raises(EventsError, match="confidence"):
        make_events([1.0], [1.0], "sz", confidence=[1.5])
    bad = tmp_path / "bad.tsv"
    bad.write_text("start\tlabel\n1\tsz\n")
    with pytest.raises(EventsError, match="no 'onset' column"):
        read_events(bad)


def test_edf_annotations_export(tmp_path):
    path = write_annotations_edf(_events(), tmp_path / "annotations.edf", meas_date=START)
    ann = mne.read_annotations(path)
    assert list(ann.description) == ["spike @C3", "sz @F7,T7"]
    np.testing.assert_allclose(ann.onset, [3.0, 12.5])
    np.testing.assert_allclose(ann.duration, [0.0, 30.0])
    header = path.read_bytes()[:256]
    assert header[168:184] == b"01.03.2422.15.00" and b"EDF+C" in header


def test_edf_annotations_export_empty(tmp_path):
    path = write_annotations_edf(empty_events(), tmp_path / "none.edf", meas_date=START)
    assert len(mne.read_annotations(path)) == 0
    assert len(path.read_bytes()) == 512 + 16
    import pyedflib

    with pyedflib.EdfReader(str(path)) as f:
        assert len(f.readAnnotations()[0]) == 0


def test_with_datetime_writes_one_iso_clock_for_every_row():
    import datetime as dt

    from dbrain.events import make_events, with_datetime

    ev = make_events([1.5, 86400.0 + 3723.25], [0.0, 10.0], "sz")  # built without a start: n/a
    assert ev["dateTime"].tolist() == ["n/a", "n/a"]
    out = with_datetime(ev, dt.datetime(2026, 1, 1, 23, 0, 0))
    assert out["dateTime"].tolist() == ["2026-01-01T23:00:01.500", "2026-01-03T00:02:03.250"]
    assert ev["dateTime"].tolist() == ["n/a", "n/a"]  # a copy
    assert with_datetime(ev, None)["dateTime"].tolist() == ["n/a", "n/a"]
