import numpy as np

from dbrain.diagnosis import subject_folds
from dbrain.diagnosis._cohorts import adfsu_recordings


def test_adfsu_duplicates_collapsed_and_never_cross_folds(shared_data):
    folder = shared_data / "dementia" / "adfsu"
    if not (folder / "adfsu_128hz.npz").exists():
        import pytest

        pytest.skip("ADFSU data absent")
    t = adfsu_recordings(folder)
    assert t["label"].value_counts().to_dict() == {1: 76, 0: 12}
    assert t["digest"].is_unique and t["subject"].is_unique
    dup = t[t["duplicates"].str.contains(",")]
    assert list(dup["subject"]) == ["AD/Paciente40"]
    assert dup["duplicates"].iloc[0].split(",") == [f"AD/Paciente{i}" for i in range(40, 45)]
    # grouping by content: even if the duplicates were kept, one group means one fold
    with np.load(folder / "adfsu_128hz.npz") as npz:
        data, cond, group = npz["data"], npz["condition"], npz["group"]
    ec = np.flatnonzero(cond == "Eyes_closed")
    digests = [hash(data[i].tobytes()) for i in ec]
    labels = (group[ec] == "AD").astype(int)
    for tr, te in subject_folds(labels, digests, 5, 0):
        assert not {digests[i] for i in tr} & {digests[i] for i in te}


def test_guinea_bissau_headset_features(shared_data):
    import pandas as pd
    import pytest

    from dbrain.diagnosis import compute_features
    from dbrain.diagnosis._cohorts import _clean, guinea_bissau_segment

    folder = shared_data / "epilepsy-diagnosis" / "guinea-bissau"
    if not (folder / "metadata_guineabissau.csv").exists():
        pytest.skip("Guinea-Bissau data absent")
    meta = pd.read_csv(folder / "metadata_guineabissau.csv")
    sid, eyes = int(meta.iloc[0, 0]), meta.iloc[0, 2]
    x, chs = guinea_bissau_segment(folder, sid, eyes)
    assert x.shape[0] == 14 and abs(float(np.median(x))) < 1e-5  # DC offset (~4200 uV) removed, volts
    ep, _, kept = _clean(x[:, : 60 * 128], 128.0, chs, 2.0)
    res = compute_features(ep, 128.0, kept, network=False, aperiodic=False)
    assert res.missing["rel_alpha_central"] == "no central channel"
    assert np.isfinite(res.values["rel_alpha_frontal"]) and np.isfinite(res.values["rel_alpha_occipital"])


def test_diffuse_slowing_rule():
    import pandas as pd

    from dbrain.analyze._steps_diagnosis import _slowing

    assert _slowing(pd.Series({"alpha_peak": 7.2, "slowing_ratio": 0.5}))["finding"] == "diffuse_slowing"
    assert _slowing(pd.Series({"alpha_peak": 9.5, "slowing_ratio": 3.0})) is None
    assert "no alpha peak" in _slowing(pd.Series({"alpha_peak": np.nan, "slowing_ratio": 2.0}))["evidence"]
    assert _slowing(pd.Series({"alpha_peak": np.nan, "slowing_ratio": 1.0})) is None
