"""Report tests: escaping, self-containment, PDF output, atomic writes, the EEG page."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import socket
import subprocess
import zlib

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.errors import OutputError, ParameterError
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
from dbrain.report._render import _url_fetcher

EVIL = "<script>alert(1)</script>"
# The 18 double-banana derivations plus the EKG, in four chains and the midline.
CHAINS = [
    ["Fp1-F7", "F7-T7", "T7-P7", "P7-O1"],
    ["Fp1-F3", "F3-C3", "C3-P3", "P3-O1"],
    ["Fz-Cz", "Cz-Pz"],
    ["Fp2-F4", "F4-C4", "C4-P4", "P4-O2"],
    ["Fp2-F8", "F8-T8", "T8-P8", "P8-O2"],
]


def _raw(n_ch=4, seconds=30.0, sfreq=200.0, annotations=(), names=None, meas_date=None):
    t = np.arange(int(seconds * sfreq)) / sfreq
    names = names or [f"C{k}" for k in range(n_ch)]
    data = np.array([50e-6 * np.sin(2 * np.pi * 10 * t + k) for k in range(len(names))])
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "eeg"), verbose="error")
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    if annotations:
        onset, duration, text = zip(*annotations, strict=True)
        raw.set_annotations(mne.Annotations(onset, duration, text, orig_time=raw.info["meas_date"]))
    return raw


def _bipolar_raw():
    names = [c for chain in CHAINS for c in chain]
    return _raw(names=names, annotations=[(12.0, 3.0, "sz <b>onset</b>"), (17.5, 0.0, "spike")])


def _traces(fig):
    return [ln for ln in fig.axes[0].lines if str(ln.get_gid()).startswith("trace:")]


def _texts(fig):
    return [t.get_text() for t in fig.texts] + [t.get_text() for t in fig.axes[0].texts]


@pytest.fixture(scope="module")
def page():
    return plot_eeg_page(_raw(), start=5, duration=10)


@pytest.fixture(scope="module")
def sections(page):
    events = pd.DataFrame({"onset": [1.5, 2.0, 3.25], "eventType": [EVIL, "ok", "spike"], "confidence": [0.9, np.nan, 1.0]})
    return [
        Section("Facts <i>", "facts", [KeyValues([("Evil", EVIL), ("Missing", None)]), Paragraph(f"a < b & c {EVIL}")]),
        Section("Events", "events", [Table(events, max_rows=2, more_in="events.tsv", caption=EVIL)]),
        Section("Page", "page", [Note(f"3 derivations skipped: electrode T1 missing {EVIL}"), Figure(page, caption=EVIL)]),
    ]


def test_html_escapes_everything(sections):
    html = render_html(f"Report {EVIL}", sections, header={"Patient": EVIL, "Recording": "a&b.edf"}, footer=EVIL)
    assert "<script" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8
    assert "<i>" not in html and "a &lt; b &amp; c" in html and "a&amp;b.edf" in html
    assert "1 more row in events.tsv." in html
    assert '<td class="num">n/a</td>' in html and '<td class="num">1.5</td>' in html
    assert "Decision support only; findings must be confirmed by a qualified clinician" in html
    assert html.count("data:image/png;base64,") == 1
    assert 'id="page" class="landscape"' in html and 'id="facts">' in html


def test_html_is_self_contained(sections):
    html = render_html("R", sections, header={"Recording": "x"})
    assert "http://" not in html and "https://" not in html
    refs = re.findall(r"""\b(?:src|href)\s*=\s*(["']?)([^"'\s>]*)\1""", html)
    assert refs and all(url.startswith(("data:", "#")) for _, url in refs), "only data: and #anchor references allowed"
    assert not re.search(r"url\(\s*['\"]?(?!data:)", html) and "@import" not in html
    # The embedded image is a real PNG.
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html).group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_section_and_block_validation():
    with pytest.raises(ParameterError, match="key"):
        Section("A", "has space", [])
    with pytest.raises(ParameterError, match="block"):
        Section("A", "a", ["<p>raw html</p>"])
    with pytest.raises(ParameterError, match="distinct"):
        render_html("R", [Section("A", "a"), Section("B", "a")])
    with pytest.raises(ParameterError, match="level"):
        Note("x", level="shout")
    with pytest.raises(ParameterError):
        Table([[1, 2]])
    assert KeyValues({"n": 3, "x": 0.5, "flag": True, "when": dt.datetime(2024, 1, 2, 3, 4, 5)}).items == [
        ("n", "3"),
        ("x", "0.5"),
        ("flag", "yes"),
        ("when", "2024-01-02 03:04:05"),
    ]


def _pdf_pages(pdf: bytes) -> list[bytes]:
    """Page dictionaries of a PDF, looking inside compressed object streams too."""
    chunks = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return [p for c in chunks for p in re.findall(rb"<<[^<>]*/Type\s*/Page(?![a-z])[^<>]*>>", c)]


def test_pdf_written_from_same_html(tmp_path, sections):
    html = render_html("R", sections)
    html_path, pdf_path = write_report(html, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.pdf"]
    assert html_path.read_text(encoding="utf-8") == html
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = _pdf_pages(pdf)
    assert len(pages) == 2  # portrait text, then the landscape EEG page
    landscape = [p for p in pages if re.search(rb"/MediaBox\s*\[\s*0 0 841\.\d+ 595\.\d+", p)]
    assert len(landscape) == 1
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout
        for words in ("Facts <i>", EVIL, "3 derivations skipped", "Decision support only", "page 1 of 2", "page 2 of 2"):
            assert words in text


def test_pdf_fetches_nothing(monkeypatch):
    fetcher = _url_fetcher()
    for url in ("http://example.invalid/x.png", "https://example.invalid/x.css", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="disallowed"):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain;base64,aGk=") is not None
    # Even HTML that asks for remote resources (not something render_html makes) opens no connection.
    connections = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: connections.append(addr))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: connections.append(a) or [])
    from dbrain.report._render import _pdf_bytes

    pdf = _pdf_bytes(
        '<link rel="stylesheet" href="https://example.invalid/x.css"><img src="http://example.invalid/x.png"><p>hi</p>'
    )
    assert pdf.startswith(b"%PDF") and connections == []


def test_failed_pdf_leaves_nothing(tmp_path, monkeypatch):
    import weasyprint

    def boom(self, *args, **kwargs):
        raise RuntimeError("pdf failed")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", boom)
    with pytest.raises(RuntimeError, match="pdf failed"):
        write_report(render_html("R", []), tmp_path)
    assert list(tmp_path.iterdir()) == []
    # An earlier report is left as it was.
    (tmp_path / "report.html").write_text("old")
    (tmp_path / "report.pdf").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        write_report(render_html("R", []), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.pdf"]
    assert (tmp_path / "report.html").read_text() == "old" and (tmp_path / "report.pdf").read_bytes() == b"old"


def test_write_report_needs_folder(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_report("<p>x</p>", tmp_path / "missing")


def test_eeg_page_bipolar_chains():
    raw = _bipolar_raw()
    fig = plot_eeg_page(raw, start=10, duration=10, groups=CHAINS, notch=50)
    traces = _traces(fig)
    assert [ln.get_gid() for ln in traces] == [f"trace:{c}" for chain in CHAINS for c in chain]
    assert len(traces) == 18
    x = traces[0].get_xdata()
    assert x[0] == pytest.approx(10.0) and x[-1] == pytest.approx(20.0, abs=0.01) and len(x) == 2000
    # Channels stacked top to bottom, a wider gap between chains.
    ticks = fig.axes[0].get_yticks()
    steps = np.round(-np.diff(ticks), 3)
    assert set(steps) == {1.0, 1.6} and list(np.flatnonzero(steps == 1.6)) == [3, 7, 9, 13]
    # The 10 Hz sine passes the display filters: about ±50 µV around its row.
    texts = _texts(fig)
    settings = next(t for t in texts if "µV/mm" in t)
    assert "HP 1 Hz" in settings and "LP 70 Hz" in settings and "Notch 50 Hz" in settings
    sensitivity = float(re.search(r"([\d.]+) µV/mm", settings).group(1))
    assert sensitivity in {1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100}
    ax = fig.axes[0]
    mm_per_row = ax.get_position().height * fig.get_size_inches()[1] * 25.4 / np.diff(ax.get_ylim())[0]
    peak_rows = np.percentile(np.abs(traces[0].get_ydata() - ticks[0]), 99.5)
    assert 0.25 < peak_rows < 0.75  # apart from its neighbours
    assert peak_rows * mm_per_row * sensitivity == pytest.approx(50.0, rel=0.08)  # the stated µV/mm holds
    # Annotations in the window are labelled (as plain text, not markup) and the scale bar is there.
    assert "sz <b>onset</b>" in texts and "spike" in texts
    assert any(t.endswith(" µV") for t in texts) and "1 s" in texts
    assert [ln for ln in fig.axes[0].lines if ln.get_gid() == "scalebar"]


def test_eeg_page_window_past_end_and_wall_clock():
    when = dt.datetime(2024, 3, 1, 23, 59, 55, tzinfo=dt.UTC)
    raw = _raw(n_ch=3, meas_date=when)
    fig = plot_eeg_page(raw, start=100, duration=10, scale_uv=100.0, highpass=None, lowpass=None)
    x = _traces(fig)[0].get_xdata()
    assert x[0] == pytest.approx(20.0) and x[-1] <= 30.0
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    # one time convention (dbrain.utils._time): clock time, with the day once the recording crosses midnight
    assert labels[0] == "D2 00:00:15" and labels[-1] == "D2 00:00:25"
    texts = _texts(fig)
    assert any("2024-03-02 00:00:15" in t for t in texts)
    assert any("HP off" in t and "LP off" in t and "Notch off" in t for t in texts)
    # A page longer than the recording shows the whole recording.
    fig = plot_eeg_page(_raw(n_ch=2, seconds=4.0), start=0, duration=10)
    assert fig.axes[0].get_xlim() == pytest.approx((0.0, 4.0))


def test_eeg_page_flat_nan_and_other_channels():
    raw = _raw(n_ch=5)
    raw._data[1] = 0.0  # flat: zero variance
    raw._data[2, 1000:1400] = np.nan  # a gap
    raw._data[3] = np.nan  # nothing recorded
    raw.set_channel_types({"C4": "ecg"}, verbose="error")
    raw._data[4] *= 20  # ECG, far larger than EEG
    fig = plot_eeg_page(raw, start=2, duration=10)
    traces = _traces(fig)
    assert len(traces) == 5
    y = traces[2].get_ydata()
    assert np.isnan(y).sum() == 400 and np.isfinite(y[:600]).all() and np.isnan(y[600:1000]).all()
    texts = _texts(fig)
    assert "flat" in texts and "no data" in texts
    assert any(t.endswith("µV/mm") and t[0].isdigit() for t in texts)  # the ECG's own sensitivity


def test_eeg_page_reads_only_the_page(monkeypatch):
    raw = _raw(n_ch=2, seconds=600.0)
    calls = []
    original = type(raw).get_data

    def spy(self, *args, **kwargs):
        calls.append((kwargs.get("start"), kwargs.get("stop")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(raw), "get_data", spy)
    plot_eeg_page(raw, start=300, duration=10, highpass=1.0)
    assert len(calls) == 1
    start, stop = calls[0]
    assert (stop - start) / 200.0 <= 10 + 2 * 3.0 + 0.01


def test_eeg_page_parameters():
    raw = _raw()
    with pytest.raises(ParameterError, match="duration"):
        plot_eeg_page(raw, start=0, duration=0)
    with pytest.raises(ParameterError, match="highpass"):
        plot_eeg_page(raw, start=0, highpass=40, lowpass=30)
    with pytest.raises(ParameterError, match="start"):
        plot_eeg_page(raw, start=float("nan"))


def test_figure_block_png(page):
    full = Figure(page).data_uri()
    small = Figure(page, colors=64).data_uri()
    assert full.startswith("data:image/png;base64,") and small.startswith("data:image/png;base64,")
    assert base64.b64decode(small.split(",", 1)[1]).startswith(b"\x89PNG")
    assert len(small) < len(full)
    assert Figure(page).is_landscape and not Figure(page, landscape=False).is_landscape
    with pytest.raises(ParameterError):
        Figure("not a figure")


def test_select_page_start():
    # A seizure that fits the page is centred; a longer one starts at 30 % of the page.
    assert select_page_start(_raw(annotations=[(20.0, 4.0, "Seizure onset")]), 10) == pytest.approx(17.0)
    assert select_page_start(_raw(annotations=[(15.0, 12.0, "SZ_start")]), 10) == pytest.approx(12.0)
    # Words that only look like seizures do not count.
    assert select_page_start(_raw(annotations=[(2.0, 1.0, "post-ictal"), (3.0, 1.0, "size")]), 10) == pytest.approx(10.0)
    # Otherwise the middle, moved out of acquisition gaps, and never past the data.
    assert select_page_start(_raw(), 10) == pytest.approx(10.0)
    assert select_page_start(_raw(annotations=[(8.0, 10.0, "BAD_ACQ_SKIP")]), 10) == pytest.approx(18.0)
    gaps = [(5.0, 3.0, "BAD_ACQ_SKIP"), (12.0, 2.0, "BAD_ACQ_SKIP"), (24.0, 6.0, "BAD_ACQ_SKIP")]
    assert select_page_start(_raw(annotations=gaps), 10) == pytest.approx(14.0)
    assert select_page_start(_raw(seconds=4.0), 10) == 0.0
    assert select_page_start(_raw(annotations=[(27.0, 2.0, "seizure")]), 10) == pytest.approx(20.0)
