"""Report rendering tests: escaping, self-containment, PDF output, the EEG page."""

from __future__ import annotations

import shutil
import subprocess

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.report import (
    Figure,
    KeyValues,
    Note,
    Paragraph,
    Section,
    Table,
    plot_eeg_page,
    render_html,
    select_page_start,
    write_report,
)


def _raw(n_ch=4, seconds=30.0, sfreq=200.0, annotations=()):
    t = np.arange(int(seconds * sfreq)) / sfreq
    data = np.array([50e-6 * np.sin(2 * np.pi * 10 * t + k) for k in range(n_ch)])
    raw = mne.io.RawArray(data, mne.create_info([f"C{k}" for k in range(n_ch)], sfreq, "eeg"), verbose="error")
    if annotations:
        raw.set_annotations(mne.Annotations(*zip(*annotations, strict=True)))
    return raw


def _sections():
    page = plot_eeg_page(_raw(), start=5, duration=10)
    return [
        Section("Facts", "facts", [KeyValues([("Evil", "<script>alert(1)</script>")]), Paragraph("a < b & c")]),
        Section("Table", "table", [Table(pd.DataFrame({"x": ["<b>bold</b>", "ok"], "y": [1.5, np.nan]}), max_rows=1)]),
        Section("Page", "page", [Note("2 derivations skipped"), Figure(page, caption="page")]),
    ]


def test_html_escapes_and_is_self_contained():
    html = render_html("Report <x>", _sections(), header={"Recording": "a&b.edf"})
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html
    assert "1 more rows not shown" in html
    assert "Decision support only" in html
    for attr in ('src="http', "src='http", 'href="http', "url(http"):
        assert attr not in html
    assert html.count("data:image/png;base64,") == 1


def test_pdf_written_from_same_html(tmp_path):
    html = render_html("R", _sections())
    html_path, pdf_path = write_report(html, tmp_path)
    assert html_path.read_text() == html
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = pdf_text(pdf_path)
    for words in ("Facts", "<script>alert(1)</script>", "2 derivations skipped", "Decision support only"):
        assert words in text


def pdf_text(path) -> str:
    """The PDF's text via poppler's pdftotext (installed by scripts/setup.sh test)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_failed_pdf_leaves_nothing(tmp_path, monkeypatch):
    import weasyprint

    def boom(self, *args, **kwargs):
        raise RuntimeError("pdf failed")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", boom)
    with pytest.raises(RuntimeError):
        write_report(render_html("R", []), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_eeg_page_lines_and_window():
    raw = _raw(n_ch=6, annotations=[(12.0, 3.0, "sz")])
    fig = plot_eeg_page(raw, start=10, duration=10, groups=[["C0", "C1", "C2"], ["C3", "C4", "C5"]])
    ax = fig.axes[0]
    traces = [ln for ln in ax.lines if len(ln.get_xdata()) > 100]
    assert len(traces) == 6
    assert traces[0].get_xdata()[0] == pytest.approx(10.0)
    # Past the end: clipped to the last 10 s of data.
    fig = plot_eeg_page(raw, start=100, duration=10)
    xs = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) > 100][0].get_xdata()
    assert xs[-1] <= 30.0 and xs[0] == pytest.approx(20.0)


def test_eeg_page_flat_channel_no_warnings():
    raw = _raw(n_ch=3)
    raw._data[1] = 0.0
    plot_eeg_page(raw, start=0, duration=5)


def test_select_page_start():
    assert select_page_start(_raw(annotations=[(20.0, 4.0, "Seizure onset")]), 10) == pytest.approx(17.0)
    assert select_page_start(_raw(), 10) == pytest.approx(10.0)
    assert select_page_start(_raw(annotations=[(8.0, 10.0, "BAD_ACQ_SKIP")]), 10) == pytest.approx(18.0)
