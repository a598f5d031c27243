"""StepResult.files: extra result files written inside the atomic DIR; and the diagnosis step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbrain.analyze import StepResult, analyze

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf"


def test_step_files_are_written_and_listed(tmp_path, extra_steps):
    @extra_steps("writer", "1", order=90)
    def writer(ctx):
        """Writes a JSON file."""
        return StepResult(files={"writer.json": b'{"ok": true}\n'})

    analyze(SAMPLE, tmp_path / "out", only=["recording", "writer"], ledger=False)
    assert json.loads((tmp_path / "out" / "writer.json").read_text()) == {"ok": True}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["steps"][-1]["files"] == ["writer.json"]


@pytest.mark.parametrize("name", ["summary.json", "../x.json", "sub/x.json"])
def test_step_files_cannot_clash_or_escape(tmp_path, extra_steps, name):
    @extra_steps("writer", "1", order=90)
    def writer(ctx):
        """Writes a bad file name."""
        return StepResult(files={name: b"x"})

    with pytest.raises(RuntimeError, match="not a free plain file name"):
        analyze(SAMPLE, tmp_path / "out", only=["recording", "writer"], ledger=False)
    assert not (tmp_path / "out").exists()


def test_diagnosis_step_writes_cited_json(tmp_path):
    if not SAMPLE.exists():
        pytest.skip("bundled sample missing")
    analyze(SAMPLE, tmp_path / "out", only=["recording", "seizures", "diagnosis"], ledger=False)
    doc = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    assert "qualified clinician" in doc["disclaimer"]
    assert {s["screen"] for s in doc["screens"]} == {"dementia", "epilepsy"}
    for s in doc["screens"]:
        assert s["outcome"] in ("positive", "negative", "insufficient data")
        if s["probability"] is not None:
            assert 0 <= s["probability"] <= 1 and s["interval"][0] <= s["interval"][1] and s["drivers"]
    for s in doc["suggestions"]:
        assert s["sources"] and s["trigger"]
    assert doc["similar_cases"] is None
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Diagnosis support" in html and "No data store given" in html
