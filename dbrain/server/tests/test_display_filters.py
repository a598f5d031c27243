"""The report's EEG page and the viewer's window show the same filtered data (one display filter, #20)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dbrain
from dbrain.io import read_recording
from dbrain.montages import apply_montage, get_montage
from dbrain.report import plot_eeg_page
from dbrain.server.window import read_window

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"
SCALE_UV = 100.0


@pytest.mark.parametrize(
    ("start", "settings"),
    [
        (20.0, {"highpass": 1.0, "lowpass": 70.0, "notch": 50.0}),
        (0.0, {"highpass": 0.5, "lowpass": 30.0, "notch": None}),  # at the recording's start: no data to pad with
        (40.0, {"highpass": None, "lowpass": 15.0, "notch": 60.0}),  # the last page
    ],
)
def test_report_page_equals_viewer_window(start, settings):
    window = read_window(SAMPLE, start=start, duration=10.0, montage="double-banana", max_points=20000, arrays=True, **settings)
    assert window["decimation"] == "none" and window["filters"] == settings
    raw, _info = read_recording(SAMPLE)
    derived, _ = apply_montage(raw, get_montage(raw, "double-banana"))
    fig = plot_eeg_page(derived, start=start, duration=10.0, scale_uv=SCALE_UV, clip=None, **settings)
    ax = fig.axes[0]
    rows = dict(zip([t.get_text() for t in ax.get_yticklabels()], ax.get_yticks(), strict=True))
    traces = {ln.get_gid().removeprefix("trace:"): ln for ln in ax.lines if (ln.get_gid() or "").startswith("trace:")}
    assert set(traces) == set(derived.ch_names) and set(traces) <= set(window["channels"])
    for name, line in traces.items():
        shown = (rows[name] - line.get_ydata()) * SCALE_UV  # the page draws negative up, centred on its row
        viewer = window["data"][window["channels"].index(name)]
        np.testing.assert_allclose(line.get_xdata(), window["times"], atol=1e-9)
        # The page is centred on its median; the viewer keeps the offset: compare both centred.
        np.testing.assert_allclose(shown, viewer - np.median(viewer), atol=1e-6, err_msg=name)
