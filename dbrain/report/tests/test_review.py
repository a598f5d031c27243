"""The clinician's review on page 1 of a re-issued report (dbrain.report._review)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dbrain.errors import ParameterError
from dbrain.report import render_html
from dbrain.report._blocks import KeyValues, Section
from dbrain.report._review import review_section, reviewed_report_html

START = dt.datetime(2024, 3, 1, 23, 50, 0)


def _events():
    return pd.DataFrame(
        {
            "onset": [30.0, 700.0, 900.0, 1000.0],
            "duration": [72.0, 40.0, 0.1, 0.1],
            "eventType": ["sz", "sz_foc", "spike", "spike"],
            "confidence": [0.995, 0.61, 0.8, None],
            "channels": ["F8,T4", None, "T4", "T3"],
            "review": ["accepted", "rejected", None, "rejected"],
        }
    )


def _report() -> str:
    findings = Section("Findings", "findings", [KeyValues([("Seizures", "2 detected")])])
    appendix = Section("Appendix: tables", "appendix", [KeyValues([("x", "y")])], break_before=True)
    return render_html("EEG report", [findings, appendix])


def test_review_section_counts_and_lists_each_decision():
    sec = review_section(
        _events(), start=START, duration=2 * 3600, reviewer="dr_a", signed_at=dt.datetime(2024, 3, 2, 9, 0, tzinfo=dt.UTC)
    )
    html = render_html("r", [sec])
    assert "1 confirmed, 1 rejected, 0 not reviewed" in html  # sz and sz_foc count as seizures
    assert "0 confirmed, 1 rejected, 1 not reviewed" in html  # spikes
    assert "D1 23:50:30" in html and "D2 00:01:40" in html  # one clock, with the day across midnight
    assert "confirmed" in html and "rejected" in html and "&gt; 99 %" in html and "61 %" in html
    assert "dr_a, 2024-03-02 09:00 UTC" in html and "DRAFT" not in html
    draft = render_html("r", [review_section(_events(), start=START, duration=7200, reviewer=None, signed_at=None)])
    assert "DRAFT" in draft


def test_review_goes_first_and_replaces_an_earlier_one():
    page = _report()
    sec = review_section(_events(), start=START, duration=7200, reviewer=None, signed_at=None)
    out = reviewed_report_html(page, sec)
    assert out.index('<section id="review"') < out.index('<section id="findings"') < out.index('<section id="appendix"')
    assert "Findings (automatic detections, before review)" in out and "<h2>Findings</h2>" not in out
    signed = review_section(
        _events(), start=START, duration=7200, reviewer="dr_a", signed_at=dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
    )
    again = reviewed_report_html(out, signed)
    assert again.count('<section id="review"') == 1 and "DRAFT" not in again and "dr_a" in again
    assert again.count("before review)</h2>") == 1


def test_bad_input_is_one_clear_error():
    with pytest.raises(ParameterError, match="columns"):
        review_section(pd.DataFrame({"onset": [1.0]}), start=None, duration=10, reviewer=None, signed_at=None)
    with pytest.raises(ParameterError, match="findings section"):
        reviewed_report_html("<html></html>", review_section(_events(), start=None, duration=7200, reviewer=None, signed_at=None))
