"""write_edf on what a damaged source file can hold (findings of benchmarks/fuzz.py, target convert)."""

from __future__ import annotations

import datetime as dt

import mne
import numpy as np
import pytest

from dbrain.errors import RecordingError
from dbrain.io import read_recording, write_edf
from dbrain.io._write import _header_text, _physical_range


def _raw(names, data=None, meas=dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)):
    data = np.zeros((len(names), 256)) if data is None else data
    raw = mne.io.RawArray(data, mne.create_info(names, 128.0, "eeg"), verbose="error")
    raw.set_meas_date(meas)
    return raw


def test_header_text_is_printable_ascii():
    assert _header_text("X X X Simu\x07ated_EEG") == "X X X Simu_ated_EEG"
    assert _header_text("Renée ô 中") == "Renee o _"
    assert _header_text("EEG F\x1f") == "EEG F_"


def test_physical_range_holds_values_that_round_onto_it():
    # -2713.2000000000003 * 1000 is -2713200.0 in floating point: floor() alone gave -2713.2
    lo, hi = _physical_range(np.array([-2713.2000000000003, 3097.8999999999996]))
    assert lo <= -2713.2000000000003 and hi >= 3097.8999999999996
    lo, hi = _physical_range(np.array([-1972.6000000000001, 198.6]))
    assert lo <= -1972.6000000000001 and hi >= 198.6


def test_control_and_non_ascii_characters_are_written(tmp_path):
    raw = _raw(["F\x1f", "Cz"], np.full((2, 256), [[-2713.2000000000003e-6], [3097.8999999999996e-6]]))
    raw.info["subject_info"] = {"first_name": "Renée", "last_name": "Simu\x07ated", "his_id": "AB\xf41"}
    out = write_edf(raw, tmp_path / "x.edf")
    back, _ = read_recording(out)
    assert back.ch_names[1] == "Cz" and back.n_times == 256


def test_a_date_edf_cannot_hold_is_refused(tmp_path):
    raw = _raw(["Cz"], meas=dt.datetime(1010, 1, 2, tzinfo=dt.UTC))
    with pytest.raises(RecordingError, match="outside the years EDF can hold"):
        write_edf(raw, tmp_path / "x.edf")
    assert not (tmp_path / "x.edf").exists()
