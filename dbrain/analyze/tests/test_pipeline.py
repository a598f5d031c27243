"""The step plug-in contract: registration, order, tables, events, atomic failure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dbrain.analyze import StepResult, analyze, get_steps
from dbrain.events import make_events, read_events
from dbrain.report import Paragraph, Section

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "iiic_seizure_sample.edf"


def test_plugin_step_adds_table_events_and_section(tmp_path, extra_steps):
    @extra_steps("line_length", "7", order=50, params={"scale": 2.0})
    def line_length(ctx, scale):
        """Mean line length per channel."""
        data = ctx.raw.get_data(picks="eeg")
        assert "recording" in ctx.results  # earlier steps are visible
        table = pd.DataFrame(
            {"channel": ctx.raw.copy().pick("eeg").ch_names, "value": scale * abs(data[:, 1:] - data[:, :-1]).mean(1)}
        )
        events = make_events([1.0], [2.0], "test_event", confidence=[0.7])
        return StepResult(
            summary={"n": len(table)},
            events=events,
            tables={"line_length": table},
            sections=[Section("Line length", "ll", [Paragraph("hello from a plug-in")])],
        )

    assert [s.name for s in get_steps()][-1] == "line_length"
    out = analyze(SAMPLE, tmp_path / "out", only=["recording", "line_length"])
    table = pd.read_parquet(out.out_dir / "line_length.parquet")
    assert len(table) == 19 and (table["value"] > 0).all()
    events = read_events(out.out_dir / "events.tsv")
    assert set(events["eventType"]) == {"test_event", "Seizure (IIIC expert consensus, scored segment)"}
    summary = json.loads((out.out_dir / "summary.json").read_text())
    step = summary["steps"][-1]
    assert step["name"] == "line_length" and step["version"] == "7" and step["params"] == {"scale": 2.0}
    assert step["tables"] == ["line_length.parquet"]
    assert "hello from a plug-in" in out.report_html.read_text()


def test_failing_step_leaves_no_output(tmp_path, extra_steps):
    @extra_steps("broken", "1", order=50)
    def broken(ctx):
        """Always fails."""
        raise RuntimeError("bug in a step")

    with pytest.raises(RuntimeError, match="bug in a step"):
        analyze(SAMPLE, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_duplicate_registration_refused(extra_steps):
    with pytest.raises(RuntimeError, match="registered twice"):
        extra_steps("recording", "9", order=0)(lambda ctx: StepResult())
