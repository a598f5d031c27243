"""StepResult.files: extra result files written inside the atomic DIR; and the diagnosis step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    assert {s["screen"] for s in doc["screens"]} == {"dementia", "epilepsy", "adhd"}
    for s in doc["screens"]:
        assert s["outcome"] in ("positive", "negative", "insufficient data", "not applicable")
        assert s["status"] in ("ok", "insufficient data", "not applicable") and isinstance(s["applicable"], bool)
        assert (s["probability"] is None) == bool(s["reason"])
        if s["probability"] is not None:
            assert 0 <= s["probability"] <= 1 and s["interval"][0] <= s["interval"][1] and s["drivers"]
    for s in doc["suggestions"]:
        assert s["sources"] and s["trigger"]
    assert doc["similar_cases"] is None
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Diagnosis support" in html and "No data store given" in html


def _write(tmp_path, ch, seconds, sfreq, name):
    import mne

    from dbrain.diagnosis.tests.test_dementia_robust import _eeg
    from dbrain.io import write_edf

    raw = mne.io.RawArray(_eeg(ch, seconds, sfreq), mne.create_info(ch, sfreq, "eeg"), verbose="error")
    return write_edf(raw, tmp_path / name)


def test_diagnosis_gives_dementia_probability_for_16_channels_6_s_256_hz_without_midline(tmp_path):
    from dbrain.diagnosis.tests.test_dementia_robust import CH16

    f = _write(tmp_path, CH16, 6.0, 256.0, "short16.edf")
    analyze(f, tmp_path / "out", only=["recording", "diagnosis"], ledger=False, step_params={"diagnosis": {"age": 72}})
    doc = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    dem = next(s for s in doc["screens"] if s["screen"] == "dementia")
    assert (
        dem["status"] == "ok" and 0 <= dem["probability"] <= 1 and dem["interval"][0] <= dem["probability"] <= dem["interval"][1]
    )
    assert not {"Fz", "Cz", "Pz"} & set(doc["channels"]) and doc["age"] == 72
    adhd = next(s for s in doc["screens"] if s["screen"] == "adhd")
    assert adhd["status"] == "not applicable" and "under 18" in adhd["reason"]


def test_child_gets_the_adhd_screen_and_the_adult_screens_are_gated(tmp_path):
    from dbrain.diagnosis.tests.test_dementia_robust import CH19

    f = _write(tmp_path, CH19, 90.0, 128.0, "child.edf")
    analyze(f, tmp_path / "out", only=["recording", "diagnosis"], ledger=False, step_params={"diagnosis": {"age": 9}})
    doc = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    by = {s["screen"]: s for s in doc["screens"]}
    assert by["adhd"]["status"] == "ok" and 0 <= by["adhd"]["probability"] <= 1
    assert np.isfinite(by["adhd"]["theta_beta"]["z"]) and "NEBA" in by["adhd"]["theta_beta"]["limits"]
    assert by["dementia"]["status"] == "not applicable" and "age 9" in by["dementia"]["reason"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "theta/beta ratio" in html and "aid beside a full clinical assessment" in html
    # page 1 and summary.json (what the server's API gives) carry the caveat and the model's scope with the probability
    from dbrain.report._clinical import percent

    page1 = html.split("</section>")[0]  # the findings: the first section
    adhd_line = page1.split("ADHD screen")[1].split("</tr>")[0]
    assert f"probability {percent(by['adhd']['probability'])}" in adhd_line
    assert "Research screen, not a diagnosis" in adhd_line and "72 children aged 7-12 y" in adhd_line
    assert "methylphenidate" in adhd_line and "5–95 % interval" in adhd_line
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    diag = next(s["summary"] for s in summary["steps"] if s["name"] == "diagnosis")
    assert diag["screens"]["adhd"]["caveat"] == "research screen, not a diagnosis"
    assert "7-12 y" in diag["screens"]["adhd"]["scope"] and diag["screens"]["adhd"]["interval"] == by["adhd"]["interval"]


def test_a_teenager_gets_no_adhd_probability_outside_the_trained_ages(tmp_path):
    from dbrain.diagnosis.tests.test_dementia_robust import CH19

    f = _write(tmp_path, CH19, 90.0, 128.0, "teen.edf")
    analyze(f, tmp_path / "out", only=["recording", "diagnosis"], ledger=False, step_params={"diagnosis": {"age": 15}})
    doc = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    adhd = next(s for s in doc["screens"] if s["screen"] == "adhd")
    assert adhd["outcome"] == "not applicable" and adhd["probability"] is None and "7-12 y" in adhd["reason"]
    page1 = (tmp_path / "out" / "report.html").read_text().split("</section>")[0]
    line = page1.split("ADHD screen")[1].split("</tr>")[0]
    assert "not applicable" in line and "%" not in line  # no number: no probability, interval or threshold
