"""Figures drawn in a process of their own (``FigureDrawer``) give the PNG bytes drawn in place."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from dbrain.report import Figure, Paragraph, Section
from dbrain.report._drawer import ENV, FigureDrawer, start_drawer, wanted


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
        assert drawer._status == {0: "ok", 1: "ok"}  # drawn by the worker, not in place
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


def test_closed_drawer_draws_in_place_and_keeps_what_it_drew():
    here = [f.data_uri() for f in _figures()]
    blocks = _figures()
    drawer = FigureDrawer()
    drawer.submit(blocks[:1])
    drawer.close()  # waits for the figure handed over and keeps its PNG
    drawer.submit(blocks[1:])  # a stopped drawer refuses new work: drawn in this process
    assert drawer.n_submitted == 1 and blocks[1].figure is None
    assert [b.data_uri() for b in blocks] == here


def test_worker_killed_figures_are_drawn_here():
    here = [f.data_uri() for f in _figures()]
    blocks = _figures()
    drawer = FigureDrawer()
    drawer._proc.kill()
    drawer._proc.wait()
    drawer.submit(blocks[:1])  # refused: drawn here at once
    assert drawer.n_submitted == 0
    drawer.close()
    drawer = FigureDrawer()
    drawer.submit(blocks[1:])
    drawer._proc.kill()  # handed over, then the worker dies: drawn here from the pickle when asked for
    assert [b.data_uri() for b in blocks] == here
    drawer.close()


def test_failed_job_gives_its_pickle_back():
    with FigureDrawer() as drawer:
        job = drawer._submit(b"not a pickle")
        with pytest.raises(RuntimeError, match="not drawn"):
            job.result()
        assert job.payload() == b"not a pickle"


def test_callers_unguarded_script_is_not_run_again(tmp_path):
    """A new interpreter, not a multiprocessing child: the caller's main script does not run in it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script, marker = tmp_path / "unguarded.py", tmp_path / "runs.txt"
    lines = [
        "import numpy as np",
        "from matplotlib.figure import Figure as MplFigure",
        "from dbrain.report import Figure",
        "from dbrain.report._drawer import FigureDrawer",
        f"open({str(marker)!r}, 'a').write('run ')",
        "fig = MplFigure(figsize=(3, 2))",
        "fig.subplots().plot(np.arange(10))",
        "block = Figure(fig)",
        "drawer = FigureDrawer()",
        "drawer.submit([block])",
        "assert drawer.n_submitted == 1",
        "assert block.data_uri().startswith('data:image/png;base64,')",
        "drawer.close()",
    ]
    script.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    subprocess.run([sys.executable, str(script)], check=True, env=env, timeout=300)
    assert marker.read_text() == "run "


@pytest.mark.parametrize(
    ("value", "default", "expected"), [("", True, True), ("", False, False), ("0", True, False), ("1", False, True)]
)
def test_wanted(monkeypatch, value, default, expected):
    monkeypatch.setenv(ENV, value)
    assert wanted(default) is expected
    if not expected:
        assert start_drawer(default) is None
