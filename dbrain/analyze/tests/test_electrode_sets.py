"""Every step and figure survives every electrode set (issue #25 item 3).

A 60-s simulated recording (spikes included, so the spike step draws its head
maps) is rewritten with clinical and research electrode layouts; the full
``analyze`` must finish, with the electrodes that have no standard position
named under the head maps instead of failing the step.
"""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from dbrain.analyze import analyze
from dbrain.io import read_recording, write_edf

_TEMPORAL = ["T1", "T2", "F9", "F10", "T9", "T10", "P9", "P10"]
_HD_1010 = ["AF3", "AF4", "F1", "F2", "F5", "F6", "FC1", "FC2", "FC3", "FC4", "FC5", "FC6", "C1", "C2", "C5", "C6"]
_HD_1010 += ["CP1", "CP2", "CP3", "CP4", "CP5", "CP6", "P1", "P2", "P5", "P6", "PO3", "PO4", "POz", "Oz", "FCz", "CPz"]
_HD_105 = ["AFF1h", "AFF2h", "FCC3h", "FCC4h", "CCP3h", "CCP4h", "PPO1h", "PPO2h"]
_BIPOLAR = [
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"), ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"), ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
]  # fmt: skip

LAYOUTS = {
    "extra_temporal": {"add": _TEMPORAL},
    "sphenoidal": {"add": ["Sp1", "Sp2"]},
    "ear": {"add": ["A1", "A2"]},
    "nasopharyngeal": {"add": ["Pg1", "Pg2"]},
    "hd_1010_1005": {"add": _HD_1010 + _HD_105},
    "bipolar_only": {"bipolar": _BIPOLAR},
    "missing_midline": {"drop": ["Fz", "Cz", "Pz"]},
    "unknown_labels": {"add": ["X1", "Foo", "DC01", "Sp9", "Ref2"]},
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from dbrain.simulate import write_simulated_edf

    path, _ = write_simulated_edf(tmp_path_factory.mktemp("base") / "sim.edf", 60, spikes=12, seed=11, ekg=False)
    raw, _ = read_recording(path)
    return raw.load_data()


def _layout(raw: mne.io.BaseRaw, spec: dict) -> mne.io.RawArray:
    rng = np.random.default_rng(0)
    eeg = raw.copy().pick("eeg")
    data, names = eeg.get_data(), list(eeg.ch_names)
    if "bipolar" in spec:
        idx = {n: i for i, n in enumerate(names)}
        data = np.array([data[idx[a]] - data[idx[b]] for a, b in spec["bipolar"]])
        names = [f"{a}-{b}" for a, b in spec["bipolar"]]
    if "drop" in spec:
        keep = [i for i, n in enumerate(names) if n not in spec["drop"]]
        data, names = data[keep], [names[i] for i in keep]
    for k, extra in enumerate(spec.get("add", [])):
        # a neighbour's signal plus noise: any signal will do, the label is what is tested
        data = np.vstack([data, data[k % len(names)] + rng.normal(0, 2e-6, data.shape[1])])
        names.append(extra)
    info = mne.create_info(names, raw.info["sfreq"], "eeg")
    out = mne.io.RawArray(data, info, verbose="error")
    out.set_meas_date(raw.info["meas_date"])
    out.set_annotations(raw.annotations)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_full_analysis_on_electrode_set(layout, base, tmp_path):
    path = write_edf(_layout(base, LAYOUTS[layout]), tmp_path / f"{layout}.edf")
    out = analyze(path, tmp_path / "results", ledger=False)
    summary = json.loads((out.out_dir / "summary.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    assert {"recording", "spikes", "qeeg", "network"} <= set(steps)
    if "bipolar" in LAYOUTS[layout]:
        # no referential scalp electrodes: the step says why it did not run, the analysis goes on
        assert steps["spikes"]["summary"]["computed"] or steps["spikes"]["summary"]["reason"]
    else:
        assert steps["spikes"]["summary"]["computed"], steps["spikes"]["summary"]
        # spikes found, so the cluster and rate head maps were drawn with this electrode set
        assert steps["spikes"]["summary"]["n_clusters"] >= 1
    assert out.report_pdf.is_file() and out.report_pdf.stat().st_size > 0


def test_head_positions_leave_out_and_say_why():
    from dbrain.channels import head_positions

    sel = head_positions(["Fp1", "T1", "t2", "Sp1", "T3", "T7", "Cz", "cz", "Foo", "O1"], [1, 2, 3, 4, 5, 6, np.nan, 8, 9, 10])
    assert sel.channels == ["Fp1", "T3", "O1"]
    reasons = dict(sel.left_out)
    assert reasons["T1"] == reasons["t2"] == reasons["Sp1"] == reasons["Foo"] == "no standard position"
    assert reasons["T7"] == "same position as T3"
    assert reasons["Cz"] == "no value" and reasons["cz"] == "duplicate"
    assert sel.note().startswith("not shown: T1, t2, Sp1, Foo (no standard position)")
    assert head_positions(["Fp1", "Cz"]).note() == ""


@pytest.mark.parametrize("names", [["T1", "T2", "Fp1", "Fp2", "Cz", "O1"], ["T1", "T2"], ["Sp1", "Cz", "Cz"]])
def test_topomap_values_never_fails_on_odd_sets(names):
    from matplotlib.figure import Figure

    from dbrain.detect.spikes import plot_topomap_values

    fig = Figure()
    ax = fig.subplots()
    im = plot_topomap_values(np.arange(len(names), dtype=float), names, ax=ax)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "T1" in texts or "Sp1" in texts
    assert (im is None) == (len({n.lower() for n in names} - {"t1", "t2", "sp1"}) < 3)


def test_network_head_view_falls_back_with_a_note():
    from dbrain.network._figures import _head_positions, _layout_note

    assert _head_positions(["Fp1", "Fp2", "Cz"]).shape == (3, 2)
    assert _head_positions(["Fp1", "T1"]) is None
    from matplotlib.figure import Figure

    fig = Figure()
    _layout_note(fig, ["Fp1", "T1"])
    assert "T1 (no standard position)" in fig.texts[0].get_text()


def test_norms_maps_leave_out_unknown(tmp_path):
    import pandas as pd

    from dbrain.analyze._steps_norms import _maps

    chans = ["Fp1", "Fp2", "C3", "C4", "T1", "T2", "O1", "O2"]
    z = pd.DataFrame({"channel": chans * 1, "feature": ["rel_alpha"] * len(chans), "z": np.linspace(-2, 2, len(chans))})
    fig = _maps(z, chans)
    try:
        texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        assert "T1, T2 (no standard position)" in texts
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
