"""What the steps' appendix sections say to a reader: readable headers, no hourly rate from a short recording."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from dbrain.analyze import analyze
from dbrain.analyze._steps_patterns import PATTERN_HEADERS, readable_pattern_columns

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf"


def test_pattern_table_headers_are_readable_and_empty_columns_dropped():
    table = pd.DataFrame(
        {
            "start": ["10:00:00", "10:00:10"],
            "decision": ["LPD", "seizure"],
            "p_pattern": [0.81, 0.40],
            "p_seizure_detector": [np.nan, 0.9],
            "plus": ["", ""],
            "note": [None, np.nan],
        }
    )
    shown = readable_pattern_columns(table)
    assert list(shown.columns) == ["start", "decision", "P(class), classifier", "P(seizure), detector"]
    assert shown["P(seizure), detector"].iloc[1] == 0.9 and list(table.columns)[-1] == "note"  # input untouched
    assert all(not re.fullmatch(r"[a-z]+(_[a-z]+)+", h) for h in PATTERN_HEADERS.values())


def test_sample_report_patterns_and_spikes_wording(tmp_path):
    """The bundled 50-s sample: pattern headers readable, the spike count given with its duration, no rate per hour."""
    out = analyze(SAMPLE, tmp_path / "out", only=["recording", "seizures", "spikes", "patterns"], ledger=False)
    html = out.report_html.read_text()
    assert "P(seizure), detector" in html and "p_seizure_detector" not in html and "prevalence_term" not in html
    assert "0 in 50 s (no rate per hour under 10 min)" in html and "per hour)" not in html
    # the tables keep their column names
    assert "p_seizure_detector" in pd.read_parquet(out.out_dir / "patterns.parquet").columns


def test_short_recording_with_spikes_gets_counts_not_rates(tmp_path):
    """2 min with simulated spikes: page 1 and the appendix give the count in 2 min, the cluster table no per_hour."""
    from dbrain.simulate import write_simulated_edf

    path, _ = write_simulated_edf(tmp_path / "sim.edf", 120, spikes=20, seed=3)
    out = analyze(path, tmp_path / "out", only=["recording", "spikes"], ledger=False)
    n = len(pd.read_parquet(out.out_dir / "spikes.parquet"))
    assert n > 0  # else the test would not see the cluster table
    html = out.report_html.read_text()
    assert f"{n} detections in 2 min 00 s (no rate per hour under 10 min)" in html
    assert f"{n} in 2 min 00 s (no rate per hour under 10 min)" in html
    assert "per hour)" not in html and "per_hour" not in html and "/h;" not in html
