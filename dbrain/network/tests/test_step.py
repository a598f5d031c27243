"""The ``network`` analysis step: DIR/network.parquet, the report section, graceful skips."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.analyze import AnalysisContext, StepResult, analyze, get_steps
from dbrain.analyze._steps_network import NETWORK_COLUMNS
from dbrain.simulate import simulate_eeg, write_simulated_edf


def _step():
    return next(s for s in get_steps() if s.name == "network")


def test_analyze_writes_network_table(tmp_path):
    path = tmp_path / "sim.edf"
    write_simulated_edf(path, 120, seed=7)
    out = analyze(path, tmp_path / "out", only=["recording", "network"], ledger=False)
    table = pd.read_parquet(tmp_path / "out" / "network.parquet")
    assert tuple(table.columns) == NETWORK_COLUMNS
    kinds = set(table["kind"])
    assert {"connectivity", "graph", "resting"} <= kinds
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Brain network" in html and "wPLI" in html
    summary = out.summary if hasattr(out, "summary") else None
    assert summary is None or "network" in str(summary)


def test_onset_network_from_events_of_an_earlier_step():
    raw, events = simulate_eeg(240, seizures=1, seed=7, ekg=False, verbose="error")
    sz = events[events["eventType"] == "sz"]
    ctx = AnalysisContext(raw, None, results={"seizures": StepResult(events=sz)})
    step = _step()
    res = step.func(ctx, **{**step.params, "n_surrogates": 0, "max_clean": 60.0})
    seizures = res.summary["seizures"]
    assert len(seizures) == 1 and seizures[0]["onset"] == pytest.approx(float(sz["onset"].iloc[0]))
    truth = sz["channels"].iloc[0].split(",")
    assert truth[0] in seizures[0]["candidates"][:3]  # the simulated focus among the first three candidates
    onset = res.tables["network"].query("kind == 'onset' and measure == 'rank'")
    assert len(onset) == 19


def test_skips_with_few_channels():
    info = mne.create_info(["C3", "C4", "Cz"], 256.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((3, 256 * 120)) * 1e-5, info, verbose="error")
    step = _step()
    res = step.func(AnalysisContext(raw, None), **step.params)
    assert res.summary == {"computed": False, "reason": "3 EEG channel(s), at least 4 needed"}
    assert res.sections[0].blocks[0].text.startswith("No network analysis")


def test_note_when_too_little_clean_data():
    raw, _ = simulate_eeg(60, seed=0, ekg=False, verbose="error")
    raw._data[:, : raw.n_times - 20 * 256] = 0.0  # flat except the last 20 s: 5 clean epochs
    step = _step()
    res = step.func(AnalysisContext(raw, None), **step.params)
    assert res.summary["n_clean_epochs"] < 10 and res.summary["resting"] is None
    assert any("No resting network" in getattr(b, "text", "") for b in res.sections[0].blocks)


def test_intracranial_recording_gets_onset_networks_only():
    rng = np.random.default_rng(0)
    sfreq, n = 512.0, 512 * 60
    names = [f"LA{i}" for i in range(1, 7)]
    x = rng.standard_normal((6, n)) * 1e-5
    x[1, 512 * 30 :] += 6e-5 * np.sin(2 * np.pi * 45 * np.arange(n - 512 * 30) / sfreq)  # fast activity in LA2 from 30 s
    raw = mne.io.RawArray(x, mne.create_info(names, sfreq, "seeg"), verbose="error")
    raw.set_annotations(mne.Annotations([30.0], [20.0], ["seizure"]))
    step = _step()
    res = step.func(AnalysisContext(raw, None), **step.params)
    assert res.summary["kind"] == "intracranial" and res.summary["resting"] is None
    assert res.summary["seizures"][0]["candidates"][0] == "LA2"
