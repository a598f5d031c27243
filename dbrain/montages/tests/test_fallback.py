"""The one montage-with-fallback choice used by the report, the analysis page and the detectors."""

import mne
import numpy as np
import pytest

from dbrain.errors import ParameterError
from dbrain.montages import AS_RECORDED, apply_montage_with_fallback
from dbrain.montages._montage import TEN_TWENTY


def _raw(names, types="eeg", bads=()):
    data = np.random.default_rng(0).standard_normal((len(names), 300)) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(list(names), 100.0, types), verbose="error")
    raw.info["bads"] = list(bads)
    return raw


def test_first_montage_that_forms_wins():
    raw = _raw(TEN_TWENTY)
    choice = apply_montage_with_fallback(raw)
    assert choice.name == "double-banana" and len(choice.picks) == 18 and choice.picks == choice.source.ch_names
    assert [len(g) for g in choice.result.groups] == [4, 4, 2, 4, 4]


def test_falls_back_to_referential_then_as_recorded():
    # Two 10-20 electrodes that are no double-banana pair: the referential montage.
    raw = _raw(["Fp1", "O2"])
    choice = apply_montage_with_fallback(raw)
    assert choice.name == "referential" and choice.picks == ["Fp1", "O2"]
    # Labels that are no 10-20 electrode: nothing can be formed, the EEG channels as recorded (not a copy).
    raw = _raw(["grid1", "grid2", "ekg"], types=["eeg", "eeg", "ecg"], bads=["grid2"])
    choice = apply_montage_with_fallback(raw)
    assert choice.name == AS_RECORDED and choice.result is None and choice.source is raw
    assert choice.picks == ["grid1", "grid2"]
    assert apply_montage_with_fallback(raw, exclude_bads=True).picks == ["grid1"]


def test_min_derivations_and_no_eeg():
    raw = _raw(["Fz", "Cz", "Pz", "C3"])  # double banana: Fz-Cz, Cz-Pz only
    assert apply_montage_with_fallback(raw, ("double-banana",), min_derivations=2).name == "double-banana"
    assert apply_montage_with_fallback(raw, ("double-banana",), min_derivations=4).name == AS_RECORDED
    assert apply_montage_with_fallback(raw, ("double-banana", "average"), min_derivations=4).name == "average"
    assert apply_montage_with_fallback(_raw(["ECG"], types="ecg"), ()).picks == []


def test_unknown_montage_is_an_error_not_a_fallback():
    with pytest.raises(ParameterError, match="montage"):
        apply_montage_with_fallback(_raw(TEN_TWENTY), ("double-bananna",))
