"""Figures drawn in a process of their own (``FigureDrawer``) give the PNG bytes drawn in place."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from dbrain.report import Figure, Paragraph, Section
from dbrain.report._drawer import ENV, FigureDrawer, start_drawer, wanted


def _fail(payload):
    raise RuntimeError("drawing failed")


def _figures():
    rng = np.random.default_rng(1)
    a = MplFigure(figsize=(6, 3), layout="constrained")
    ax = a.subplots(1, 2)
    ax[0].plot(rng.normal(size=800).cumsum(), lw=0.6)
    ax[0].set_title("walk")
    ax[1].pcolormesh(rng.random((40, 60)), cmap="jet", rasterized=True)
    b = MplFigure(figsize=(7, 4))
    b.subplots().plot(rng.normal(size=(300, 5)), lw=0.5)
    return [Figure(a, caption="a"), Figure(b, caption="b", colors=64, dpi=150)]


def test_drawn_apart_equals_drawn_in_place():
    here = [f.data_uri() for f in _figures()]
    sizes = [f.size_in for f in _figures()]
    blocks = _figures()
    with FigureDrawer() as drawer:
        drawer.submit([Section("S", "s", [Paragraph("x"), blocks[0]]), blocks[1]])
        assert drawer.n_submitted == 2
        assert all(b.figure is None for b in blocks)  # let go of in this process
        assert [b.size_in for b in blocks] == sizes
        assert [b.data_uri() for b in blocks] == here
    drawer.submit(blocks)  # already drawn: nothing handed over
    assert drawer.n_submitted == 2


def test_unpicklable_figure_is_drawn_in_place():
    fig = _figures()[0]
    here = fig.data_uri()
    block = _figures()[0]
    block.figure.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # a lambda: not picklable
    expected = _figures()[0]
    expected.figure.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    expected = expected.data_uri()
    with FigureDrawer() as drawer:
        drawer.submit([block])
        assert drawer.n_submitted == 0 and block.figure is None
        assert block.data_uri() == expected
    assert here.startswith("data:image/png;base64,")


def test_worker_gone_figure_is_drawn_here():
    here = [f.data_uri() for f in _figures()]
    blocks = _figures()
    drawer = FigureDrawer()
    drawer.close()  # stopped: the pool refuses new work, the blocks are drawn in this process
    drawer.submit(blocks)
    assert drawer.n_submitted == 0
    assert [b.data_uri() for b in blocks] == here


def test_failed_drawing_is_redone_here():
    here = [f.data_uri() for f in _figures()]
    blocks = _figures()
    with FigureDrawer() as drawer:
        for b in blocks:  # a drawing function that fails in the worker
            assert b._draw_elsewhere(drawer._pool.submit, _fail)
        assert [b.data_uri() for b in blocks] == here


def test_worker_killed_figure_is_drawn_here():
    here = [f.data_uri() for f in _figures()]
    blocks = _figures()
    drawer = FigureDrawer()
    for proc in list(drawer._pool._processes.values()):
        proc.kill()
    drawer.submit(blocks)
    assert [b.data_uri() for b in blocks] == here
    drawer._pool.shutdown(wait=False, cancel_futures=True)


@pytest.mark.parametrize(
    ("value", "default", "expected"), [("", True, True), ("", False, False), ("0", True, False), ("1", False, True)]
)
def test_wanted(monkeypatch, value, default, expected):
    monkeypatch.setenv(ENV, value)
    assert wanted(default) is expected
    if not expected:
        assert start_drawer(default) is None
