"""The clinical report layout: findings on page 1, EEG at detected seizures, trend pages, one time convention."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.analyze import analyze
from dbrain.analyze._registry import AnalysisContext, StepResult, get_steps
from dbrain.events import read_events
from dbrain.io import read_recording
from dbrain.report._clinical import (
    MAX_SEIZURE_EXCERPTS,
    TREND_PAGE_HOURS,
    clinical_sections,
    excerpt_sections,
    findings_section,
    seizure_table,
    trend_sections,
)
from dbrain.utils._time import format_time

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")


def _time_labels(fig) -> list[str]:
    """Tick labels of the figure's time axis (the axes with an x label; colour bars have none)."""
    ax = next(a for a in fig.axes if a.get_xlabel())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels
    return labels


def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.get_xticklabels()]
    return out


@pytest.fixture(scope="module")
def two_day(tmp_path_factory):
    """10 min of simulated EEG with one seizure, its start moved so that the seizure falls after midnight.

    Returns the analysed results folder, the steps' results and the recording, from one run of the steps.
    """
    from dbrain.simulate import simulate_eeg

    raw, truth = simulate_eeg("10min", seizures=1, seed=3)
    onset = float(truth.loc[truth["eventType"] == "sz", "onset"].iloc[0])
    # midnight 60 s before the seizure: the recording spans two calendar days
    start = dt.datetime(2026, 1, 2, tzinfo=dt.UTC) - dt.timedelta(seconds=round(onset) - 60)
    raw.set_meas_date(start)
    path = tmp_path_factory.mktemp("two_day") / "two_day_raw.fif"
    raw.save(path)
    out = analyze(path, path.parent / "out", ledger=False)
    raw2, info = read_recording(path)
    ctx = AnalysisContext(raw=raw2, info=info)
    for step in get_steps():
        ctx.results[step.name] = step.func(ctx, **step.params)
    return out, ctx


def _pdf_page_text(pdf, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


@needs_poppler
def test_same_seizure_time_in_events_tsv_report_and_figures(two_day):
    out, ctx = two_day
    events = read_events(out.out_dir / "events.tsv")
    sz = events[events["eventType"] == "sz"]
    assert len(sz), "the simulated seizure was not detected"
    row = sz.iloc[0]
    # events.tsv: onset in seconds (BIDS) and an ISO 8601 dateTime on the second calendar day
    stamp = dt.datetime.fromisoformat(row["dateTime"])
    assert row["dateTime"][10] == "T" and stamp.date() == dt.date(2026, 1, 2)
    start = ctx.info.start_time
    expected = format_time(float(row["onset"]), start, multiday=True)
    assert expected == f"D2 {stamp:%H:%M:%S}"
    assert "e+" not in expected
    # the report: page 1's seizure table
    page1 = _pdf_page_text(out.report_pdf, 1)
    assert expected in page1
    # the seizure-probability figure, the EEG excerpt's time axis, the trend page's seizure label
    sections = clinical_sections(ctx.raw, ctx.info, ctx.results, [])
    excerpt = next(s for s in sections if s.key == "seizure-eeg-1").blocks[0].figure
    assert expected in [t.get_text() for t in excerpt.axes[0].get_xticklabels()]
    trend = next(s for s in sections if s.key == "trends-1").blocks[0].figure
    assert any(t.startswith("Sz 1 " + expected) for t in _texts(trend))
    assert all(label.startswith(("D1 ", "D2 ")) for label in _time_labels(trend))
    seizures = next(s for s in get_steps() if s.name == "seizures")
    rendered = seizures.render(ctx.results["seizures"], ctx, seizures.params)  # the step returns numbers; render draws
    probability = next(b for b in rendered[0].blocks if hasattr(b, "figure")).figure
    assert any(t.startswith("Sz 1 " + expected) for t in _texts(probability))
    assert all(label.startswith(("D1 ", "D2 ")) for label in _time_labels(probability))


@needs_poppler
def test_page_one_holds_the_findings(two_day):
    out, _ = two_day
    page1 = " ".join(_pdf_page_text(out.report_pdf, 1).split())
    for label in ("Findings", "Seizures", "Spikes", "Rhythmic/periodic patterns", "Background", "Artifact", "screen"):
        assert label in page1, label
    assert "posterior dominant rhythm" in page1 or "no posterior dominant rhythm" in page1
    assert "symmetric" in page1 and "slowing" in page1
    assert "1 detected" in page1
    assert " %" in page1  # confidence as a percentage
    # tables of the steps are in the appendix, after the findings, the EEG and the trends
    html = out.report_html.read_text()
    order = [html.index(f'id="{key}"') for key in ("findings", "seizure-eeg-1", "trends-1", "recording", "channels")]
    assert order == sorted(order)
    assert "Appendix: Channel mapping" in html
    # the appendix starts on a page of its own: page 1 ends before it
    assert "Appendix" not in page1 and "Channel mapping" not in page1


def test_excerpt_is_centred_on_the_detected_onset(two_day):
    _, ctx = two_day
    onsets = [s["onset"] for s in ctx.results["seizures"].summary["seizures"]]
    sections = excerpt_sections(ctx.raw, ctx.info, ctx.results)
    assert len(sections) == min(len(onsets), MAX_SEIZURE_EXCERPTS) >= 1
    for section, onset in zip(sections, onsets, strict=False):
        ax = section.blocks[0].figure.axes[0]
        assert np.mean(ax.get_xlim()) == pytest.approx(onset, abs=0.01)
        # the detected onset is drawn on the page, labelled as a detection
        assert any("Sz 1 detected onset" in t.get_text() for t in ax.texts) or "Sz" in section.title


def _raw(seconds=120.0, sfreq=128.0, start=dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)):
    names = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"]
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(rng.normal(0, 20e-6, (len(names), int(seconds * sfreq))), mne.create_info(names, sfreq, "eeg"))
    raw.set_meas_date(start)
    return raw


class _Info:
    def __init__(self, raw):
        self.start_time = raw.info["meas_date"]
        self.duration = raw.n_times / raw.info["sfreq"]
        self.sfreq = raw.info["sfreq"]


def test_excerpt_without_seizure_uses_the_strongest_spike_cluster_then_a_clean_page():
    raw = _raw()
    info = _Info(raw)
    spikes = pd.DataFrame(
        {"onset": [20.0, 70.0, 90.0], "duration": 0.2, "eventType": "spike", "confidence": [0.6, 0.95, 0.7], "cluster": [1, 1, 2]}
    )
    results = {
        "seizures": StepResult(summary={"computed": True, "seizures": []}),
        "spikes": StepResult(
            summary={
                "computed": True,
                "n_spikes": 3,
                "clusters": [{"cluster": 1, "focus": "T7", "region": "left temporal", "count": 2}],
            },
            tables={"spikes": spikes},
        ),
    }
    (section,) = excerpt_sections(raw, info, results)
    assert section.key == "eeg-excerpt" and "spike cluster" in section.title
    assert "No seizure was detected" in section.blocks[0].text and "T7" in section.blocks[0].text
    assert np.mean(section.blocks[1].figure.axes[0].get_xlim()) == pytest.approx(70.0, abs=0.01)
    del results["spikes"]
    (section,) = excerpt_sections(raw, info, results)
    assert "representative page" in section.title and "representative" in section.blocks[0].text


def test_seizure_table_formats_time_and_confidence():
    start = dt.datetime(2026, 1, 1, 23, 0)
    events = pd.DataFrame(
        {
            "onset": [26000.0],
            "duration": [72.0],
            "confidence": [1.0],
            "lateralisation": ["left"],
            "channels": ["F7-T7,T7-P7,Fp1-F7,F3-C3,C3-P3,P3-O1,Fz-Cz,Cz-Pz"],
        }
    )
    table = seizure_table(events, start, multiday=True)
    row = table.iloc[0].to_dict()
    assert row["onset"] == "D2 06:13:20" and row["duration"] == "1 min 12 s" and row["side"] == "left"
    assert row["confidence"] == "> 99 %"  # never "1", never a rounded "100 %"
    assert row["channels"].endswith("(+2 more)")
    assert seizure_table(events, None, multiday=False).iloc[0]["onset"] == "+7:13:20"


def _fake_qeeg(hours: float, step: float = 60.0, start=dt.datetime(2026, 1, 1, 20, 0)):
    """A small QEEGResult (one epoch a minute) for layout tests."""
    from dbrain.qeeg import QEEGResult

    times = np.arange(0, hours * 3600, step)
    n, nf = times.size, 30
    return QEEGResult(
        times=times,
        freqs=np.arange(1.0, 31.0),
        ch_names=["C3", "C4"],
        region_names=["left", "right"],
        pair_names=["left-right"],
        spectrogram=np.zeros((n, 2, nf), np.float16),
        region_spectrogram=np.random.default_rng(0).normal(size=(n, 2, nf)).astype(np.float16),
        asymmetry=np.zeros((n, 1, nf), np.float16),
        measures=np.zeros((n, 4, 1), np.float32),
        measure_names=["suppression_ratio"],
        aeeg=pd.DataFrame({"start": times, "pair": "C3-P3", "lower": 5.0, "upper": 30.0}),
        aperiodic=pd.DataFrame(columns=["start", "duration", "channel", "offset", "exponent", "r_squared"]),
        burst_suppression=pd.DataFrame(columns=["onset", "duration", "eventType"]),
        suppression=np.zeros(n),
        asymmetry_index=np.zeros((n, 1), np.float32),
        artifact=np.zeros((n, 2), np.float32),
        artifact_type=np.zeros((n, 2), np.int8),
        params={"step": step},
        sfreq=256.0,
        duration=hours * 3600,
        meas_date=start,
    )


def test_trend_pages_are_at_most_six_hours():
    res = _fake_qeeg(13.5)
    sz = {"onset": 7 * 3600.0 + 5, "duration": 60.0, "confidence": 0.9, "lateralisation": "left", "channels": "T7-P7"}
    results = {
        "qeeg": StepResult(summary={"computed": True}, data={"qeeg": res, "heart_rate": None}),
        "seizures": StepResult(summary={"computed": True, "seizures": [sz]}),
    }

    class Info:
        start_time, duration, sfreq = res.meas_date, res.duration, 256.0

    pages = trend_sections(None, Info, results)
    assert [s.key for s in pages] == ["trends-1", "trends-2", "trends-3"]
    assert pages[0].title.startswith("Trends D1 20:00:00 – D2 02:00:00")
    for k, page in enumerate(pages):
        fig = page.blocks[0].figure
        lo, hi = (x * 3600 for x in next(a for a in fig.axes if a.get_xlabel()).get_xlim())
        assert hi - lo <= TREND_PAGE_HOURS * 3600 + 1 and lo == pytest.approx(k * TREND_PAGE_HOURS * 3600)
        assert all(label[:3] in ("D1 ", "D2 ") for label in _time_labels(fig))
    # the seizure at 03:00:05 on day 2 is marked (and labelled) on the second page only
    assert any(t == "Sz 1 D2 03:00:05" for t in _texts(pages[1].blocks[0].figure))
    assert not any(t.startswith("Sz 1") for t in _texts(pages[0].blocks[0].figure))


def test_findings_without_steps_say_not_run():
    raw = _raw(seconds=30.0)
    section = findings_section(raw, _Info(raw), {})
    values = dict(section.blocks[0].items + section.blocks[-2].items)
    assert values["Seizures"] == "not run" and values["Spikes"] == "not run" and values["Screens"] == "not run"


def test_table_cells_never_use_scientific_notation():
    from dbrain.report._blocks import _cell

    assert _cell(26000.4) == "26000" and _cell(86399.9) == "86400" and _cell(1234.5) == "1234"
    assert _cell(12.345) == "12.35" and _cell(0.5) == "0.5"


def test_background_asymmetry_in_the_qeeg_tables_sign():
    # One sign convention in the whole report: the qEEG tables' (L−R)/(L+R), as the trend page's colour bar says;
    # the diagnosis feature (R−L)/(R+L) = +0.5 (more on the right) is shown as −0.50.
    from dbrain.qeeg import ASYMMETRY_LABEL
    from dbrain.report._clinical import _background_line

    feats = {"alpha_peak": 9.8, "asym_alpha": 0.5, "asym_delta": 0.02, "slowing_ratio": 1.0}
    results = {"diagnosis": StepResult(summary={"features": feats}, files={})}
    line = _background_line(results, 3600.0)
    assert f"asymmetric, more alpha power on the right ({ASYMMETRY_LABEL}: alpha −0.50, delta −0.02)" in line
    assert "R−L" not in line
    feats.update(asym_alpha=-0.1, asym_delta=-0.45)
    line = _background_line(results, 3600.0)
    assert f"asymmetric, more delta power on the left ({ASYMMETRY_LABEL}: alpha +0.10, delta +0.45)" in line
    feats.update(asym_alpha=-0.1, asym_delta=0.001)  # rounds to zero: no "−0.00"
    assert f"symmetric ({ASYMMETRY_LABEL}: alpha +0.10, delta +0.00)" in _background_line(results, 3600.0)


def test_artifact_burden_leaves_out_the_seizures_and_background_defers_to_them():
    from dbrain.report._clinical import _artifact_line, _background_line

    res = _fake_qeeg(1.0)
    res.artifact[:6] = 0.9  # minutes 0-5: unusable, dominant type "amplitude"
    res.artifact_type[:6] = 6
    sz = {"onset": 0.0, "duration": 360.0, "confidence": 0.9, "lateralisation": "left", "channels": "T7-P7"}
    results = {
        "qeeg": StepResult(summary={"computed": True}, data={"qeeg": res}),
        "seizures": StepResult(summary={"computed": True, "seizures": []}),
    }
    assert _artifact_line(results).startswith("10.0 % of the recording unusable") and "amplitude 100 %" in _artifact_line(results)
    results["seizures"] = StepResult(summary={"computed": True, "seizures": [sz]})
    assert _artifact_line(results).startswith("0.0 % of the recording outside the seizures unusable")
    diag = StepResult(summary={"features": {"alpha_peak": 9.8, "asym_alpha": 0.5, "slowing_ratio": 2.0}}, files={})
    results["diagnosis"] = diag
    line = _background_line(results, 3600.0)
    assert "9.8 Hz" in line and "asymmetric, more alpha power on the right" in line and "excess slow activity" in line
    # measured with the seizure's 6 minutes in it: said so (the seizure's rhythm is not the background)
    assert line.endswith(
        "the detected seizures (6 min 00 s, 10 % of the recording) are not left out of this EEG: it may reflect them rather "
        "than the background"
    )
    results["seizures"] = StepResult(summary={"computed": True, "seizures": []})
    assert "may reflect them" not in _background_line(results, 3600.0)
    results["seizures"] = StepResult(summary={"computed": True, "seizures": [sz]})
    sz["duration"] = 3000.0
    assert _background_line(results, 3600.0).startswith("not assessable: seizure activity during 83 %")


def test_spike_line_says_the_cutoff_and_the_candidates_below_it():
    from dbrain.report._clinical import MIN_RATE_DURATION, _spike_line, count_rate_text, spike_cutoff_text

    def line(**summary):
        return _spike_line({"spikes": StepResult(summary={"computed": True, **summary})})

    none = line(n_spikes=0, sensitivity="medium", cutoff=0.91, n_below_cutoff=34)
    # No detection is never "none detected": it is none at or above the stated cut-off, with the count below.
    assert none == (
        "none at or above the medium cut-off (confidence 0.91); 34 candidates below it, not listed: "
        "this does not exclude discharges"
    )
    assert "none detected" not in none
    assert line(n_spikes=0, sensitivity="high", cutoff=0.83, n_below_cutoff=1).startswith(
        "none at or above the high cut-off (confidence 0.83); 1 candidate below it"
    )
    some = line(n_spikes=5, sensitivity="medium", cutoff=0.91, n_below_cutoff=2, per_hour=10.0)
    assert some.startswith("5 detections, 10.0 per hour") and some.endswith(
        "; all at or above the medium cut-off (confidence 0.91); 2 candidates below it, not listed"
    )
    # On a recording shorter than MIN_RATE_DURATION: the count and the duration, no rate per hour.
    short = _spike_line(
        {"spikes": StepResult(summary={"computed": True, "n_spikes": 2, "per_hour": 144.0, "per_region_per_hour": {"T": 144.0}})},
        50.0,
    )
    assert short == "2 detections in 50 s (no rate per hour under 10 min)" and "/h" not in short
    assert count_rate_text(0, 50.0) == "0 in 50 s (no rate per hour under 10 min)"
    assert count_rate_text(3, 3600.0) == "3 (3.0 per hour)" and count_rate_text(1, MIN_RATE_DURATION) == "1 (6.0 per hour)"
    # An analysis of a step version before the cut-off (no key) keeps its old wording.
    assert line(n_spikes=0, sensitivity="medium") == "none detected (sensitivity medium)"
    assert spike_cutoff_text({"n_spikes": 0, "sensitivity": "low", "cutoff": 0.97}).startswith(
        "none at or above the low cut-off (confidence 0.97); 0 candidates below it"
    )


def test_screen_lines_carry_interval_caveat_and_scope_or_no_probability():
    import json

    from dbrain.report._clinical import _screen_lines

    adhd = {
        "screen": "adhd",
        "outcome": "negative",
        "probability": 0.21,
        "interval": [0.08, 0.41],
        "threshold": 0.53,
        "reason": None,
        "caveat": "research screen, not a diagnosis",
        "scope": "validated only on 72 children aged 7-12 y of one site during a counting task",
    }
    teen = {"screen": "adhd", "outcome": "not applicable", "probability": None, "threshold": 0.53, "reason": "age 15 y ..."}
    short = {"screen": "dementia", "outcome": "insufficient data", "probability": None, "reason": "fewer than 4 s of clean EEG"}
    doc = {"screens": [adhd, teen, short]}
    lines = _screen_lines({"diagnosis": StepResult(files={"diagnosis.json": json.dumps(doc).encode()})})
    (_, text), (_, na), (_, few) = lines
    assert text.startswith("negative, probability 21 % (5–95 % interval 8 % to 41 %; threshold 53 %). Research screen, ")
    assert "not a diagnosis; validated only on 72 children aged 7-12 y" in text and "see Appendix: Diagnosis support" in text
    # outside the model's scope: the outcome and why, never a number
    assert na == "not applicable — age 15 y ..." and "%" not in na
    assert few == "insufficient data — fewer than 4 s of clean EEG" and "%" not in few
    # an older diagnosis.json without caveat or scope still says it is a research screen, from the step summary too
    old = {"outcome": "positive", "probability": 0.8, "threshold": 0.76, "reason": None}
    summary_only = {"diagnosis": StepResult(summary={"screens": {"dementia": old}}, files={})}
    [(name, line)] = _screen_lines(summary_only)
    assert name == "Dementia screen" and "Research screen, not a diagnosis; see Appendix: Diagnosis support." in line
    # a widened interval says so (the reasons are in the appendix); an unknown age says what was assumed
    unknown = {
        **old,
        "interval": [0.5, 0.95],
        "interval_notes": [
            "age unknown (no --age …): assumed inside the training ages, interval widened by a stated convention (logit SD 0.50)"
        ],
    }
    short = {**old, "interval": [0.4, 0.97], "interval_notes": ["interval widened: 5 s of EEG"]}
    from dbrain.report._clinical import screen_text

    assert (
        "(5–95 % interval 50 % to 95 %; age unknown: assumed inside the training ages, interval widened; threshold 76 %)"
        in screen_text(unknown)
    )
    assert "interval widened for this recording; threshold 76 %" in screen_text(short)


def test_pattern_decisions_table_uses_clock_time():
    # The patterns appendix's decision table wrote window starts in seconds (20, 30, 40) in a report of clock times.
    from dbrain.analyze._steps_patterns import _reconciled_blocks

    w = pd.DataFrame(
        {"start": [20.0, 30.0, 86390.0], "decision": ["seizure", "other", "lpd"], "source": "detector", "pattern_label": "x",
         "p_pattern": 0.9, "p_seizure_pattern": 0.8, "p_seizure_detector": 0.7, "frequency": 3.0, "side": "right",
         "prevalence": 60, "prevalence_term": "", "plus": "", "note": ""}
    )  # fmt: skip
    [table] = _reconciled_blocks(w, dt.datetime(2020, 1, 1, 0, 0, 0), True)
    assert table.data["start"].tolist() == ["D1 00:00:20", "D1 23:59:50"]
