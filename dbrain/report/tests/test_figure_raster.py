"""Figures drawn early (``rasterize``) and the quantised path give the pixels the PNG path gives."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from matplotlib.figure import Figure as MplFigure
from PIL import Image

from dbrain.report import Figure


def _figure(size):
    fig = MplFigure(figsize=size)
    fig.subplots().plot(np.random.default_rng(0).normal(size=500).cumsum(), lw=0.6)
    return fig


def _pixels(uri: str) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


@pytest.mark.parametrize("size", [(10.4, 6.1), (7.15, 9.2), (3.333, 2.71)])
def test_quantised_figure_has_the_png_path_pixels(size):
    fig = _figure(size)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200, facecolor="white", metadata={"Software": None})
    expected = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    got = _pixels(Figure(fig, colors=64).data_uri())
    assert got.shape[:2] == (expected.height, expected.width)
    np.testing.assert_array_equal(got, np.array(expected.convert("RGB")))


def test_rasterize_keeps_the_png_and_size_and_drops_the_figure():
    block = Figure(_figure((12.0, 4.0)), caption="c")
    uri, size, landscape, width = block.data_uri(), block.size_in, block.is_landscape, block.print_width_in
    assert block.rasterize() is block and block.figure is None
    assert block.data_uri() == uri and block.size_in == size
    assert block.is_landscape == landscape and block.print_width_in == width
    block.rasterize()  # twice is harmless
    assert block.data_uri() == uri
