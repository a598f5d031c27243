"""A matplotlib figure drawn to a PNG ``data:`` URI: the drawing of :class:`dbrain.report.Figure`.

Kept apart from :mod:`dbrain.report` (which imports MNE) so that the process drawing a report's
figures (:mod:`dbrain.report._drawer`) imports only matplotlib and Pillow.
"""

from __future__ import annotations

import base64
import gc
import io
import pickle
import sys


def png_data_uri(figure, dpi: int, colors: int | None) -> str:
    """``figure`` (a matplotlib figure) as a ``data:image/png;base64,…`` URI at ``dpi``.

    ``colors`` reduces the PNG to that many colours (median cut), or None to keep every colour.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    if colors is None:
        figure.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    from PIL import Image

    # The same pixels as the PNG would hold, drawn straight into memory: no PNG to write and read back.
    figure.savefig(buf, format="rgba", dpi=dpi, facecolor="white")
    width, height = (x * dpi for x in figure.get_size_inches())
    # Agg truncates the size in pixels, computed through a transform (9.2 in at 200 dpi may give 1840 or 1839).
    sizes = [(w, h) for w in {int(width), round(width)} for h in {int(height), round(height)}]
    sizes = [s for s in sizes if 4 * s[0] * s[1] == len(buf.getvalue())]
    if len(sizes) == 1:
        image = Image.frombuffer("RGBA", sizes[0], buf.getvalue(), "raw", "RGBA", 0, 1).convert("RGB")
    else:  # the size is not clear from the buffer's length: go through the PNG
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    # zlib's default level: optimize=True took 0.4 s more per excerpt for 3 % fewer bytes.
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def draw_payload(payload: bytes) -> str:
    """:func:`png_data_uri` of a pickled ``(figure, dpi, colors)`` (in the drawing process)."""
    figure, dpi, colors = pickle.loads(payload)
    try:
        return png_data_uri(figure, dpi, colors)
    finally:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:  # a figure made with pyplot is registered again when unpickled: let it go
            plt.close(figure)
        del figure
        gc.collect()  # a figure holds reference cycles (figure, canvas, axes): freed by the collector only
        _trim()


def _trim() -> None:
    # The figure's drawing memory back to the system between figures (glibc; elsewhere nothing): without
    # it the worker kept the largest figure's working memory (~+200 MB at 24 h) until it stopped.
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


#: What the drawing process writes on its standard output for each figure: ``PREFIX <n> ok|error``.
PREFIX = "dbrain-drawn"


def serve(folder: str) -> None:
    """The drawing process (:class:`dbrain.report._drawer.FigureDrawer`): draw ``<n>.pkl`` for each ``n`` read.

    Each line of standard input names a job ``n``; its pickled ``(figure, dpi, colors)`` is in
    ``folder/<n>.pkl``. The PNG URI is written to ``folder/<n>.png`` (complete when it appears), the
    pickle removed, and ``PREFIX n ok`` (or ``error``) printed. Payloads and PNGs go through files so
    that neither side ever waits on a full pipe. Ends when standard input closes.
    """
    import os

    import matplotlib.backends.backend_agg  # noqa: F401 - imported now, not with the first figure
    import PIL.Image  # noqa: F401

    for line in sys.stdin:
        n = line.strip()
        if not n.isdigit():
            continue
        src = os.path.join(folder, f"{n}.pkl")
        try:
            with open(src, "rb") as f:
                uri = draw_payload(f.read())
            tmp = os.path.join(folder, f"{n}.part")
            with open(tmp, "w", encoding="ascii") as f:
                f.write(uri)
            os.replace(tmp, os.path.join(folder, f"{n}.png"))
            os.remove(src)
            status = "ok"
        except Exception:  # noqa: BLE001 - the parent draws this one itself, from the pickle left in place
            status = "error"
        print(PREFIX, n, status, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1])
