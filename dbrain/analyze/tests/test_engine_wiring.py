"""dbrain analyze through the engine: streaming seizures equal the whole-recording step; report=False draws nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dbrain.analyze import AnalysisContext, StepResult, _steps_seizures, analyze, get_steps
from dbrain.errors import ParameterError
from dbrain.io import read_recording

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf"


def test_run_order_comes_from_requires(extra_steps):
    names = [s.name for s in get_steps()]
    assert names.index("network") > names.index("seizures")
    assert names.index("norms") > max(names.index("qeeg"), names.index("network"))
    assert names[-1] == "diagnosis"

    @extra_steps("late", "1", requires=("first",))
    def late(ctx):
        """Reads 'first'."""
        return StepResult(summary={"first": ctx.results["first"].summary["x"]})

    @extra_steps("first", "1")
    def first(ctx):
        """Registered after 'late', runs before it."""
        return StepResult(summary={"x": 3})

    names = [s.name for s in get_steps()]
    assert names.index("first") < names.index("late")


def test_requires_cycle_refused(extra_steps):
    extra_steps("ping", "1", requires=("pong",))(lambda ctx: StepResult())
    extra_steps("pong", "1", requires=("ping",))(lambda ctx: StepResult())
    with pytest.raises(RuntimeError, match="cycle: ping -> pong -> ping"):
        get_steps()


def test_unknown_requirement_refused(extra_steps):
    extra_steps("lonely", "1", requires=("no_such_step",))(lambda ctx: StepResult())
    with pytest.raises(RuntimeError, match="unregistered step"):
        get_steps()


def test_step_params_checked_against_schema(tmp_path):
    with pytest.raises(ParameterError, match="Allowed values are 'low', 'medium', 'high'"):
        analyze(SAMPLE, tmp_path / "out", only=["seizures"], step_params={"seizures": {"sensitivity": "extreme"}})
    with pytest.raises(ParameterError, match="window"):
        analyze(SAMPLE, tmp_path / "out", only=["qeeg"], step_params={"qeeg": {"window": "long"}})
    assert not (tmp_path / "out").exists()


def test_streaming_seizures_equal_whole_recording_step_and_render_only_when_asked(tmp_path, monkeypatch):
    raw, info = read_recording(SAMPLE)
    whole = _steps_seizures.seizure_step(AnalysisContext(raw, info))
    drawn = []
    real = _steps_seizures.plot_seizure_probability
    monkeypatch.setattr(_steps_seizures, "plot_seizure_probability", lambda *a, **k: drawn.append(1) or real(*a, **k))

    out = analyze(SAMPLE, tmp_path / "quiet", only=["recording", "seizures"], report=False, ledger=False)
    assert drawn == []  # no figure drawn without a report
    assert not out.report_html.exists() and not out.report_pdf.exists()
    table = pd.read_parquet(out.out_dir / "seizure_probability.parquet")
    pd.testing.assert_frame_equal(table, whole.tables["seizure_probability"])
    summary = json.loads((out.out_dir / "summary.json").read_text())
    step = next(s for s in summary["steps"] if s["name"] == "seizures")
    assert step["streaming"] is True and summary["report"] is False
    assert json.loads(json.dumps(whole.summary, default=str)) == step["summary"]
    assert "bipolar" in summary["engine"]["products"]

    out = analyze(SAMPLE, tmp_path / "report", only=["seizures"], ledger=False)
    assert drawn == [1] and "Seizure detection" in out.report_html.read_text()


def test_cli_no_report(tmp_path, monkeypatch, capsys):
    from dbrain.cli import main

    monkeypatch.setenv("DBRAIN_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", str(SAMPLE), "--out", str(out), "--only", "recording,qeeg", "--no-report", "--no-ledger"])
    assert exit_.value.code == 0, capsys.readouterr().err
    assert "no report" in capsys.readouterr().out
    assert (out / "qeeg.parquet").is_file() and not (out / "report.html").exists()


@pytest.mark.parametrize("chunk_duration", [10.0, 300.0])
def test_input_hash_read_beside_the_pass_or_after_it(tmp_path, chunk_duration):
    """More than two chunks: the hash is read in a thread during the single pass; else after it. Same value."""
    from dbrain.utils._hash import sha256_path

    out = analyze(SAMPLE, tmp_path / "out", only=["seizures"], report=False, ledger=False, chunk_duration=chunk_duration)
    summary = json.loads((out.out_dir / "summary.json").read_text())
    assert summary["input"]["sha256"] == sha256_path(SAMPLE)
    assert summary["engine"]["pass_seconds"] > 0


def test_figures_drawn_in_a_process_of_their_own_give_the_same_report(tmp_path, monkeypatch):
    """DBRAIN_REPORT_PROCESS=1 (the default from 30 min on): same report figures and text as drawn in place."""
    import re

    from dbrain.report import _drawer

    handed = []
    real = _drawer.FigureDrawer.submit

    def submit(self, items):
        before = self.n_submitted
        real(self, items)
        handed.append(self.n_submitted - before)

    drawn = []
    real_close = _drawer.FigureDrawer.close

    def close(self):
        if not self._closed:
            drawn.extend(self._status.values())
        real_close(self)

    monkeypatch.setattr(_drawer.FigureDrawer, "submit", submit)
    monkeypatch.setattr(_drawer.FigureDrawer, "close", close)
    only = ["recording", "seizures", "qeeg", "spikes", "patterns"]
    pages = {}
    for value in ("0", "1"):
        monkeypatch.setenv(_drawer.ENV, value)
        out = analyze(SAMPLE, tmp_path / value, only=only, ledger=False)
        pages[value] = out.report_html.read_text()
        assert out.report_pdf.stat().st_size > 0
    assert sum(handed) >= 4  # the steps' figures, the excerpt and the trend page went to the worker
    assert set(drawn) == {"ok"} and len(drawn) == sum(handed)  # and the worker drew them
    images = {k: re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", v) for k, v in pages.items()}
    assert len(images["1"]) >= 4 and images["0"] == images["1"]
    text = {k: re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+|\d{4}-\d\d-\d\d \d\d:\d\d[^<]*", "", v) for k, v in pages.items()}
    assert text["0"] == text["1"]
