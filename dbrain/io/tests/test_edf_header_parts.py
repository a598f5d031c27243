"""The named parts of read_edf_header (#20): the data-record count check on its own."""

from __future__ import annotations

import numpy as np
import pytest

from dbrain.errors import CorruptRecordingError
from dbrain.io import read_edf_header

from ._edfbuild import build_edf

FS = 128


def _edf(tmp_path, n_records_field):
    return build_edf(tmp_path / "x.edf", ["EEG Cz-REF"], [np.zeros(FS * 4)], [FS], n_records_field=n_records_field)


def test_unknown_record_count_becomes_the_count_the_file_holds(tmp_path):
    path = _edf(tmp_path, -1)  # EDF's "recording in progress"
    whole = read_edf_header(path)
    assert whole.n_records == 4
    with open(path, "ab") as fid:  # a record cut short at the end is not counted
        fid.write(b"\0" * (whole.record_bytes // 2))
    assert read_edf_header(path).n_records == 4
    assert read_edf_header(path, check_size=False).n_records == -1  # nothing counted without the size check


@pytest.mark.parametrize(("field", "message"), [(-3, "declares -3 data records"), (9, "declares 9 data records of")])
def test_impossible_record_counts(tmp_path, field, message):
    with pytest.raises(CorruptRecordingError, match=message):
        read_edf_header(_edf(tmp_path, field))
