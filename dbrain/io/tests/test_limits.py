"""Resource limits for hostile EDF/BDF headers (issue #25 item 4): one line naming the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbrain.errors import CorruptRecordingError
from dbrain.io import _edf_header as H
from dbrain.io import read_edf_header, read_recording


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    from dbrain.simulate import write_simulated_edf

    path, _ = write_simulated_edf(tmp_path_factory.mktemp("lim") / "good.edf", 10, seed=0, ekg=False)
    return path


def _patch(src: Path, dst: Path, **fields) -> Path:
    data = bytearray(src.read_bytes())
    ns = int(data[252:256])
    where = {"n_records": (236, 8), "record_duration": (244, 8), "n_signals": (252, 4)}
    for key, value in fields.items():
        if key.startswith("spr"):  # spr<i>: samples per record of signal i
            i = int(key[3:])
            a, w = 256 + 216 * ns + 8 * i, 8
        else:
            a, w = where[key]
        data[a : a + w] = str(value).encode().ljust(w)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize(
    ("fields", "limit"),
    [
        ({"n_signals": 5000}, f"limit of {H.MAX_SIGNALS:,}"),
        ({"spr0": 20_000_000}, f"samples per record is 20,000,000, over dbrain's limit of {H.MAX_SAMPLES_PER_RECORD:,}"),
        ({"spr0": 9_000_000, "spr1": 9_000_000, "spr2": 9_000_000, "spr3": 9_000_000}, "one data record is"),
        ({"n_records": 20_000_000}, f"number of data records is 20,000,000, over dbrain's limit of {H.MAX_RECORDS:,}"),
        ({"record_duration": "0.000001"}, "sampling rate is 256,000,000 Hz, over dbrain's limit"),
        ({"spr19": 600_000}, "annotation text per data record is 1,200,000 bytes"),
        ({"record_duration": "0"}, "data record duration is 0 but the file holds signals"),
    ],
)
def test_hostile_header_names_the_limit(good, tmp_path, fields, limit):
    bad = _patch(good, tmp_path / "bad.edf", **fields)
    with pytest.raises(CorruptRecordingError, match="over dbrain's limit|duration is 0") as info:
        read_edf_header(bad)
    assert limit in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CorruptRecordingError):
        read_recording(bad)


def test_total_annotation_limit(good, tmp_path, monkeypatch):
    monkeypatch.setattr(H, "MAX_ANNOTATION_BYTES", 100)
    with pytest.raises(CorruptRecordingError, match="annotation text in the file is .* over dbrain's limit of 100 bytes"):
        read_edf_header(good)


def test_real_file_is_within_limits(good):
    assert read_edf_header(good).n_records == 10
