"""`dbrain analyze` writes all its outputs for at least one file per format."""

from __future__ import annotations

import json

import pytest

from dbrain.analyze import analyze
from dbrain.io.tests.test_read import FORMAT_FILES


@pytest.mark.parametrize("fmt", sorted(FORMAT_FILES))
def test_analyze_each_format(tmp_path, shared_data, fmt):
    out = analyze(shared_data / "formats" / FORMAT_FILES[fmt], tmp_path / "out")
    names = {p.name for p in out.out_dir.iterdir()}
    assert {"annotations.edf", "events.tsv", "report.html", "report.pdf", "summary.json"} <= names
    # Trends need at least 30 s of EEG; shorter test files get a note instead of qeeg.parquet.
    steps = {s["name"]: s for s in out.summary["steps"]}
    assert ("qeeg.parquet" in names) == steps["qeeg"]["summary"]["computed"]
    summary = json.loads((out.out_dir / "summary.json").read_text())
    assert summary["recording"]["n_channels"] > 0
    assert out.report_pdf.read_bytes()[:4] == b"%PDF"
