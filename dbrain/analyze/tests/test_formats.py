"""`dbrain analyze` writes all its outputs for at least one file per format."""

from __future__ import annotations

import json

import pytest

from dbrain.analyze import analyze
from dbrain.analyze._pipeline import usable_eeg_problem
from dbrain.errors import RecordingError
from dbrain.io import read_recording
from dbrain.io.tests.test_read import FORMAT_FILES


@pytest.mark.parametrize("fmt", sorted(FORMAT_FILES))
def test_analyze_each_format(tmp_path, shared_data, fmt):
    path = shared_data / "formats" / FORMAT_FILES[fmt]
    if usable_eeg_problem(read_recording(path)[0]) is not None:
        # e.g. EDF+C's test_generator_2.edf (squarewave, ramp, ECG …): fails with the reason, writes nothing
        with pytest.raises(RecordingError, match="no usable EEG channel"):
            analyze(path, tmp_path / "out")
        assert not (tmp_path / "out").exists()
        return
    out = analyze(path, tmp_path / "out")
    names = {p.name for p in out.out_dir.iterdir()}
    assert {"annotations.edf", "events.tsv", "report.html", "report.pdf", "summary.json"} <= names
    # Trends need at least 30 s of EEG; shorter test files get a note instead of qeeg.parquet.
    steps = {s["name"]: s for s in out.summary["steps"]}
    assert ("qeeg.parquet" in names) == steps["qeeg"]["summary"]["computed"]
    summary = json.loads((out.out_dir / "summary.json").read_text())
    assert summary["recording"]["n_channels"] > 0
    assert out.report_pdf.read_bytes()[:4] == b"%PDF"
