"""Montage tests on synthetic signals with exact expected derivations."""

import mne
import numpy as np
import pytest

from dbrain.errors import MontageError, ParameterError
from dbrain.montages import apply_montage, read_montage
from dbrain.montages._montage import DOUBLE_BANANA, TEN_TWENTY

FS = 100.0


def _raw(names, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((len(names), 500)) * 1e-5
    info = mne.create_info(list(names), FS, "eeg")
    return mne.io.RawArray(data, info, verbose="error"), dict(zip(names, data, strict=True))


def test_double_banana_exact():
    raw, x = _raw(TEN_TWENTY)
    derived, result = apply_montage(raw, "double-banana")
    assert result.skipped == []
    assert len(result.applied) == 18
    assert [len(g) for g in result.groups] == [4, 4, 2, 4, 4]
    np.testing.assert_allclose(derived.get_data(picks=["Fp1-F7"])[0], x["Fp1"] - x["F7"])
    np.testing.assert_allclose(derived.get_data(picks=["Cz-Pz"])[0], x["Cz"] - x["Pz"])


def test_missing_electrode_skipped_and_reported():
    names = [n for n in TEN_TWENTY if n != "T7"]
    raw, _ = _raw(names)
    derived, result = apply_montage(raw, "double-banana")
    skipped = dict(result.skipped)
    assert skipped == {"F7-T7": ["T7"], "T7-P7": ["T7"]}
    assert "F7-T7" not in derived.ch_names and len(derived.ch_names) == 16


def test_transverse_and_referential():
    raw, x = _raw(TEN_TWENTY)
    derived, result = apply_montage(raw, "transverse")
    np.testing.assert_allclose(derived.get_data(picks=["O1-O2"])[0], x["O1"] - x["O2"])
    assert {"A1-T7", "T8-A2"} <= {s for s, _ in result.skipped}
    ref, _ = apply_montage(raw, "referential")
    assert ref.ch_names == list(TEN_TWENTY)


def test_common_average():
    raw, x = _raw(TEN_TWENTY)
    derived, _ = apply_montage(raw, "average")
    mean = np.mean([x[n] for n in TEN_TWENTY], axis=0)
    np.testing.assert_allclose(derived.get_data(picks=["Cz-Avg"])[0], x["Cz"] - mean)
    np.testing.assert_allclose(derived.get_data().sum(axis=0), 0, atol=1e-18)


def test_laplacian_neighbours_of_cz():
    raw, x = _raw(TEN_TWENTY)
    derived, _ = apply_montage(raw, "laplacian")
    # On the 10-20 grid Cz's nearest neighbours are Fz, C3, C4 and Pz.
    expected = x["Cz"] - np.mean([x["Fz"], x["C3"], x["C4"], x["Pz"]], axis=0)
    np.testing.assert_allclose(derived.get_data(picks=["Cz-Lap"])[0], expected)
    # A spatially uniform signal vanishes under a Laplacian.
    flat, _ = _raw(TEN_TWENTY)
    flat._data[:] = 1e-5
    np.testing.assert_allclose(apply_montage(flat, "laplacian")[0].get_data(), 0, atol=1e-20)


def test_derived_raw_is_lazy_and_crop_works():
    raw, x = _raw(TEN_TWENTY)
    derived, _ = apply_montage(raw, DOUBLE_BANANA)
    assert not derived.preload
    part = derived.copy().crop(1.0, 2.0).get_data(picks=["P4-O2"])[0]
    np.testing.assert_allclose(part, (x["P4"] - x["O2"])[100:201])


def test_user_montage_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("name: My temporal chain\n# left\nFp1-F7\nF7-T3  # old name\n\nCz\nFp2-AVG\nT4-LAP\n")
    montage = read_montage(path)
    assert montage.name == "My temporal chain"
    assert [d.label for d in montage.derivations] == ["Fp1-F7", "F7-T7", "Cz", "Fp2-Avg", "T8-Lap"]
    raw, x = _raw(TEN_TWENTY)
    derived, result = apply_montage(raw, path)
    assert result.groups == [["Fp1-F7", "F7-T7"], ["Cz", "Fp2-Avg", "T8-Lap"]]
    np.testing.assert_allclose(derived.get_data(picks=["F7-T7"])[0], x["F7"] - x["T7"])


@pytest.mark.parametrize(
    ("text", "match"),
    [("Fp1-Qq9\n", "line 1: 'Qq9' is not"), ("Fp1-F7-T7\n", "line 1: expected"), ("# nothing\n", "no derivations")],
)
def test_bad_montage_file(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(MontageError, match=match):
        read_montage(path)


def test_montage_not_formable():
    raw, _ = _raw(["Cz"])
    with pytest.raises(MontageError, match="cannot be formed"):
        apply_montage(raw, "double-banana")


def test_unknown_montage_name():
    raw, _ = _raw(TEN_TWENTY)
    with pytest.raises(ParameterError, match="Did you mean 'double-banana'"):
        apply_montage(raw, "double-banan")
