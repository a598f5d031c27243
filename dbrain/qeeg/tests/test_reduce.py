"""compute_qeeg reduced chunk by chunk (TrendReducer) keeps what the whole result gives: tables, blocks, trend figures."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest

from dbrain.qeeg import compute_qeeg, plot_trends
from dbrain.qeeg._reduce import TrendReducer
from dbrain.simulate import simulate_eeg


@pytest.fixture(scope="module")
def recording():
    raw, _ = simulate_eeg(9.5 * 60.0, seizures=1, artifacts=True, seed=3, verbose="error")
    return raw


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    matplotlib.pyplot.close("all")
    return buf.getvalue()


@pytest.mark.parametrize("chunk_duration", [47.0, 150.0])
def test_reduced_equals_whole(recording, chunk_duration):
    full = compute_qeeg(recording, n_jobs=2, chunk_duration=chunk_duration, verbose="error")
    blocks = []
    # pages of 4 min (3 pages, the last one short) and at most 50 columns: several epochs per column
    reducer = TrendReducer(on_block=blocks.append, page_seconds=240.0, max_columns=50)
    light = compute_qeeg(recording, n_jobs=2, chunk_duration=chunk_duration, verbose="error", _sink=reducer)
    reducer.finish(light)

    # nothing per epoch kept in the result but the times and suppression; the rest is equal
    assert light.spectrogram.shape[0] == light.measures.shape[0] == light.region_spectrogram.shape[0] == 0
    np.testing.assert_array_equal(light.suppression, full.suppression)
    np.testing.assert_array_equal(reducer.artifact, full.artifact)
    np.testing.assert_array_equal(reducer.artifact_type, full.artifact_type)
    pd.testing.assert_frame_equal(light.burst_suppression, full.burst_suppression)
    pd.testing.assert_frame_equal(light.aeeg, full.aeeg, check_exact=True)
    pd.testing.assert_frame_equal(light.aperiodic, full.aperiodic, check_exact=True)

    # the per-minute table equals the whole result's, bit for bit
    pd.testing.assert_frame_equal(reducer.table(light), full.to_frame(), check_exact=True)

    # blocks: whole minutes, in order, covering every epoch once, with the whole result's values
    starts = np.concatenate([b.times for b in blocks])
    np.testing.assert_array_equal(starts, full.times)
    for b in blocks:
        i0 = int(np.searchsorted(full.times, b.times[0]))
        np.testing.assert_array_equal(b.region_spectrogram, full.region_spectrogram[i0 : i0 + b.times.size])
        np.testing.assert_array_equal(b.measures, full.measures[i0 : i0 + b.times.size])
    assert all(np.floor(b.times[-1] / 60.0) < np.floor(n.times[0] / 60.0) for b, n in zip(blocks[:-1], blocks[1:], strict=True))

    # the decimated pages draw the very figure the whole result draws on those pages
    hr = 60 + 5 * np.sin(full.times / 50.0)
    pages = reducer.pages(light, ecg=hr)
    assert [(p.tmin, p.tmax) for p in pages] == [(0.0, 240.0), (240.0, 480.0), (480.0, full.duration)]
    for page in pages:
        assert page.result.times.size <= 50
        kw = dict(tmin=page.tmin, tmax=page.tmax, max_columns=50, title="t")
        whole = _png(plot_trends(full, ecg=hr, artifact=full.artifact, **kw))
        decimated = _png(plot_trends(page.result, ecg=page.ecg, artifact=page.artifact, **kw))
        assert whole == decimated
